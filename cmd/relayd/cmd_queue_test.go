package main

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/relayd/relayd/cmd/relayd/config"
	"github.com/relayd/relayd/cmd/relayd/config/configtest"
)

// The queue CLI is tested against an httptest server on loopback that
// answers like relay/api.go; the daemon-to-CLI path is covered end to end
// elsewhere.

// adminRequest is what the fake admin API saw.
type adminRequest struct {
	method, uri, auth string
}

// cannedAnswer is one endpoint's status and body.
type cannedAnswer struct {
	status int
	body   string
}

// fakeAdmin serves answers keyed by "METHOD URI" (the URI as sent, query
// and escapes included); anything else gets the API's 404.
type fakeAdmin struct {
	srv     *httptest.Server
	mu      sync.Mutex
	seen    []adminRequest
	answers map[string]cannedAnswer
	body    string // of the last request, for lastBody
	ctype   string // its Content-Type
}

func newFakeAdmin(t *testing.T, answers map[string]cannedAnswer) *fakeAdmin {
	t.Helper()
	fa := &fakeAdmin{answers: answers}
	fa.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		fa.mu.Lock()
		fa.seen = append(fa.seen, adminRequest{r.Method, r.RequestURI, r.Header.Get("Authorization")})
		fa.body, fa.ctype = string(b), r.Header.Get("Content-Type")
		fa.mu.Unlock()
		a, ok := answers[r.Method+" "+r.RequestURI]
		if !ok {
			a = cannedAnswer{http.StatusNotFound, `{"error": "no such endpoint: ` + r.Method + " " + r.URL.Path + `"}`}
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(a.status)
		fmt.Fprint(w, a.body)
	}))
	t.Cleanup(fa.srv.Close)
	return fa
}

// lastBody returns the body and Content-Type of the last request.
func (fa *fakeAdmin) lastBody() (string, string) {
	fa.mu.Lock()
	defer fa.mu.Unlock()
	return fa.body, fa.ctype
}

func (fa *fakeAdmin) addr() string { return fa.srv.Listener.Addr().String() }

// requests returns and forgets what was seen so far.
func (fa *fakeAdmin) requests() []adminRequest {
	fa.mu.Lock()
	defer fa.mu.Unlock()
	s := fa.seen
	fa.seen = nil
	return s
}

// queueConfig writes a config whose [admin] listen is addr, with a token
// file when token is set, and returns its path.
func queueConfig(t *testing.T, addr, token string) string {
	t.Helper()
	dir := t.TempDir()
	admin := "\n[admin]\nlisten = \"" + addr + "\"\n"
	if token != "" {
		admin += "token_file = " + configtest.TOMLPath(configtest.WriteFile(t, dir, "admin.token", token+"\n", 0o600)) + "\n"
	}
	return configtest.WriteFile(t, dir, "relayd.toml", configtest.Minimal+admin, 0o600)
}

func jsonTime(t time.Time) string { return `"` + t.UTC().Format(time.RFC3339Nano) + `"` }

// queueItemJSON is an item as relay/api.go writes it.
func queueItemJSON(id, state string, created time.Time, rcpts ...string) string {
	return fmt.Sprintf(`{"id": %q, "state": %q, "created": %s, "sender": "crm@sales.example.com", "team": "sales", "size": 5120, `+
		`"from": "Jörg Müller <joerg@sales.example.com>", "subject": "Rechnung für März\tNr. 42", "recipients": [%s]}`,
		id, state, jsonTime(created), strings.Join(rcpts, ", "))
}

func queueRcptJSON(addr, profile, rule, state string, attempts int, next *time.Time, lastErr string) string {
	n := "null"
	if next != nil {
		n = jsonTime(*next)
	}
	return fmt.Sprintf(`{"address": %q, "profile": %q, "rule": %q, "state": %q, "attempts": %d, "next_attempt": %s, "last_error": %q}`,
		addr, profile, rule, state, attempts, n, lastErr)
}

func wantRequests(t *testing.T, fa *fakeAdmin, want ...adminRequest) {
	t.Helper()
	got := fa.requests()
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("requests:\n got %q\nwant %q", got, want)
	}
}

func wantContains(t *testing.T, what, s string, subs ...string) {
	t.Helper()
	for _, sub := range subs {
		if !strings.Contains(s, sub) {
			t.Errorf("%s lacks %q:\n%s", what, sub, s)
		}
	}
}

func TestQueueList(t *testing.T) {
	now := time.Now()
	next := now.Add(10*time.Minute + 30*time.Second)
	longErr := "451 4.7.0 Temporary server error.\tPlease try again later. PRX4 [AM0PR01CA0001.eurprd01.prod.outlook.com]"
	list := "[" + queueItemJSON("01JAAAAAAAAAAAAAAAAAAAAAAA", "deferred", now.Add(-5*time.Minute-20*time.Second),
		queueRcptJSON("a@example.org", "office365", "route #2", "deferred", 3, &next, longErr),
		queueRcptJSON("b@example.net", "direct", "system default", "sent", 1, nil, ""),
	) + ", " + queueItemJSON("01JBBBBBBBBBBBBBBBBBBBBBBB", "held", now.Add(-50*time.Hour),
		queueRcptJSON("c@example.org", "office365", "team sales default", "held", 0, nil, "")) + "]\n"
	fa := newFakeAdmin(t, map[string]cannedAnswer{
		"GET /api/v1/queue?state=active":   {200, list},
		"GET /api/v1/queue?state=deferred": {200, "[]\n"},
		"GET /api/v1/queue":                {200, "[]\n"},
	})
	cfg := queueConfig(t, fa.addr(), "s3cret-token")
	auth := "Bearer s3cret-token"

	code, out, errs := runCLI(t, nil, "", "queue", "list", "-config", cfg)
	if code != 0 {
		t.Fatalf("queue list: exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errs)
	}
	wantRequests(t, fa, adminRequest{"GET", "/api/v1/queue?state=active", auth})
	wantContains(t, "queue list", out,
		"ID", "STATE", "AGE", "SENDER", "FROM", "SUBJECT", "RECIPIENT -> PROFILE (RULE)", "ATTEMPTS", "NEXT ATTEMPT", "LAST ERROR",
		"01JAAAAAAAAAAAAAAAAAAAAAAA", "5m", "crm@sales.example.com", "Jörg Müller <joerg@sales.example.com>",
		"Rechnung für März Nr. 42", "a@example.org -> office365 (route #2)",
		"in 10m", "451 4.7.0 Temporary server error. Please try again later", "…",
		"b@example.net -> direct (system default)", "sent",
		"01JBBBBBBBBBBBBBBBBBBBBBBB", "held", "2d2h", "c@example.org -> office365 (team sales default)",
		"2 messages")
	lines := strings.Split(out, "\n")
	if len(lines) != 6 || lines[5] != "" {
		t.Fatalf("want a header, 3 recipient rows and a count:\n%s", out)
	}
	// Aligned columns: every row's recipient starts where the header's does
	// (in characters: From and Subject are not ASCII).
	col := len([]rune(lines[0][:strings.Index(lines[0], "RECIPIENT")]))
	for _, line := range lines[1:4] {
		l := []rune(line)
		if len(l) <= col || string(l[col-2:col]) != "  " || l[col] == ' ' {
			t.Errorf("row not aligned at column %d:\n%s\n%s", col, lines[0], line)
		}
	}
	if strings.Contains(lines[2], "01JA") || strings.Contains(lines[2], "crm@") || strings.Contains(lines[2], "Rechnung") {
		t.Errorf("second recipient repeats the message columns: %q", lines[2])
	}
	if strings.Contains(out, "PRX4") || strings.Contains(out, "\t") {
		t.Errorf("last error not truncated or a tab left in:\n%s", out)
	}

	// Flags before the subcommand, -state, and an empty answer.
	code, out, errs = runCLI(t, nil, "", "queue", "-state", "deferred", "-config", cfg, "list")
	if code != 0 || out != "no messages in state deferred\n" {
		t.Errorf("queue -state deferred list: exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errs)
	}
	wantRequests(t, fa, adminRequest{"GET", "/api/v1/queue?state=deferred", auth})

	// -all: the journal too.
	code, out, errs = runCLI(t, nil, "", "queue", "list", "-all", "-config", cfg)
	if code != 0 || out != "the queue and the journal are empty\n" {
		t.Errorf("queue list -all: exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errs)
	}
	wantRequests(t, fa, adminRequest{"GET", "/api/v1/queue", auth})

	// -json prints the API's JSON as it came.
	code, out, _ = runCLI(t, map[string]string{config.Env: cfg}, "", "queue", "list", "-json")
	if code != 0 || out != list {
		t.Errorf("queue list -json: exit %d, stdout differs from the API's body:\n%s", code, out)
	}
	wantRequests(t, fa, adminRequest{"GET", "/api/v1/queue?state=active", auth})
}

func TestQueueShowAndActions(t *testing.T) {
	now := time.Now()
	id := "01JCCCCCCCCCCCCCCCCCCCCCCC"
	next := now.Add(-time.Second)
	item := func(state string) string {
		return queueItemJSON(id, state, now.Add(-90*time.Second),
			queueRcptJSON("a@example.org", "office365", "route #1", state, 2, &next, "421 4.4.2 connection dropped\nafter DATA"))
	}
	fa := newFakeAdmin(t, map[string]cannedAnswer{
		"GET /api/v1/queue/" + id:               {200, item("deferred")},
		"POST /api/v1/queue/" + id + "/hold":    {200, item("held")},
		"POST /api/v1/queue/" + id + "/release": {200, item("ready")},
		"POST /api/v1/queue/" + id + "/retry":   {200, item("ready")},
		"DELETE /api/v1/queue/" + id:            {200, item("cancelled")},
		"POST /api/v1/queue/retry":              {200, `{"retried": 3}`},
	})
	cfg := queueConfig(t, fa.addr(), "") // loopback without a token
	code, out, errs := runCLI(t, nil, "", "queue", "show", id, "-config", cfg)
	if code != 0 {
		t.Fatalf("queue show: exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errs)
	}
	wantRequests(t, fa, adminRequest{"GET", "/api/v1/queue/" + id, ""})
	wantContains(t, "queue show", out, "id:       "+id, "state:    deferred", "(1m ago)", "sender:   crm@sales.example.com",
		"from:     Jörg Müller <joerg@sales.example.com>\n", "subject:  Rechnung für März Nr. 42\n",
		"team:     sales", "size:     5.0 KB", "recipients:", "a@example.org -> office365 (route #1)", "now",
		"421 4.4.2 connection dropped after DATA")

	for _, tc := range []struct {
		args        []string
		method, uri string
		out         string
	}{
		{[]string{"hold", id}, "POST", "/api/v1/queue/" + id + "/hold", id + " held (state now held)\n"},
		{[]string{"release", id}, "POST", "/api/v1/queue/" + id + "/release", id + " released (state now ready)\n"},
		{[]string{"retry", id}, "POST", "/api/v1/queue/" + id + "/retry", id + " queued for retry (state now ready)\n"},
		{[]string{"delete", id}, "DELETE", "/api/v1/queue/" + id, id + " deleted (state now cancelled)\n"},
		{[]string{"retry", "-all"}, "POST", "/api/v1/queue/retry", "3 messages queued for retry\n"},
		{[]string{"-all", "retry", "-json"}, "POST", "/api/v1/queue/retry", `{"retried": 3}` + "\n"},
		{[]string{"hold", id, "-json"}, "POST", "/api/v1/queue/" + id + "/hold", item("held") + "\n"},
	} {
		args := append([]string{"queue", "-config", cfg}, tc.args...)
		code, out, errs := runCLI(t, nil, "", args...)
		if code != 0 || out != tc.out {
			t.Errorf("relayd %q: exit %d\nstdout: %q\nwant:   %q\nstderr: %s", args, code, out, tc.out, errs)
		}
		wantRequests(t, fa, adminRequest{tc.method, tc.uri, ""})
	}
}

func TestQueueErrors(t *testing.T) {
	id := "01JDDDDDDDDDDDDDDDDDDDDDDD"
	conflict := "message " + id + " is delayed: it cannot be released (only a held message can)"
	fa := newFakeAdmin(t, map[string]cannedAnswer{
		"GET /api/v1/queue/nope":                {404, `{"error": "no message with ID nope"}`},
		"POST /api/v1/queue/a%2Fb/hold":         {404, ""},
		"POST /api/v1/queue/" + id + "/release": {409, `{"error": "` + conflict + `"}`},
		"GET /api/v1/queue?state=bogus":         {400, `{"error": "unknown state bogus"}`},
		"POST /api/v1/queue/retry":              {500, "oops\n"},
		"GET /api/v1/queue?state=active":        {401, `{"error": "missing or wrong bearer token"}`},
	})
	cfg := queueConfig(t, fa.addr(), "wrong")
	tokenFile := filepath.Join(filepath.Dir(cfg), "admin.token")
	for _, tc := range []struct {
		args   []string
		stderr string
	}{
		{[]string{"show", "nope"}, "relayd queue show: no message with ID nope\n"},
		{[]string{"hold", "a/b"}, "relayd queue hold: no message with ID a/b\n"},
		{[]string{"release", id}, "relayd queue release: " + conflict + "\n"},
		{[]string{"list", "-state", "bogus"}, "relayd queue list: admin API at " + fa.addr() + ": 400 Bad Request: unknown state bogus\n"},
		{[]string{"retry", "-all"}, "relayd queue retry: admin API at " + fa.addr() + ": 500 Internal Server Error: oops\n"},
		{[]string{"list"}, "relayd queue list: admin API at " + fa.addr() + " refused the bearer token of " + tokenFile + " (missing or wrong bearer token)\n"},
	} {
		args := append([]string{"queue", "-config", cfg}, tc.args...)
		code, out, errs := runCLI(t, nil, "", args...)
		if code != 1 || out != "" || errs != tc.stderr {
			t.Errorf("relayd %q: exit %d (want 1)\nstdout: %q\nstderr: %q\nwant:   %q", args, code, out, errs, tc.stderr)
		}
	}
	for _, r := range fa.requests() {
		if r.auth != "Bearer wrong" {
			t.Errorf("%s %s: Authorization %q", r.method, r.uri, r.auth)
		}
	}
}

func TestQueueNotRunning(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens there now
	cfg := queueConfig(t, addr, "")
	for _, args := range [][]string{{"list"}, {"show", "x"}, {"delete", "x"}, {"retry", "-all", "-json"}} {
		code, out, errs := runCLI(t, nil, "", append([]string{"queue", "-config", cfg}, args...)...)
		want := "relayd is not running (admin API at " + addr + " unreachable)\n"
		if code != 1 || out != "" || errs != want {
			t.Errorf("queue %q: exit %d\nstdout: %q\nstderr: %q\nwant:   %q", args, code, out, errs, want)
		}
	}
}

func TestQueueUsage(t *testing.T) {
	fa := newFakeAdmin(t, nil)
	cfg := queueConfig(t, fa.addr(), "")
	for _, tc := range []struct {
		args []string
		code int
		msg  string
	}{
		{nil, 2, "missing subcommand"},
		{[]string{"purge"}, 2, `unknown subcommand "purge"`},
		{[]string{"show"}, 2, "show needs exactly one message ID (0 given)"},
		{[]string{"hold", "a", "b"}, 2, "hold needs exactly one message ID (2 given)"},
		{[]string{"retry"}, 2, "retry needs exactly one message ID"},
		{[]string{"list", "x"}, 2, `list takes no message ID here, got "x"`},
		{[]string{"retry", "-all", "x"}, 2, "retry takes no message ID"},
		{[]string{"hold", "x", "-state", "held"}, 2, "-state only goes with list"},
		{[]string{"delete", "x", "-all"}, 2, "-all only goes with list or retry"},
		{[]string{"list", "-all", "-state", "sent"}, 2, "-state and -all do not go together"},
		{[]string{"list", "-bogus"}, 2, "flag provided but not defined"},
		{[]string{"-h"}, 0, "usage: relayd queue list [-state S | -all] [-json]"},
	} {
		args := append([]string{"queue", "-config", cfg}, tc.args...)
		code, _, errs := runCLI(t, nil, "", args...)
		if code != tc.code || !strings.Contains(errs, tc.msg) {
			t.Errorf("relayd %q: exit %d (want %d)\nstderr lacks %q:\n%s", args, code, tc.code, tc.msg, errs)
		}
	}
	wantRequests(t, fa)

	// A bad config is exit 2 too, before any request.
	code, _, errs := runCLI(t, nil, "", "queue", "list", "-config", cfg+".missing")
	if code != 2 || !strings.Contains(errs, ".missing") {
		t.Errorf("missing config: exit %d\n%s", code, errs)
	}
	if !strings.Contains(usageText, "queue list [-state S | -all]") {
		t.Errorf("relayd's usage lacks the queue command:\n%s", usageText)
	}
}

func TestQueueAdminAddress(t *testing.T) {
	for _, tc := range []struct{ listen, addr, err string }{
		{"127.0.0.1:9425", "127.0.0.1:9425", ""},
		{"localhost:9425", "localhost:9425", ""},
		{"0.0.0.0:9425", "127.0.0.1:9425", ""},
		{":9425", "127.0.0.1:9425", ""},
		{"[::]:9425", "[::1]:9425", ""},
		{"[::1]:9425", "[::1]:9425", ""},
		{"192.0.2.7:9425", "192.0.2.7:9425", ""},
		{"", "", "the admin API is off: [admin] listen is empty in the embedded default"},
		{"127.0.0.1:0", "", "has port 0"},
	} {
		ac, err := newAdminClient(&config.Admin{Listen: tc.listen}, "")
		switch {
		case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)):
			t.Errorf("listen %q: error %v, want %q", tc.listen, err, tc.err)
		case tc.err == "" && (err != nil || ac.addr != tc.addr || ac.base != "http://"+tc.addr):
			t.Errorf("listen %q: %+v %v, want %s", tc.listen, ac, err, tc.addr)
		}
	}
}

func TestQueueAge(t *testing.T) {
	for d, want := range map[time.Duration]string{
		-time.Second: "0s", 42 * time.Second: "42s", 5*time.Minute + 59*time.Second: "5m",
		3 * time.Hour: "3h", 3*time.Hour + 5*time.Minute: "3h5m", 48 * time.Hour: "2d", 50*time.Hour + 59*time.Minute: "2d2h",
	} {
		if got := age(d); got != want {
			t.Errorf("age(%v) = %q, want %q", d, got, want)
		}
	}
}
