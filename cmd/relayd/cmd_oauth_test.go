package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/relayd/relayd/cmd/relayd/config/configtest"
)

// Secrets of the login tests: none may be printed.
const (
	loginClientSecret = "client-s3cret-login-Xq9"
	deviceRefresh     = "refresh-from-device-zz"
	browserRefresh    = "refresh-from-browser-zz"
	loginAccess       = "access-token-login-qq"
)

// authServer is a provider on loopback over HTTPS (its certificate is the
// profile's ca_file): device authorization, authorization and token
// endpoints, checking what RFC 8628 and RFC 7636 require.
type authServer struct {
	t   *testing.T
	srv *httptest.Server
	ca  string // PEM file of the server's certificate

	mu        sync.Mutex
	pending   int    // authorization_pending answers left for the device code
	polls     int    // device code token requests
	refreshes int    // refresh_token grant requests
	badState  bool   // the authorization endpoint returns a forged state
	challenge string // code_challenge of the authorization request
	redirect  string // its redirect_uri
	authQuery url.Values
	problems  []string
}

func newAuthServer(t *testing.T) *authServer {
	a := &authServer{t: t, pending: 2}
	a.srv = httptest.NewUnstartedServer(a)
	a.srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	a.srv.StartTLS()
	t.Cleanup(a.srv.Close)
	a.ca = filepath.Join(t.TempDir(), "ca.pem")
	pemBytes := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: a.srv.Certificate().Raw})
	if err := os.WriteFile(a.ca, pemBytes, 0o644); err != nil {
		t.Fatal(err)
	}
	return a
}

func (a *authServer) problem(format string, args ...any) {
	a.problems = append(a.problems, fmt.Sprintf(format, args...))
}

func (a *authServer) check(t *testing.T) {
	t.Helper()
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, p := range a.problems {
		t.Error("auth server: " + p)
	}
}

func (a *authServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	r.ParseForm()
	a.mu.Lock()
	defer a.mu.Unlock()
	reply := func(status int, v any) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		json.NewEncoder(w).Encode(v)
	}
	f := r.PostForm
	switch r.URL.Path {
	case "/organizations/oauth2/v2.0/devicecode":
		if f.Get("client_id") != "relayd-app" || f.Get("scope") != "https://outlook.office.com/SMTP.Send offline_access" {
			a.problem("device authorization request %v", f)
		}
		reply(200, map[string]any{"device_code": "device-code-1", "user_code": "ABCD-EFGH",
			"verification_uri": "https://microsoft.com/devicelogin", "expires_in": 900, "interval": 5})
	case "/organizations/oauth2/v2.0/authorize":
		q := r.URL.Query()
		a.authQuery = q
		if q.Get("response_type") != "code" || q.Get("client_id") != "relayd-app" || q.Get("code_challenge_method") != "S256" ||
			len(q.Get("code_challenge")) != 43 || len(q.Get("state")) < 16 || !strings.Contains(q.Get("scope"), "offline_access") {
			a.problem("authorization request %v", q)
		}
		u, err := url.Parse(q.Get("redirect_uri"))
		if err != nil || u.Scheme != "http" || u.Hostname() != "127.0.0.1" || u.Path != "/callback" || u.Port() == "" {
			a.problem("redirect_uri %q is not http://127.0.0.1:PORT/callback", q.Get("redirect_uri"))
		}
		a.challenge, a.redirect = q.Get("code_challenge"), q.Get("redirect_uri")
		state := q.Get("state")
		if a.badState {
			state = "forged-state"
		}
		http.Redirect(w, r, q.Get("redirect_uri")+"?code=auth-code-1&state="+url.QueryEscape(state), http.StatusFound)
	case "/organizations/oauth2/v2.0/token":
		if f.Get("client_id") != "relayd-app" || f.Get("client_secret") != loginClientSecret {
			reply(401, map[string]string{"error": "invalid_client"})
			return
		}
		switch f.Get("grant_type") {
		case "urn:ietf:params:oauth:grant-type:device_code":
			a.polls++
			if f.Get("device_code") != "device-code-1" {
				a.problem("device code %q", f.Get("device_code"))
			}
			if a.pending > 0 {
				a.pending--
				reply(400, map[string]string{"error": "authorization_pending"})
				return
			}
			reply(200, map[string]any{"access_token": loginAccess, "refresh_token": deviceRefresh, "token_type": "Bearer", "expires_in": 3600})
		case "authorization_code":
			sum := sha256.Sum256([]byte(f.Get("code_verifier")))
			if f.Get("code") != "auth-code-1" || f.Get("redirect_uri") != a.redirect || a.redirect == "" ||
				base64.RawURLEncoding.EncodeToString(sum[:]) != a.challenge {
				a.problem("code exchange %v does not match the authorization request (challenge %q)", f, a.challenge)
				reply(400, map[string]string{"error": "invalid_grant"})
				return
			}
			reply(200, map[string]any{"access_token": loginAccess, "refresh_token": browserRefresh, "token_type": "Bearer", "expires_in": 3600})
		case "refresh_token":
			a.refreshes++
			if f.Get("refresh_token") != deviceRefresh || !strings.Contains(f.Get("scope"), "SMTP.Send") {
				reply(400, map[string]string{"error": "invalid_grant",
					"error_description": "AADSTS70008: refresh token " + f.Get("refresh_token") + " is not valid"})
				return
			}
			reply(200, map[string]any{"access_token": loginAccess, "token_type": "Bearer", "expires_in": 3600})
		default:
			reply(400, map[string]string{"error": "unsupported_grant_type"})
		}
	default:
		http.NotFound(w, r)
	}
}

// loginConfig writes a config with profile o365 (provider microsoft365,
// endpoints on the auth server) and returns its path and the refresh token
// file (not yet there).
func loginConfig(t *testing.T, a *authServer) (cfgPath, refreshFile string) {
	dir := t.TempDir()
	secret := configtest.WriteFile(t, dir, "o365.secret", loginClientSecret+"\n", 0o600)
	refreshFile = filepath.Join(dir, "state", "o365.refresh")
	if err := os.Mkdir(filepath.Dir(refreshFile), 0o700); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0") // a free port where no daemon listens
	if err != nil {
		t.Fatal(err)
	}
	admin := ln.Addr().String()
	ln.Close()
	base := a.srv.URL + "/organizations/oauth2/v2.0/"
	cfg := configtest.Minimal + fmt.Sprintf(`
[admin]
listen = %q

[[profile]]
name = "o365"
username = "system@example.com"
ca_file = %q
  [profile.oauth2]
  provider = "microsoft365"
  client_id = "relayd-app"
  client_secret_file = %q
  refresh_token_file = %q
  token_url = %q
  auth_url = %q
  device_auth_url = %q
`, admin, a.ca, secret, refreshFile, base+"token", base+"authorize", base+"devicecode")
	return configtest.WriteFile(t, dir, "relayd.toml", cfg, 0o600), refreshFile
}

// noSecrets fails when any login secret is in texts.
func noSecrets(t *testing.T, texts ...string) {
	t.Helper()
	for _, text := range texts {
		for _, s := range []string{loginClientSecret, deviceRefresh, browserRefresh, loginAccess} {
			if strings.Contains(text, s) {
				t.Errorf("secret %q printed:\n%s", s, text)
			}
		}
	}
}

func checkRefreshFile(t *testing.T, file, want string) {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil || string(b) != want+"\n" {
		t.Fatalf("%s holds %q (%v), want the refresh token", file, b, err)
	}
	if fi, _ := os.Stat(file); fi.Mode().Perm() != 0o600 {
		t.Errorf("%s has mode %v, want 0600", file, fi.Mode().Perm())
	}
	if entries, _ := os.ReadDir(filepath.Dir(file)); len(entries) != 1 {
		t.Errorf("%d files next to %s, want 1 (no temporary file left)", len(entries), file)
	}
}

// TestOAuthLoginDevice: the device code flow prints the "To sign in" line (docs/operations.md),
// polls at the provider's interval through two authorization_pending
// answers (injected wait: no real sleep) and saves the refresh token.
func TestOAuthLoginDevice(t *testing.T) {
	a := newAuthServer(t)
	cfg, file := loginConfig(t, a)
	var out, errb bytes.Buffer
	var waits []time.Duration
	c := &cli{stdin: strings.NewReader(""), stdout: &out, stderr: &errb, getenv: func(string) string { return "" },
		systemConfig: "/nonexistent/relayd.toml",
		oauthWait: func(ctx context.Context, d time.Duration) error {
			waits = append(waits, d)
			return ctx.Err()
		}}
	code := c.run([]string{"oauth", "login", "o365", "-config", cfg})
	if code != 0 {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, out.String(), errb.String())
	}
	want := "To sign in, open https://microsoft.com/devicelogin and enter the code ABCD-EFGH\n" +
		"refresh token saved to " + file + "\n"
	if out.String() != want {
		t.Errorf("stdout:\n%s\nwant:\n%s", out.String(), want)
	}
	if a.polls != 3 || len(waits) != 3 || waits[0] != 5*time.Second || waits[2] != 5*time.Second {
		t.Errorf("%d polls after waits %v; want 3 after 5s each", a.polls, waits)
	}
	checkRefreshFile(t, file, deviceRefresh)
	a.check(t)
	noSecrets(t, out.String(), errb.String())

	// status without the daemon: the file's view.
	code, sout, serr := runCLI(t, nil, "", "oauth", "status", "-config", cfg)
	if code != 0 || !strings.Contains(sout, "relayd is not running") || !strings.Contains(sout, "o365: refresh token present in "+file) {
		t.Errorf("status: exit %d\n%s%s", code, sout, serr)
	}
	noSecrets(t, sout, serr)
}

// lineWriter hands each line written to it to a channel (the command's
// stdout while the test plays the browser).
type lineWriter struct {
	mu    sync.Mutex
	buf   bytes.Buffer
	all   bytes.Buffer
	lines chan string
}

func (w *lineWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.all.Write(p)
	w.buf.Write(p)
	for {
		line, err := w.buf.ReadString('\n')
		if err != nil {
			w.buf.WriteString(line)
			return len(p), nil
		}
		w.lines <- strings.TrimSuffix(line, "\n")
	}
}

func (w *lineWriter) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.all.String()
}

// runBrowserLogin runs `relayd oauth login o365 -flow browser` and plays
// the browser: it opens the printed URL with an HTTP client that trusts the
// test CA and follows the authorization server's redirect to relayd's
// loopback callback. It returns the exit code and the output.
func runBrowserLogin(t *testing.T, a *authServer, cfg string) (int, string, string, *http.Response) {
	out := &lineWriter{lines: make(chan string, 10)}
	var errb bytes.Buffer
	c := &cli{stdin: strings.NewReader(""), stdout: out, stderr: &errb, getenv: func(string) string { return "" },
		systemConfig: "/nonexistent/relayd.toml"}
	done := make(chan int, 1)
	go func() { done <- c.run([]string{"oauth", "login", "o365", "-flow", "browser", "-config", cfg}) }()
	var resp *http.Response
	select {
	case line := <-out.lines:
		u, ok := strings.CutPrefix(line, "Open this URL in a browser: ")
		if !ok {
			t.Fatalf("first line %q", line)
		}
		if !strings.HasPrefix(u, a.srv.URL+"/organizations/oauth2/v2.0/authorize?") {
			t.Errorf("URL %s is not the auth_url", u)
		}
		var err error
		resp, err = a.srv.Client().Get(u)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	case code := <-done:
		t.Fatalf("exit %d before the URL:\n%s", code, errb.String())
	case <-time.After(10 * time.Second):
		t.Fatal("no URL printed within 10s")
	}
	var code int
	select {
	case code = <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("login did not end within 10s of the callback")
	}
	return code, out.String(), errb.String(), resp
}

// TestOAuthLoginBrowser: the authorization code flow with PKCE (S256) and
// a loopback redirect; the token endpoint checks the code_verifier
// against the challenge and the redirect_uri.
func TestOAuthLoginBrowser(t *testing.T) {
	a := newAuthServer(t)
	cfg, file := loginConfig(t, a)
	code, out, errs, resp := runBrowserLogin(t, a, cfg)
	if code != 0 || resp.StatusCode != 200 {
		t.Fatalf("exit %d, callback %d\nstdout:\n%s\nstderr:\n%s", code, resp.StatusCode, out, errs)
	}
	if !strings.HasSuffix(out, "\nrefresh token saved to "+file+"\n") || strings.Count(out, "\n") != 2 {
		t.Errorf("stdout:\n%s", out)
	}
	checkRefreshFile(t, file, browserRefresh)
	a.check(t)
	noSecrets(t, out, errs)
}

// TestOAuthLoginBrowserWrongState: a redirect whose state is not the one
// sent is refused: non-zero exit, and no file.
func TestOAuthLoginBrowserWrongState(t *testing.T) {
	a := newAuthServer(t)
	a.badState = true
	cfg, file := loginConfig(t, a)
	code, out, errs, resp := runBrowserLogin(t, a, cfg)
	if code == 0 || resp.StatusCode != http.StatusBadRequest || !strings.Contains(errs, "state does not match") {
		t.Errorf("exit %d, callback %d\nstdout:\n%s\nstderr:\n%s", code, resp.StatusCode, out, errs)
	}
	if _, err := os.Stat(file); !os.IsNotExist(err) {
		t.Errorf("%s exists after a forged state (%v)", file, err)
	}
	if entries, _ := os.ReadDir(filepath.Dir(file)); len(entries) != 0 {
		t.Errorf("files left: %v", entries)
	}
	noSecrets(t, out, errs)
}

// TestOAuthUsage: bad usage and unknown profiles exit 2 with a sentence.
func TestOAuthUsage(t *testing.T) {
	a := newAuthServer(t)
	cfg, _ := loginConfig(t, a)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"oauth"}, "missing subcommand"},
		{[]string{"oauth", "login"}, "exactly one profile"},
		{[]string{"oauth", "status", "-flow", "device"}, "-flow only goes with login"},
		{[]string{"oauth", "renew"}, `unknown subcommand "renew"`},
		{[]string{"oauth", "login", "o365", "-flow", "qr"}, `-flow "qr"`},
		{[]string{"oauth", "login", "p"}, "profile p has no [profile.oauth2]"},
		{[]string{"oauth", "login", "ghost"}, `no profile is named "ghost"; the profiles with [profile.oauth2] are: o365`},
		{[]string{"oauth", "status", "p"}, `no profile named "p" has [profile.oauth2]`},
	} {
		code, _, errOut := runCLI(t, nil, "", append(tc.args, "-config", cfg)...)
		if code != 2 || !strings.Contains(errOut, tc.want) {
			t.Errorf("%v: exit %d, stderr %q; want 2 and %q", tc.args, code, errOut, tc.want)
		}
	}
}
