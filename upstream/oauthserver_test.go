package upstream

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// Test OAuth2 credentials.
const (
	testClientID     = "relayd-app"
	testClientSecret = "client-s3cret-Xq9"
	testScope        = "https://outlook.office365.com/.default"
)

// tokenEndpoint is an OAuth2 token endpoint (RFC 6749 §5) on loopback:
// it counts requests, issues access tokens with expires_in, may rotate the
// refresh token on every use and may have it revoked.
type tokenEndpoint struct {
	t   *testing.T
	srv *httptest.Server

	mu        sync.Mutex
	calls     int
	refresh   string // the refresh token it accepts
	rotate    bool   // issue a new refresh token on every refresh
	revoked   bool   // every refresh token: invalid_grant
	expiresIn int
	issued    []string // every token issued: access and refresh
	forms     []url.Values
}

func newTokenEndpoint(t *testing.T, refresh string) *tokenEndpoint {
	e := &tokenEndpoint{t: t, refresh: refresh, expiresIn: 3600, issued: []string{refresh}}
	e.srv = httptest.NewServer(e)
	t.Cleanup(e.srv.Close)
	return e
}

func (e *tokenEndpoint) url() string { return e.srv.URL + "/tenant/oauth2/v2.0/token" }

func (e *tokenEndpoint) set(f func(e *tokenEndpoint)) {
	e.mu.Lock()
	defer e.mu.Unlock()
	f(e)
}

func (e *tokenEndpoint) count() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.calls
}

// secrets are every secret the endpoint knows: the client secret and all
// tokens issued so far.
func (e *tokenEndpoint) secrets() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]string{testClientSecret}, e.issued...)
}

func (e *tokenEndpoint) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	r.ParseForm()
	e.mu.Lock()
	defer e.mu.Unlock()
	e.calls++
	e.forms = append(e.forms, r.PostForm)
	fail := func(status int, code, desc string) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		json.NewEncoder(w).Encode(map[string]string{"error": code, "error_description": desc})
	}
	f := r.PostForm
	if r.Method != http.MethodPost || f.Get("client_id") != testClientID || f.Get("client_secret") != testClientSecret {
		fail(http.StatusUnauthorized, "invalid_client", "AADSTS7000215: Invalid client secret provided.")
		return
	}
	resp := map[string]any{"token_type": "Bearer", "expires_in": e.expiresIn}
	switch f.Get("grant_type") {
	case "refresh_token":
		if rt := f.Get("refresh_token"); e.revoked || rt != e.refresh {
			// Providers may echo what they got: relayd must redact it.
			fail(http.StatusBadRequest, "invalid_grant", "AADSTS70008: The refresh token "+rt+" has expired or was revoked.")
			return
		}
		if e.rotate {
			e.refresh = fmt.Sprintf("refresh-token-%d-zz", len(e.issued)+1)
			e.issued = append(e.issued, e.refresh)
			resp["refresh_token"] = e.refresh
		}
	case "client_credentials":
		if f.Get("scope") != testScope {
			fail(http.StatusBadRequest, "invalid_scope", "AADSTS70011: bad scope")
			return
		}
	default:
		fail(http.StatusBadRequest, "unsupported_grant_type", "")
		return
	}
	tok := fmt.Sprintf("access-token-%d-qq", len(e.issued)+1)
	e.issued = append(e.issued, tok)
	resp["access_token"] = tok
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(resp)
}

// bearerServer is the server side of XOAUTH2 and OAUTHBEARER for the test
// SMTP server, checking tokens with testServer.bearer. A bad token gets a
// JSON error challenge, then, after the client's dummy response, 535.
type bearerServer struct {
	mech   string
	ss     *testSession
	inner  sasl.Server // OAUTHBEARER: go-sasl's
	failed bool
}

func newBearerServer(mech string, ss *testSession) *bearerServer {
	b := &bearerServer{mech: mech, ss: ss}
	if mech == "OAUTHBEARER" {
		b.inner = sasl.NewOAuthBearerServer(func(o sasl.OAuthBearerOptions) *sasl.OAuthBearerError {
			if !b.check(o.Username, o.Token) {
				return &sasl.OAuthBearerError{Status: "invalid_token", Schemes: "bearer", Scope: testScope}
			}
			return nil
		})
	}
	return b
}

var errBearer = &smtp.SMTPError{Code: 535, EnhancedCode: smtp.EnhancedCode{5, 7, 8},
	Message: "Username and Password not accepted"}

func (b *bearerServer) check(user, token string) bool {
	b.ss.s.mu.Lock()
	ok := b.ss.s.bearer != nil && b.ss.s.bearer(user, token)
	b.ss.s.mu.Unlock()
	if ok {
		b.ss.user = user
	}
	return ok
}

func (b *bearerServer) Next(resp []byte) ([]byte, bool, error) {
	if b.inner != nil {
		challenge, done, err := b.inner.Next(resp)
		if err != nil {
			err = errBearer
		}
		return challenge, done, err
	}
	switch {
	case b.failed:
		return nil, true, errBearer
	case resp == nil:
		return []byte{}, false, nil
	}
	// "user=" USER ^A "auth=Bearer " TOKEN ^A ^A
	parts := strings.Split(string(resp), "\x01")
	user, token := strings.TrimPrefix(parts[0], "user="), ""
	if len(parts) > 1 {
		token = strings.TrimPrefix(parts[1], "auth=Bearer ")
	}
	if b.check(user, token) {
		return nil, true, nil
	}
	b.failed = true
	return []byte(`{"status":"401","schemes":"bearer","scope":"https://mail.google.com/"}`), false, nil
}

// lastForm is the latest token request's form.
func (e *tokenEndpoint) lastForm() url.Values {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.forms[len(e.forms)-1]
}
