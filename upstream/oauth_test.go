package upstream

import (
	"context"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// testClock is an injectable clock that the test moves forward.
type testClock struct{ offset atomic.Int64 }

func (c *testClock) now() time.Time          { return time.Now().Add(time.Duration(c.offset.Load())) }
func (c *testClock) advance(d time.Duration) { c.offset.Add(int64(d)) }

// oauthSetup is a token endpoint, an SMTP server that takes the tokens it
// issued, a refresh token file and a pool with an injected clock.
type oauthSetup struct {
	ep    *tokenEndpoint
	s     *testServer
	p     *Pool
	logs  *lockedBuffer
	clock *testClock
	file  string
	prof  *Target
}

func newOAuthSetup(t *testing.T, mechs ...string) *oauthSetup {
	t.Helper()
	o := &oauthSetup{ep: newTokenEndpoint(t, "refresh-token-1-zz"), clock: &testClock{}}
	o.s = newTestServer(t, serverConfig{mechs: mechs, insecureAuth: true})
	o.s.set(func(s *testServer) {
		s.bearer = func(user, token string) bool { return user == testUser && o.valid(token) }
	})
	o.p, o.logs = newTestPool(t, Options{Now: o.clock.now, IdleTimeout: -1})
	o.file = filepath.Join(t.TempDir(), "o365.refresh")
	if err := os.WriteFile(o.file, []byte("refresh-token-1-zz\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	o.prof = o.s.profile("o365")
	o.prof.Username = testUser
	o.prof.OAuth2 = &OAuth2{TokenURL: o.ep.url(), ClientID: testClientID, ClientSecret: testClientSecret,
		RefreshTokenFile: o.file, Scopes: []string{testScope}}
	return o
}

// valid: the SMTP server takes every access token the endpoint issued.
func (o *oauthSetup) valid(token string) bool {
	return strings.HasPrefix(token, "access-token-") && slicesContains(o.ep.secrets(), token)
}

func slicesContains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// checkNoSecrets: no client secret, refresh token or access token in the
// error, the logs or (except access tokens, which XOAUTH2 sends in base64)
// what the SMTP server received.
func (o *oauthSetup) checkNoSecrets(t *testing.T, e *Error) {
	t.Helper()
	where := map[string]string{"logs": o.logs.String(), "transcript": o.s.transcript()}
	if e != nil {
		where["error"] = e.Error() + " " + e.Text + " " + errors.Unwrap(e).Error()
	}
	for name, text := range where {
		for _, secret := range o.ep.secrets() {
			forms := []string{secret, base64.StdEncoding.EncodeToString([]byte(secret))}
			if name == "transcript" && strings.HasPrefix(secret, "access-token-") {
				forms = forms[:1]
			}
			for _, f := range forms {
				if strings.Contains(text, f) {
					t.Errorf("secret %q appears in the %s", f, name)
				}
			}
		}
	}
}

func TestOAuth2RefreshBeforeExpiry(t *testing.T) {
	o := newOAuthSetup(t, "XOAUTH2", "OAUTHBEARER", "PLAIN")
	mustSend(t, o.p, o.prof, testEnv("bob@example.org"))
	mustSend(t, o.p, o.prof, testEnv("bob@example.org"))
	if n := o.ep.count(); n != 1 {
		t.Fatalf("%d token requests for two connections, want 1 (cached)", n)
	}
	if tx := o.s.transactions(); len(tx) != 2 || tx[0].User != testUser {
		t.Fatalf("transactions %+v", tx)
	}
	if !strings.Contains(o.s.transcript(), "AUTH XOAUTH2 ") {
		t.Error("XOAUTH2 not preferred")
	}
	form := o.ep.forms[0]
	if form.Get("grant_type") != "refresh_token" || form.Get("refresh_token") != "refresh-token-1-zz" {
		t.Errorf("token request %v", form)
	}
	o.clock.advance(3600*time.Second - 30*time.Second) // within the refresh margin
	mustSend(t, o.p, o.prof, testEnv("bob@example.org"))
	if n := o.ep.count(); n != 2 {
		t.Errorf("%d token requests after the token neared its expiry, want 2", n)
	}
	o.checkNoSecrets(t, nil)
}

func TestOAuth2Rotation(t *testing.T) {
	o := newOAuthSetup(t, "XOAUTH2")
	o.ep.set(func(e *tokenEndpoint) { e.rotate = true })
	for i, want := range []string{"refresh-token-2-zz\n", "refresh-token-4-zz\n"} {
		mustSend(t, o.p, o.prof, testEnv("bob@example.org"))
		data, err := os.ReadFile(o.file)
		if err != nil || string(data) != want {
			t.Fatalf("round %d: file holds %q (%v), want %q", i, data, err, want)
		}
		if fi, _ := os.Stat(o.file); fi.Mode().Perm() != 0o600 {
			t.Errorf("file mode %v, want 0600", fi.Mode())
		}
		o.clock.advance(2 * time.Hour)
	}
	if entries, _ := os.ReadDir(filepath.Dir(o.file)); len(entries) != 1 {
		t.Errorf("%d files in the directory, want 1 (no temporary file left)", len(entries))
	}
	if !strings.Contains(o.logs.String(), "rotated") {
		t.Error("rotation not logged")
	}
	o.checkNoSecrets(t, nil)
}

func TestOAuth2Revoked(t *testing.T) {
	o := newOAuthSetup(t, "XOAUTH2")
	o.ep.set(func(e *tokenEndpoint) { e.revoked = true })
	e := sendErr(t, o.p, o.prof, testEnv("bob@example.org"))
	wantStep(t, e, StepAuth, true)
	for _, want := range []string{o.ep.url(), "invalid_grant", "sign in again", o.file, "[redacted]"} {
		if !strings.Contains(e.Error(), want) {
			t.Errorf("diagnosis lacks %q: %s", want, e)
		}
	}
	if !errors.Is(e, ErrOAuth2) || e.Host != o.prof.Host+":"+strconv.Itoa(o.s.port) {
		t.Errorf("errors.Is ErrOAuth2 %v, host %q", errors.Is(e, ErrOAuth2), e.Host)
	}
	if o.s.auths() != 0 {
		t.Errorf("%d AUTH attempts without a token", o.s.auths())
	}
	o.checkNoSecrets(t, e)
}

// TestOAuth2TokenRejected: the upstream refuses a token it considers
// expired (334 + JSON error, then 535): relayd refreshes it and tries AUTH
// once more on a new connection.
func TestOAuth2TokenRejected(t *testing.T) {
	for _, mech := range []string{"XOAUTH2", "OAUTHBEARER"} {
		t.Run(mech, func(t *testing.T) {
			o := newOAuthSetup(t, "XOAUTH2", "OAUTHBEARER")
			o.prof.AuthMechanisms = []string{strings.ToLower(mech), "PLAIN"}
			o.s.set(func(s *testServer) {
				s.bearer = func(user, token string) bool { return token != "access-token-2-qq" } // the first one issued
			})
			mustSend(t, o.p, o.prof, testEnv("bob@example.org"))
			if o.ep.count() != 2 || o.s.auths() != 2 || len(o.s.connections()) != 2 {
				t.Errorf("%d token requests, %d AUTH, %d connections; want 2 each", o.ep.count(), o.s.auths(),
					len(o.s.connections()))
			}
			if !strings.Contains(o.s.transcript(), "AUTH "+mech+" ") {
				t.Errorf("%s not used", mech)
			}
			// A token refused again is reported, not retried forever.
			o.s.set(func(s *testServer) { s.bearer = nil })
			o.clock.advance(2 * time.Hour)
			e := sendErr(t, o.p, o.prof, testEnv("bob@example.org"))
			wantStep(t, e, StepAuth, true)
			if e.Code != 535 || !errors.Is(e, ErrOAuth2) || !strings.Contains(e.Error(), "OAuth2 access token") {
				t.Errorf("error %v", e)
			}
			if o.ep.count() != 4 {
				t.Errorf("%d token requests, want 4", o.ep.count())
			}
			o.checkNoSecrets(t, e)
		})
	}
}

func TestOAuth2ClientCredentials(t *testing.T) {
	o := newOAuthSetup(t, "XOAUTH2")
	o.prof.OAuth2.RefreshTokenFile, o.prof.OAuth2.Grant = "", GrantClientCredentials
	mustSend(t, o.p, o.prof, testEnv("bob@example.org"))
	if f := o.ep.forms[0]; f.Get("grant_type") != "client_credentials" || f.Get("scope") != testScope {
		t.Errorf("token request %v", f)
	}

	o.prof = o.s.profile("wrong-secret")
	o.prof.Username = testUser
	o.prof.OAuth2 = &OAuth2{TokenURL: o.ep.url(), ClientID: testClientID, ClientSecret: "wrong-" + testClientSecret}
	e := sendErr(t, o.p, o.prof, testEnv("bob@example.org"))
	if !strings.Contains(e.Error(), "invalid_client") || strings.Contains(e.Error(), "wrong-"+testClientSecret) {
		t.Errorf("diagnosis %s", e)
	}
}

func TestOAuth2EndpointDown(t *testing.T) {
	o := newOAuthSetup(t, "XOAUTH2")
	o.ep.srv.Close()
	e := sendErr(t, o.p, o.prof, testEnv("bob@example.org"))
	wantStep(t, e, StepAuth, true)
	if !strings.Contains(e.Error(), "could not get an OAuth2 access token from "+o.ep.url()+" (connection refused)") {
		t.Errorf("diagnosis %s", e)
	}
}

func TestOAuth2NoMechanism(t *testing.T) {
	o := newOAuthSetup(t, "PLAIN", "LOGIN")
	e := sendErr(t, o.p, o.prof, testEnv("bob@example.org"))
	if !strings.Contains(e.Error(), "none of the allowed mechanisms (XOAUTH2 OAUTHBEARER)") || o.ep.count() != 0 {
		t.Errorf("diagnosis %s, %d token requests", e, o.ep.count())
	}
}

// TestOAuth2RootCAs: without an HTTPClient the token endpoint is trusted
// through Target.RootCAs (system roots plus ca_file).
func TestOAuth2RootCAs(t *testing.T) {
	o := newOAuthSetup(t, "XOAUTH2")
	tlsEP := httptest.NewUnstartedServer(http.HandlerFunc(o.ep.ServeHTTP))
	tlsEP.Config.ErrorLog = log.New(io.Discard, "", 0)
	tlsEP.StartTLS()
	t.Cleanup(tlsEP.Close)
	o.prof.OAuth2.TokenURL = tlsEP.URL + "/token"
	e := sendErr(t, o.p, o.prof, testEnv("bob@example.org"))
	if !strings.Contains(e.Error(), "certificate") {
		t.Errorf("untrusted endpoint: %s", e)
	}
	roots := x509.NewCertPool()
	roots.AddCert(tlsEP.Certificate())
	prof := *o.prof
	prof.RootCAs = roots
	res := o.p.Send(context.Background(), &prof, testEnv("bob@example.org"))
	if res.Err != nil {
		t.Errorf("with RootCAs: %v", res.Err)
	}
}
