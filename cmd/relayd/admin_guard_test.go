package main

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/relayd/relayd/cmd/relayd/config/configtest"
	"github.com/relayd/relayd/spool"
)

// The hostile requests of issue 15, sent verbatim over the wire to the
// admin listener as serve wires it. A page in a browser on the relay host
// (DNS rebinding: evil.example resolves to 127.0.0.1) tried to make relayd
// send a test message through office365, to hold a message, and to read
// the queue.

// hostileTest is the page's "test the profile and send" request.
const hostileTest = `POST /api/v1/profiles/office365/test HTTP/1.1
Host: evil.example:%d
Origin: http://evil.example:%d
Content-Type: text/plain

{"from": "ceo@example.com", "to": ["victim1@example.org", "victim2@example.org"], "send": true}`

func TestAdminRefusesHostileProfileTest(t *testing.T) {
	h := startAdminHarness(t, "")
	for _, tc := range []struct {
		name, req string
		status    int
	}{
		{"as the page sent it", fmt.Sprintf(hostileTest, h.port, h.port), 403},
		{"foreign Host, JSON", strings.Replace(fmt.Sprintf(hostileTest, h.port, h.port), "text/plain", "application/json", 1), 403},
		{"loopback Host, text/plain", strings.Replace(fmt.Sprintf(hostileTest, h.port, h.port), "Host: evil.example", "Host: 127.0.0.1", 1), 415},
		{"loopback Host, JSON, foreign Origin", strings.NewReplacer("Host: evil.example", "Host: 127.0.0.1", "text/plain", "application/json").
			Replace(fmt.Sprintf(hostileTest, h.port, h.port)), 403},
		{"loopback Host, JSON, no Origin, Sec-Fetch-Site cross-site", fmt.Sprintf(`POST /api/v1/profiles/office365/test HTTP/1.1
Host: localhost:%d
Sec-Fetch-Site: cross-site
Content-Type: application/json

{"from": "ceo@example.com", "to": ["victim1@example.org"], "send": true}`, h.port), 403},
		{"form post, no Content-Type", fmt.Sprintf(`POST /api/v1/profiles/office365/test HTTP/1.1
Host: 127.0.0.1:%d

{"from": "ceo@example.com", "to": ["victim1@example.org"], "send": true}`, h.port), 415},
	} {
		status, body := h.rawHTTP(t, tc.req)
		if status != tc.status || !strings.Contains(body, `"error"`) {
			t.Errorf("%s: %d %s, want %d and an error", tc.name, status, body, tc.status)
		}
	}
	if n := h.up.n.Load(); n != 0 {
		t.Fatalf("the upstream saw %d connections from hostile requests, want none", n)
	}
	if !strings.Contains(h.logs.String(), "admin request refused") || !strings.Contains(h.logs.String(), "host=evil.example:") {
		t.Errorf("refusals are not logged:\n%s", h.logs.String())
	}

	// The CLI's request (loopback Host, JSON, no Origin) and the console's
	// same-origin one do reach the upstream.
	status, body := h.do(t, "POST", "/api/v1/profiles/office365/test", map[string]string{"Content-Type": "application/json; charset=utf-8"}, "")
	if status != 200 || !strings.Contains(body, `"steps"`) || h.up.n.Load() != 1 {
		t.Fatalf("CLI test request: %d %s; upstream connections %d, want 1", status, body, h.up.n.Load())
	}
	origin := fmt.Sprintf("http://localhost:%d", h.port)
	status, body = h.do(t, "POST", "/api/v1/profiles/office365/test", map[string]string{"Host": fmt.Sprintf("localhost:%d", h.port),
		"Origin": origin, "Sec-Fetch-Site": "same-origin", "Content-Type": "application/json"}, "{}")
	if status != 200 || h.up.n.Load() != 2 {
		t.Fatalf("same-origin test request: %d %s; upstream connections %d, want 2", status, body, h.up.n.Load())
	}
}

func TestAdminRefusesCrossOriginHold(t *testing.T) {
	h := startAdminHarness(t, "")
	id := h.commitDelayed(t, "CRM <crm@example.com>", "Invoice 42", "customer@example.org")
	for _, tc := range []struct {
		name, req string
		status    int
	}{
		{"form post", fmt.Sprintf("POST /api/v1/queue/%s/hold HTTP/1.1\nHost: 127.0.0.1:%d\nOrigin: http://evil.example\nContent-Type: text/plain\n\nx", id, h.port), 415},
		{"fetch, JSON", fmt.Sprintf("POST /api/v1/queue/%s/hold HTTP/1.1\nHost: 127.0.0.1:%d\nOrigin: http://evil.example\nContent-Type: application/json\n\n{}", id, h.port), 403},
		{"fetch, null origin", fmt.Sprintf("POST /api/v1/queue/%s/hold HTTP/1.1\nHost: 127.0.0.1:%d\nOrigin: null\nContent-Type: application/json\n\n{}", id, h.port), 403},
		{"rebound name", fmt.Sprintf("POST /api/v1/queue/%s/hold HTTP/1.1\nHost: evil.example:%d\nOrigin: http://evil.example:%d\nContent-Type: application/json\n\n{}", id, h.port, h.port), 403},
		{"no Origin, cross-site", fmt.Sprintf("POST /api/v1/queue/%s/hold HTTP/1.1\nHost: 127.0.0.1:%d\nSec-Fetch-Site: cross-site\nContent-Type: application/json\n\n{}", id, h.port), 403},
		{"other port's origin", fmt.Sprintf("POST /api/v1/queue/%s/hold HTTP/1.1\nHost: 127.0.0.1:%d\nOrigin: http://127.0.0.1:8080\nContent-Type: application/json\n\n{}", id, h.port), 403},
		{"delete, text/plain", fmt.Sprintf("DELETE /api/v1/queue/%s HTTP/1.1\nHost: 127.0.0.1:%d\nContent-Type: text/plain\n\nx", id, h.port), 415},
		{"delete, foreign Origin", fmt.Sprintf("DELETE /api/v1/queue/%s HTTP/1.1\nHost: 127.0.0.1:%d\nOrigin: https://evil.example", id, h.port), 403},
	} {
		if status, body := h.rawHTTP(t, tc.req); status != tc.status {
			t.Errorf("%s: %d %s, want %d", tc.name, status, body, tc.status)
		}
		if st := h.state(t, id); st != spool.StateDelayed {
			t.Fatalf("%s: the message is %s in the spool, want delayed", tc.name, st)
		}
	}
	// Same-origin and CLI requests work.
	status, body := h.rawHTTP(t, fmt.Sprintf("POST /api/v1/queue/%s/hold HTTP/1.1\nHost: 127.0.0.1:%d\nOrigin: http://127.0.0.1:%d\nSec-Fetch-Site: same-origin\nContent-Type: application/json\n\n{}", id, h.port, h.port))
	if status != 200 || h.state(t, id) != spool.StateHeld {
		t.Fatalf("same-origin hold: %d %s; spool state %s", status, body, h.state(t, id))
	}
	status, body = h.do(t, "DELETE", "/api/v1/queue/"+id, nil, "")
	if status != 200 || h.state(t, id) != spool.StateCancelled {
		t.Fatalf("CLI delete: %d %s; spool state %s", status, body, h.state(t, id))
	}
}

func TestAdminRefusesForeignHostRead(t *testing.T) {
	h := startAdminHarness(t, "")
	h.commitDelayed(t, "CEO <ceo@example.com>", "Salaries 2027", "payroll@example.org")
	for _, host := range []string{"evil.example:%d", "evil.example", "127.0.0.1.evil.example:%d", "localhost:1", "[::1]:1", "LOCALHOST.:%d"} {
		hh := host
		if strings.Contains(host, "%d") {
			hh = fmt.Sprintf(host, h.port)
		}
		status, body := h.rawHTTP(t, "GET /api/v1/queue HTTP/1.1\nHost: "+hh)
		if status != 403 || strings.Contains(body, "@") || strings.Contains(body, "Salaries") {
			t.Errorf("Host %s: %d %s, want 403 without any address", hh, status, body)
		}
		if status, _ := h.rawHTTP(t, "GET /metrics HTTP/1.1\nHost: "+hh); status != 403 {
			t.Errorf("Host %s: /metrics %d, want 403 (every route is behind the chain)", hh, status)
		}
	}
	for _, host := range []string{"127.0.0.1:%d", "localhost:%d", "LocalHost:%d", "127.0.0.2:%d", "[::1]:%d"} {
		hh := fmt.Sprintf(host, h.port)
		status, body := h.rawHTTP(t, "GET /api/v1/queue HTTP/1.1\nHost: "+hh)
		if status != 200 || !strings.Contains(body, "payroll@example.org") {
			t.Errorf("Host %s: %d %s, want 200 with the queue", hh, status, body)
		}
	}
}

func TestAdminAllowedHostsAndLimits(t *testing.T) {
	h := startAdminHarness(t, `allowed_hosts = ["relay.example.com", "Relay.Internal:9425", "[2001:db8::1]:8080"]`)
	for host, want := range map[string]int{
		"relay.example.com": 200, "relay.example.com:1234": 200, "RELAY.example.com:80": 200,
		"relay.internal:9425": 200, "relay.internal:9426": 403, "relay.internal": 403,
		"[2001:db8::1]:8080": 200, "[2001:db8::1]:8081": 403, "www.relay.example.com": 403,
	} {
		if status, body := h.rawHTTP(t, "GET /healthz HTTP/1.1\nHost: "+host); status != want {
			t.Errorf("Host %s: %d %s, want %d", host, status, body, want)
		}
	}
	// An allowed name's own origin may change state; the console behind a
	// proxy at https://relay.example.com too.
	for _, origin := range []string{"http://relay.example.com", "https://relay.example.com"} {
		status, body := h.rawHTTP(t, "POST /api/v1/queue/retry HTTP/1.1\nHost: relay.example.com\nOrigin: "+origin+"\nContent-Type: application/json\n\n{}")
		if status != 200 {
			t.Errorf("Origin %s: %d %s", origin, status, body)
		}
	}

	// Bodies over 1 MB: 413, with or without a Content-Length.
	big := `{"from": "` + strings.Repeat("a", 1<<20) + `@example.com"}`
	status, body := h.do(t, "POST", "/api/v1/profiles/office365/test", map[string]string{"Content-Type": "application/json"}, big)
	if status != 413 {
		t.Errorf("1 MB body: %d %s, want 413", status, body)
	}
	req := httptest.NewRequest("POST", "http://"+h.addr+"/api/v1/profiles/office365/test", struct{ *strings.Reader }{strings.NewReader(big)})
	req.RequestURI, req.ContentLength = "", -1 // chunked
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 413 || h.up.n.Load() != 0 {
		t.Errorf("1 MB chunked body: %d, want 413; upstream connections %d", resp.StatusCode, h.up.n.Load())
	}

	if h.hs.ReadHeaderTimeout <= 0 || h.hs.ReadTimeout <= 0 || h.hs.IdleTimeout <= 0 {
		t.Errorf("admin server timeouts: header %v read %v idle %v", h.hs.ReadHeaderTimeout, h.hs.ReadTimeout, h.hs.IdleTimeout)
	}
}

// TestAdminBearerToken: on loopback without token_file a request without a
// token is trusted, one with the generated token passes and a wrong one is
// refused; with token_file the token is required.
func TestAdminBearerToken(t *testing.T) {
	h := startAdminHarness(t, "")
	b, err := os.ReadFile(filepath.Join(h.f.Server.StateDir, adminTokenName))
	if err != nil {
		t.Fatal(err)
	}
	token := strings.TrimSpace(string(b))
	for auth, want := range map[string]int{"": 200, "Bearer " + token: 200, "Bearer wrong": 401, "Basic " + token: 401} {
		if status, body := h.do(t, "GET", "/api/v1/queue", map[string]string{"Authorization": auth}, ""); status != want {
			t.Errorf("Authorization %q: %d %s, want %d", auth, status, body, want)
		}
	}
	if strings.Contains(h.logs.String(), token) {
		t.Errorf("the token is in the log")
	}

	dir := t.TempDir()
	file := configtest.WriteFile(t, dir, "admin.token", "configured-token\n", 0o600)
	h = startAdminHarness(t, "token_file = "+configtest.TOMLPath(file))
	for auth, want := range map[string]int{"": 401, "Bearer configured-token": 200, "Bearer wrong": 401} {
		if status, body := h.do(t, "GET", "/api/v1/queue", map[string]string{"Authorization": auth}, ""); status != want {
			t.Errorf("token_file, Authorization %q: %d %s, want %d", auth, status, body, want)
		}
	}
	if _, err := os.Stat(filepath.Join(h.f.Server.StateDir, adminTokenName)); err == nil {
		t.Errorf("admin.token created although token_file is set")
	}
}
