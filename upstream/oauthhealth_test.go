package upstream

import (
	"testing"
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
