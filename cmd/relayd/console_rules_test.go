package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/relayd/relayd/cmd/relayd/config/configtest"
	"github.com/relayd/relayd/spool"
)

// consoleTeams adds two teams with one console user each to the admin
// harness: anna of sales (profile office365) and bob of support (profile
// support-up, which sales may not use).
func consoleTeams(t *testing.T) string {
	t.Helper()
	hash, err := bcrypt.GenerateFromPassword([]byte("anna-pass"), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	hashB, _ := bcrypt.GenerateFromPassword([]byte("bob-pass"), bcrypt.MinCost)
	return fmt.Sprintf(`
[[team]]
name = "sales"
profiles = ["office365"]
  [[team.user]]
  username = "anna"
  password_hash = %q

[[team]]
name = "support"
profiles = ["support-up"]
  [[team.user]]
  username = "bob"
  password_hash = %q

[[profile]]
name = "support-up"
host = "127.0.0.1"
port = 9
tls = "none"
send_delay = "1h"
`, hash, hashB)
}

// consoleClient is a person in a browser: a cookie jar, no redirects
// followed, the Origin a browser sends with a form.
type consoleClient struct {
	t    *testing.T
	h    *adminHarness
	jar  *cookiejar.Jar
	c    *http.Client
	csrf string
}

func newConsoleClient(t *testing.T, h *adminHarness) *consoleClient {
	jar, _ := cookiejar.New(nil)
	return &consoleClient{t: t, h: h, jar: jar, c: &http.Client{Jar: jar, Timeout: 20 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

var csrfRe = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// get fetches path and remembers the page's CSRF token.
func (cc *consoleClient) get(path string) (*http.Response, string) {
	cc.t.Helper()
	resp, err := cc.c.Get("http://" + cc.h.addr + path)
	if err != nil {
		cc.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if m := csrfRe.FindStringSubmatch(string(b)); m != nil {
		cc.csrf = m[1]
	}
	return resp, string(b)
}

// post sends a form as a browser does (same-origin Origin header).
func (cc *consoleClient) post(path string, form url.Values) (*http.Response, string) {
	cc.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "POST", "http://"+cc.h.addr+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", "http://"+cc.h.addr)
	resp, err := cc.c.Do(req)
	if err != nil {
		cc.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

// login logs in (username "" = the admin token) and reports the answer.
func (cc *consoleClient) login(username, password string) *http.Response {
	cc.t.Helper()
	cc.get("/login")
	resp, _ := cc.post("/login", url.Values{"csrf": {cc.csrf}, "username": {username}, "password": {password}})
	return resp
}

func (h *adminHarness) adminToken(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(h.f.Server.StateDir, "admin.token"))
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(b))
}

// commitTeam puts one delayed message of team in the spool for profile.
func (h *adminHarness) commitTeam(t *testing.T, team, profile, subject string) string {
	t.Helper()
	now := time.Now()
	m := &spool.Message{ID: spool.NewID(), Created: now, Sender: "crm@example.com", Listener: "l", Team: team,
		From: "crm@example.com", Subject: subject}
	m.Recipients = []spool.Recipient{{Address: "customer@example.org", Profile: profile, Rule: "team default",
		State: spool.StateDelayed, NextAttempt: now.Add(time.Hour), Updated: now}}
	body := "From: crm@example.com\r\nSubject: " + subject + "\r\n\r\nsecret body text\r\n"
	m.Size = int64(len(body))
	if err := h.store.Commit(m, []byte(body)); err != nil {
		t.Fatal(err)
	}
	return m.ID
}

// TestConsoleLogin: the login page, a wrong token stays on /login (401,
// the form again, no session), the right one gives a session cookie that
// is HttpOnly and SameSite=Strict (not Secure: plain HTTP) and opens the
// Overview; Log out ends it.
func TestConsoleLogin(t *testing.T) {
	h := startAdminHarness(t, "")
	cc := newConsoleClient(t, h)
	resp, _ := cc.get("/")
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/login" {
		t.Fatalf("GET / without a session: %d %q, want 303 to /login", resp.StatusCode, resp.Header.Get("Location"))
	}
	_, body := cc.get("/login")
	for _, want := range []string{`name="username"`, `name="password"`, `>Log in</button>`, "<title>"} {
		if !strings.Contains(body, want) {
			t.Errorf("login page lacks %s", want)
		}
	}
	resp, body = cc.post("/login", url.Values{"csrf": {cc.csrf}, "username": {""}, "password": {"wrong-token"}})
	if resp.StatusCode != http.StatusUnauthorized || !strings.Contains(body, `action="/login"`) || len(resp.Header.Values("Set-Cookie")) == 0 {
		t.Fatalf("wrong token: %d, want 401 and the login form again:\n%s", resp.StatusCode, body)
	}
	for _, ck := range resp.Cookies() {
		if ck.Name == "relayd_session" && ck.Value != "" {
			t.Fatal("a wrong token got a session cookie")
		}
	}
	if r, _ := cc.get("/outbox"); r.StatusCode != http.StatusSeeOther {
		t.Fatalf("after a wrong token GET /outbox: %d, want 303 to /login", r.StatusCode)
	}

	resp = cc.login("", h.adminToken(t))
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/" {
		t.Fatalf("admin login: %d %q, want 303 to /", resp.StatusCode, resp.Header.Get("Location"))
	}
	var sc string
	for _, v := range resp.Header.Values("Set-Cookie") {
		if strings.HasPrefix(v, "relayd_session=") {
			sc = v
		}
	}
	if !strings.Contains(sc, "HttpOnly") || !strings.Contains(sc, "SameSite=Strict") || strings.Contains(sc, "Secure") || !strings.Contains(sc, "Expires=") {
		t.Fatalf("session cookie %q: want HttpOnly, SameSite=Strict, Expires, and no Secure on plain HTTP", sc)
	}
	resp, body = cc.get("/")
	if resp.StatusCode != 200 || !strings.Contains(body, "<title>Overview") || !strings.Contains(body, ">Log out</button>") {
		t.Fatalf("overview: %d\n%s", resp.StatusCode, body)
	}
	if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "script-src 'self'") || strings.Contains(csp, "unsafe-inline") {
		t.Fatalf("Content-Security-Policy %q", csp)
	}
	if !strings.Contains(h.logs.String(), "console login") {
		t.Error("the login is not in the log")
	}
	resp, _ = cc.post("/logout", url.Values{"csrf": {cc.csrf}})
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("logout: %d", resp.StatusCode)
	}
	if r, _ := cc.get("/outbox"); r.StatusCode != http.StatusSeeOther {
		t.Fatalf("after Log out GET /outbox: %d, want 303 to /login", r.StatusCode)
	}
}

// TestConsoleCSRF: a form POST without the session's CSRF token (or with
// another) is 403 and changes nothing; with it the action happens and is
// logged with the user. The login form needs its token too.
func TestConsoleCSRF(t *testing.T) {
	h := startAdminHarness(t, "")
	id := h.commitDelayed(t, "crm@example.com", "invoice", "customer@example.org")
	cc := newConsoleClient(t, h)
	if resp, _ := cc.post("/login", url.Values{"password": {h.adminToken(t)}}); resp.StatusCode != http.StatusForbidden {
		t.Fatalf("login without its token: %d, want 403", resp.StatusCode)
	}
	cc.login("", h.adminToken(t))
	cc.get("/outbox")
	for _, form := range []url.Values{
		{"action": {"hold"}, "id": {id}},
		{"action": {"hold"}, "id": {id}, "csrf": {"forged"}},
	} {
		resp, body := cc.post("/outbox", form)
		if resp.StatusCode != http.StatusForbidden || !strings.Contains(body, "security token") {
			t.Fatalf("POST %v: %d, want 403\n%s", form, resp.StatusCode, body)
		}
		if st := h.state(t, id); st != spool.StateDelayed {
			t.Fatalf("after a refused POST the message is %s, want delayed", st)
		}
	}
	resp, _ := cc.post("/outbox", url.Values{"action": {"hold"}, "id": {id}, "csrf": {cc.csrf}})
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("hold with the token: %d", resp.StatusCode)
	}
	if st := h.state(t, id); st != spool.StateHeld {
		t.Fatalf("after Hold the message is %s, want held", st)
	}
	if _, body := cc.get("/outbox"); !strings.Contains(body, "Held message "+id) {
		t.Error("the Outbox does not say what was done")
	}
	if !strings.Contains(h.logs.String(), "action=hold user=admin") {
		t.Errorf("the action is not logged with its user:\n%s", h.logs.String())
	}
}

// TestConsoleHostOrigin: the admin API's Host and Origin rules (docs/admin-api.md) hold for the
// console's pages and forms, whose refusals are pages a browser shows; the
// API keeps its JSON.
func TestConsoleHostOrigin(t *testing.T) {
	h := startAdminHarness(t, "")
	id := h.commitDelayed(t, "crm@example.com", "invoice", "customer@example.org")
	cc := newConsoleClient(t, h)
	cc.login("", h.adminToken(t))
	cc.get("/outbox")
	u, _ := url.Parse("http://" + h.addr)
	var cookie string
	for _, ck := range cc.jar.Cookies(u) {
		if ck.Name == "relayd_session" {
			cookie = ck.Name + "=" + ck.Value
		}
	}
	form := "csrf=" + url.QueryEscape(cc.csrf) + "&action=hold&id=" + id
	for _, tc := range []struct {
		name, req string
		want      int
	}{
		{"rebinding Host", "GET /login HTTP/1.1\nHost: evil.example:" + fmt.Sprint(h.port) + "\n", 403},
		{"cross-site Origin", "POST /outbox HTTP/1.1\nHost: " + h.addr + "\nCookie: " + cookie +
			"\nOrigin: http://evil.example\nContent-Type: application/x-www-form-urlencoded\n\n" + form, 403},
		{"Sec-Fetch-Site cross-site", "POST /outbox HTTP/1.1\nHost: " + h.addr + "\nCookie: " + cookie +
			"\nSec-Fetch-Site: cross-site\nContent-Type: application/x-www-form-urlencoded\n\n" + form, 403},
		{"text/plain form", "POST /outbox HTTP/1.1\nHost: " + h.addr + "\nCookie: " + cookie +
			"\nContent-Type: text/plain\n\n" + form, 415},
		{"form to the API", "POST /api/v1/queue/" + id + "/hold HTTP/1.1\nHost: " + h.addr +
			"\nContent-Type: application/x-www-form-urlencoded\n\nx=1", 415},
	} {
		got, body := h.rawHTTP(t, tc.req)
		if got != tc.want {
			t.Errorf("%s: %d, want %d\n%s", tc.name, got, tc.want, body)
		}
		// A person reads the console's refusals in a browser; the API's are JSON.
		if api := strings.Contains(tc.req, " /api/"); api != strings.HasPrefix(body, "{") ||
			!api && !strings.HasPrefix(body, "<!doctype html>") {
			t.Errorf("%s: the refusal is %q, want a page for the console and JSON for the API", tc.name, body)
		}
		if st := h.state(t, id); st != spool.StateDelayed {
			t.Fatalf("%s changed the message to %s", tc.name, st)
		}
	}
	if got, _ := h.rawHTTP(t, "POST /outbox HTTP/1.1\nHost: "+h.addr+"\nCookie: "+cookie+
		"\nOrigin: http://"+h.addr+"\nContent-Type: application/x-www-form-urlencoded\n\n"+form); got != http.StatusSeeOther {
		t.Fatalf("the same form from the console's own origin: %d, want 303", got)
	}
}

// TestConsoleTeamIsolation: a team user sees their team's messages and
// profiles only; another team's message is 404 by its URL, an action on
// it changes nothing; retry and pause are the admin's (403); bodies are
// not shown.
func TestConsoleTeamIsolation(t *testing.T) {
	h := startAdminHarness(t, consoleTeams(t))
	mine := h.commitTeam(t, "sales", "office365", "sales quote")
	theirs := h.commitTeam(t, "support", "support-up", "support ticket")
	cc := newConsoleClient(t, h)
	if resp := cc.login("anna", "wrong"); resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("wrong password: %d, want 401", resp.StatusCode)
	}
	if resp := cc.login("anna", "anna-pass"); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("team login: %d", resp.StatusCode)
	}
	resp, body := cc.get("/")
	if resp.StatusCode != 200 || !strings.Contains(body, "<title>Overview") || strings.Contains(body, "<h2>Spool</h2>") {
		t.Fatalf("anna's Overview: %d; want it without the admin's spool card:\n%s", resp.StatusCode, body)
	}
	_, body = cc.get("/outbox")
	if !strings.Contains(body, "sales quote") || strings.Contains(body, "support ticket") {
		t.Fatalf("anna's Outbox must show the sales message and not the support one:\n%s", body)
	}
	if strings.Contains(body, `value="retry"`) {
		t.Error("a team user is offered Retry")
	}
	if resp, _ := cc.get("/outbox/" + theirs); resp.StatusCode != http.StatusNotFound {
		t.Fatalf("another team's message by URL: %d, want 404", resp.StatusCode)
	}
	resp, body = cc.get("/outbox/" + mine)
	if resp.StatusCode != 200 || !strings.Contains(body, "sales quote") || strings.Contains(body, "secret body text") {
		t.Fatalf("own message: %d; want the page without the body:\n%s", resp.StatusCode, body)
	}
	cc.post("/outbox", url.Values{"action": {"delete"}, "id": {theirs}, "csrf": {cc.csrf}})
	if st := h.state(t, theirs); st != spool.StateDelayed {
		t.Fatalf("anna's Delete of a support message made it %s", st)
	}
	if resp, _ := cc.post("/outbox", url.Values{"action": {"retry"}, "id": {mine}, "csrf": {cc.csrf}}); resp.StatusCode != http.StatusForbidden {
		t.Fatalf("team user Retry: %d, want 403", resp.StatusCode)
	}
	if resp, _ := cc.post("/servers/support-up/test", url.Values{"csrf": {cc.csrf}}); resp.StatusCode != http.StatusNotFound {
		t.Fatalf("test of another team's profile: %d, want 404", resp.StatusCode)
	}
	if resp, _ := cc.post("/servers/office365/pause", url.Values{"csrf": {cc.csrf}}); resp.StatusCode != http.StatusForbidden {
		t.Fatalf("team user Pause: %d, want 403", resp.StatusCode)
	}
	_, body = cc.get("/servers")
	if !strings.Contains(body, "office365") || strings.Contains(body, "support-up") {
		t.Fatalf("anna's Servers must list office365 only:\n%s", body)
	}
	cc.post("/outbox", url.Values{"action": {"retract"}, "id": {mine}, "csrf": {cc.csrf}})
	if st := h.state(t, mine); st != spool.StateCancelled {
		t.Fatalf("anna's Retract made her message %s, want cancelled", st)
	}
	if !strings.Contains(h.logs.String(), "action=delete user=anna") {
		t.Error("the retract is not logged with the user")
	}

	admin := newConsoleClient(t, h)
	admin.login("", h.adminToken(t))
	if _, body := admin.get("/outbox/" + theirs); !strings.Contains(body, "secret body text") {
		t.Error("the admin does not see the body")
	}
}

// TestConsoleTLSCookie: with [admin] cert_file and key_file the admin
// listener speaks HTTPS and the console's cookies are Secure.
func TestConsoleTLSCookie(t *testing.T) {
	certFile, keyFile := configtest.WriteCert(t, t.TempDir())
	h := startAdminHarness(t, fmt.Sprintf("cert_file = %s\nkey_file = %s\n", configtest.TOMLPath(certFile), configtest.TOMLPath(keyFile)))
	pemBytes, err := os.ReadFile(certFile)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pemBytes)
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar, Timeout: 20 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	origin := fmt.Sprintf("https://localhost:%d", h.port)
	resp, err := c.Get(origin + "/login")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	m := csrfRe.FindStringSubmatch(string(b))
	if resp.StatusCode != 200 || m == nil {
		t.Fatalf("GET /login over HTTPS: %d", resp.StatusCode)
	}
	form := url.Values{"csrf": {m[1]}, "password": {h.adminToken(t)}}
	req, _ := http.NewRequest("POST", origin+"/login", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", origin)
	resp, err = c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	var sc string
	for _, v := range resp.Header.Values("Set-Cookie") {
		if strings.HasPrefix(v, "relayd_session=") {
			sc = v
		}
	}
	if resp.StatusCode != http.StatusSeeOther || !strings.Contains(sc, "; Secure") || !strings.Contains(sc, "HttpOnly") || !strings.Contains(sc, "SameSite=Strict") {
		t.Fatalf("login over HTTPS: %d, cookie %q: want 303 and a Secure, HttpOnly, SameSite=Strict cookie", resp.StatusCode, sc)
	}
}

// TestConsoleMessageActionsFollowState: the message page offers only the
// actions the message's state allows: a delayed message Retract, Hold,
// Retry and Delete (no Release); once held, Release and Delete; once
// deleted, none, and it says why.
func TestConsoleMessageActionsFollowState(t *testing.T) {
	h := startAdminHarness(t, "")
	id := h.commitDelayed(t, "crm@example.com", "invoice", "customer@example.org")
	cc := newConsoleClient(t, h)
	cc.login("", h.adminToken(t))
	buttons := func() []string {
		_, body := cc.get("/outbox/" + id)
		var got []string
		for _, a := range []string{"retract", "hold", "release", "retry", "delete"} {
			if strings.Contains(body, `name="action" value="`+a+`"`) {
				got = append(got, a)
			}
		}
		if strings.Contains(body, "Nothing left to do") {
			got = append(got, "(nothing left to do)")
		}
		return got
	}
	act := func(action string) {
		if resp, body := cc.post("/outbox", url.Values{"action": {action}, "id": {id}, "csrf": {cc.csrf}}); resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("%s: %d\n%s", action, resp.StatusCode, body)
		}
	}
	for _, step := range []struct {
		do   string // the action taken before looking
		want string
	}{
		{"", "retract hold retry delete"},
		{"hold", "release delete"},
		{"delete", "(nothing left to do)"},
	} {
		if step.do != "" {
			act(step.do)
		}
		if got := strings.Join(buttons(), " "); got != step.want {
			t.Errorf("after %q the message page offers %q, want %q", step.do, got, step.want)
		}
	}
}
