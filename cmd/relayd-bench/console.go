package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// The scale mode's console measurement (the console issue's acceptance:
// with 100,000 queued the Outbox's first page answers in under 300 ms and
// relayd's RSS stays under 150 MB while it is open): log in as the admin on
// relayd's admin listener as a browser does, then time Outbox pages.

// consoleOutboxRepeats is how many times the first page is fetched.
const consoleOutboxRepeats = 5

// consoleReq is one timed console request.
type consoleReq struct {
	Path   string
	Status int
	Ms     float64 // request sent to body read
	Rows   int     // message rows on the page
	RSS    int64   // relayd's RSS right after, KiB
}

// consoleResult is the console measurement of the scale mode.
type consoleResult struct {
	Login    float64 // the login (GET /login, POST /login), ms
	Requests []consoleReq
	MaxRSS   int64  // largest RSS after a request, KiB
	Err      string `json:",omitempty"`
}

// consoleRowMarker is in every message row of the Outbox (its checkbox).
const consoleRowMarker = `type="checkbox" name="id"`

// adminTokenPath is where relayd keeps the admin token without
// [admin] token_file.
func adminTokenPath(stateDir string) string { return filepath.Join(stateDir, "admin.token") }

// consoleOutboxPaths are the requests of the measurement: the first page
// consoleOutboxRepeats times, then one search for a recipient.
func consoleOutboxPaths(rcpt string) []string {
	var p []string
	for range consoleOutboxRepeats {
		p = append(p, "/outbox")
	}
	return append(p, "/outbox?q="+url.QueryEscape(rcpt))
}

// consoleScale logs in to the console on admin (host:port) with the admin
// token from stateDir, requests the Outbox pages one after the other and
// reads pid's RSS after each.
func consoleScale(ctx context.Context, admin, stateDir string, pid int, rcpt string) *consoleResult {
	res := &consoleResult{}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	c, took, err := consoleLogin(ctx, admin, stateDir)
	res.Login = took
	if err != nil {
		res.Err = err.Error()
		return res
	}
	for _, path := range consoleOutboxPaths(rcpt) {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+admin+path, nil)
		if err != nil {
			res.Err = err.Error()
			return res
		}
		t0 := time.Now()
		resp, err := c.Do(req)
		if err != nil {
			res.Err = fmt.Sprintf("GET %s: %v", path, err)
			return res
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		r := consoleReq{Path: path, Status: resp.StatusCode, Ms: msSince(t0), Rows: strings.Count(string(body), consoleRowMarker)}
		if m, merr := readMem(pid); merr == nil {
			r.RSS = m.RSS
			res.MaxRSS = max(res.MaxRSS, m.RSS)
		}
		res.Requests = append(res.Requests, r)
		if err != nil {
			res.Err = fmt.Sprintf("GET %s: reading the page: %v", path, err)
			return res
		}
		logf("scale: console GET %s: %d, %d rows, %.1f ms, relayd RSS %.1f MB", path, r.Status, r.Rows, r.Ms, float64(r.RSS)/1024)
	}
	return res
}

func msSince(t time.Time) float64 { return float64(time.Since(t).Microseconds()) / 1000 }

// consoleLogin logs in as the admin (empty username, the admin token) as a
// browser does: GET /login for the form's double-submit cookie, POST the
// form with it, Origin the console's own. The client keeps the session
// cookie and does not follow redirects. It returns how long the login took.
func consoleLogin(ctx context.Context, admin, stateDir string) (*http.Client, float64, error) {
	tok, err := os.ReadFile(adminTokenPath(stateDir))
	if err != nil {
		return nil, 0, fmt.Errorf("reading the admin token: %w", err)
	}
	jar, err := cookiejar.New(nil)
	if err != nil {
		return nil, 0, err
	}
	c := &http.Client{Jar: jar, Timeout: time.Minute,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	base := "http://" + admin // Host is the admin listen address (the DNS-rebinding rule)
	t0 := time.Now()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/login", nil)
	if err != nil {
		return nil, 0, err
	}
	resp, err := c.Do(req)
	if err != nil {
		return nil, 0, fmt.Errorf("GET /login: %w", err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	u, _ := url.Parse(base + "/login")
	csrf := ""
	for _, ck := range jar.Cookies(u) {
		if ck.Name == "relayd_login" {
			csrf = ck.Value
		}
	}
	if resp.StatusCode != http.StatusOK || csrf == "" {
		return nil, 0, fmt.Errorf("GET /login on %s: %s without the login form's cookie (is [admin] console on?)", admin, resp.Status)
	}
	form := url.Values{"csrf": {csrf}, "username": {""}, "password": {strings.TrimSpace(string(tok))}}
	req, err = http.NewRequestWithContext(ctx, http.MethodPost, base+"/login", strings.NewReader(form.Encode()))
	if err != nil {
		return nil, 0, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", base)
	resp, err = c.Do(req)
	if err != nil {
		return nil, 0, fmt.Errorf("POST /login: %w", err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	took := msSince(t0)
	if resp.StatusCode != http.StatusSeeOther {
		return nil, took, fmt.Errorf("console login on %s with the token of %s: %s, want 303 to the Overview",
			admin, adminTokenPath(stateDir), resp.Status)
	}
	return c, took, nil
}

// firstPageMs are the times of the first-page requests.
func (r *consoleResult) firstPageMs() []float64 {
	var v []float64
	for _, q := range r.Requests {
		if q.Path == "/outbox" {
			v = append(v, q.Ms)
		}
	}
	return v
}
