package relay

import (
	"bytes"
	"crypto/x509"
	"encoding/json"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"

	"github.com/relayd/relayd/spool"
	"github.com/relayd/relayd/upstream"
)

// Secrets of the OAuth2 tests: none may appear in a log, an API answer or
// a mail.
const (
	oauthClientSecret = "client-s3cret-relay-Xq9"
	oauthRefreshToken = "refresh-token-revoked-zz"
)

// oauthSinkBackend is a sink that offers AUTH XOAUTH2 (and accepts no
// token: relayd never gets one in these tests).
type oauthSinkBackend struct{ sinkBackend }

type oauthSinkSession struct{ *sinkSession }

func (b oauthSinkBackend) NewSession(c *smtp.Conn) (smtp.Session, error) {
	s, _ := b.sinkBackend.NewSession(c)
	return oauthSinkSession{s.(*sinkSession)}, nil
}

func (oauthSinkSession) AuthMechanisms() []string { return []string{"XOAUTH2"} }
func (oauthSinkSession) Auth(string) (sasl.Server, error) {
	return nil, &smtp.SMTPError{Code: 535, EnhancedCode: smtp.EnhancedCode{5, 7, 8}, Message: "no"}
}

// revokedTokenEndpoint is an HTTPS token endpoint on loopback that answers
// every refresh with invalid_grant, echoing the token (as providers may).
func revokedTokenEndpoint(t *testing.T) (*httptest.Server, *x509.CertPool) {
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.ParseForm()
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusBadRequest)
		json.NewEncoder(w).Encode(map[string]string{"error": "invalid_grant",
			"error_description": "AADSTS70008: The refresh token " + r.PostForm.Get("refresh_token") + " was revoked."})
	}))
	srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	srv.StartTLS()
	t.Cleanup(srv.Close)
	roots := x509.NewCertPool()
	roots.AddCert(srv.Certificate())
	return srv, roots
}

// TestOAuthRefreshFailureDefersAndAlerts: profile b's refresh token is
// revoked. Its mail stays queued (deferred), the profile's last result
// says "oauth: ... run `relayd oauth login b`", the error is counted, and
// the admin gets one alert through profile a (a second loopback sink). No
// secret appears anywhere.
func TestOAuthRefreshFailureDefersAndAlerts(t *testing.T) {
	cfg, sa, _ := twoUpstreams(t)
	sb := newSinkWith(t, func(b sinkBackend) smtp.Backend { return oauthSinkBackend{b} })
	cfg.Profiles["b"] = profileFor("b", sb.addr)
	ep, roots := revokedTokenEndpoint(t)
	file := filepath.Join(t.TempDir(), "b.refresh")
	if err := os.WriteFile(file, []byte(oauthRefreshToken+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	b := cfg.Profiles["b"]
	b.Upstream.Username, b.Upstream.RootCAs = "system@example.com", roots
	b.Upstream.OAuth2 = &upstream.OAuth2{TokenURL: ep.URL + "/organizations/oauth2/v2.0/token", ClientID: "relayd-app",
		ClientSecret: oauthClientSecret, RefreshTokenFile: file, Scopes: []string{"https://outlook.office.com/SMTP.Send"}}
	cfg.Notify.Admin = "it@example.com"
	cfg.Policy.Routes = nil
	r, logs := startRelayLogged(t, cfg, nil)
	if got := counterValue(t, r.reg, "relayd_oauth_refresh_total", "profile", "b"); got != 0 {
		t.Errorf("series before any refresh: %v", got)
	}
	var ids []string
	for i := 0; i < 2; i++ {
		resp, err := sendAs(t, r.addr, "127.0.0.2", nil, "app@example.com", []string{"x@example.org"}, simpleBody)
		if err != nil {
			t.Fatal(err)
		}
		_, id, _ := strings.Cut(resp.StatusText, "Ok: queued as ")
		ids = append(ids, id)
	}
	alert := sa.wait()
	if len(alert.To) != 1 || alert.To[0] != "it@example.com" || !bytes.Contains(alert.Data, []byte("profile b is failing")) ||
		!bytes.Contains(alert.Data, []byte("relayd oauth login b")) {
		t.Fatalf("alert %v:\n%s", alert.To, alert.Data)
	}
	for _, id := range ids {
		m := r.waitState(id, spool.StateDeferred)
		if e := m.Recipients[0].LastError; !strings.Contains(e, "oauth: ") || !strings.Contains(e, "invalid_grant") ||
			!strings.Contains(e, "run `relayd oauth login b`") {
			t.Errorf("%s: last_error %q", id, e)
		}
	}
	sa.none(r) // one alert, not one per message
	sb.none(r)

	api := func(path string) string {
		rec := httptest.NewRecorder()
		r.srv.Handler().ServeHTTP(rec, httptest.NewRequest("GET", path, nil))
		return rec.Body.String()
	}
	var profiles []struct {
		Name       string `json:"name"`
		LastResult string `json:"last_result"`
	}
	profilesJSON := api("/api/v1/profiles")
	json.Unmarshal([]byte(profilesJSON), &profiles)
	for _, p := range profiles {
		if p.Name == "b" && !strings.HasPrefix(p.LastResult, "oauth: ") {
			t.Errorf("profile b last_result %q", p.LastResult)
		}
	}
	oauthJSON := api("/api/v1/oauth")
	var st []OAuthProfile
	if err := json.Unmarshal([]byte(oauthJSON), &st); err != nil || len(st) != 1 || st[0].Profile != "b" ||
		!st[0].RefreshTokenPresent || st[0].AccessToken || st[0].LastRefresh == nil ||
		!strings.Contains(st[0].LastError, "relayd oauth login b") {
		t.Errorf("GET /api/v1/oauth: %v\n%s", err, oauthJSON)
	}
	if got := counterValue(t, r.reg, "relayd_oauth_refresh_total", "result", "error"); got < 2 {
		t.Errorf("relayd_oauth_refresh_total{result=error} = %v, want at least 2", got)
	}
	for where, text := range map[string]string{"logs": logs.String(), "alert": string(alert.Data),
		"profiles API": profilesJSON, "oauth API": oauthJSON, "queue API": api("/api/v1/queue/" + ids[0]),
		"sink transcript": sb.transcript()} {
		for _, secret := range []string{oauthClientSecret, oauthRefreshToken} {
			if strings.Contains(text, secret) {
				t.Errorf("secret %q in the %s", secret, where)
			}
		}
	}
}
