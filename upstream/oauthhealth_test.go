package upstream

import (
	"os"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
)

// TestOAuth2RefreshSendsScopes: the refresh grant carries the configured
// scopes (Microsoft issues a token for the scopes asked).
func TestOAuth2RefreshSendsScopes(t *testing.T) {
	o := newOAuthSetup(t, "XOAUTH2")
	mustSend(t, o.p, o.prof, testEnv("bob@example.org"))
	if f := o.ep.lastForm(); f.Get("grant_type") != "refresh_token" || f.Get("scope") != testScope ||
		f.Get("refresh_token") != "refresh-token-1-zz" {
		t.Errorf("refresh request %v, want grant_type refresh_token with scope %q", f, testScope)
	}
}

func oauthCount(p *Pool, profile, result string) float64 {
	return testutil.ToFloat64(p.metrics.oauth.WithLabelValues(profile, result))
}

// TestOAuth2HealthAndNewLogin: a revoked refresh token gives an "oauth:"
// diagnosis naming `relayd oauth login PROFILE`, counts an error and shows
// in OAuthStatus; a new refresh token written to the file (what `relayd
// oauth login` does) is used at the next refresh, by the same Pool.
func TestOAuth2HealthAndNewLogin(t *testing.T) {
	o := newOAuthSetup(t, "XOAUTH2")
	o.p.Precreate(o.prof)
	if st := o.p.OAuthStatus(o.prof); !st.RefreshTokenPresent || st.HasAccessToken || !st.LastRefresh.IsZero() {
		t.Errorf("status before any delivery: %+v", st)
	}
	if oauthCount(o.p, "o365", "ok") != 0 || oauthCount(o.p, "o365", "error") != 0 {
		t.Error("series not at 0")
	}
	o.ep.set(func(e *tokenEndpoint) { e.refresh = "refresh-token-new-zz"; e.issued = append(e.issued, e.refresh) })
	e := sendErr(t, o.p, o.prof, testEnv("bob@example.org"))
	wantStep(t, e, StepAuth, true)
	want := "profile o365: oauth: the OAuth2 token endpoint " + o.ep.url() + " refused the refresh_token grant: invalid_grant"
	if !strings.HasPrefix(e.Error(), want) || !strings.Contains(e.Error(), "run `relayd oauth login o365`") {
		t.Errorf("diagnosis %s", e)
	}
	st := o.p.OAuthStatus(o.prof)
	if st.LastError == "" || !strings.HasPrefix(st.LastError, "oauth: ") || st.LastRefresh.IsZero() || st.HasAccessToken {
		t.Errorf("status after the failure: %+v", st)
	}
	if oauthCount(o.p, "o365", "error") != 1 {
		t.Errorf("error count %v", oauthCount(o.p, "o365", "error"))
	}

	if err := writeFileAtomic(o.file, []byte("refresh-token-new-zz\n")); err != nil {
		t.Fatal(err)
	}
	o.clock.advance(time.Minute)
	mustSend(t, o.p, o.prof, testEnv("bob@example.org"))
	if f := o.ep.lastForm(); f.Get("refresh_token") != "refresh-token-new-zz" {
		t.Errorf("refresh with %q, want the new token", f.Get("refresh_token"))
	}
	st = o.p.OAuthStatus(o.prof)
	if st.LastError != "" || !st.HasAccessToken || !st.AccessTokenExpiry.After(o.clock.now()) {
		t.Errorf("status after the new login: %+v", st)
	}
	if oauthCount(o.p, "o365", "ok") != 1 {
		t.Errorf("ok count %v", oauthCount(o.p, "o365", "ok"))
	}
	for _, text := range []string{st.LastError, e.Error(), o.logs.String()} {
		for _, secret := range o.ep.secrets() {
			if strings.Contains(text, secret) {
				t.Errorf("secret %q leaked: %s", secret, text)
			}
		}
	}
	o.checkNoSecrets(t, e)
	if _, err := os.Stat(o.file); err != nil {
		t.Fatal(err)
	}
}
