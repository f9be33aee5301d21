package main

import (
	"encoding/json"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestE2EProfilePause drives `relayd profile` against the running daemon:
// a paused profile keeps a message queued across a restart (the pause is
// in the spool), `profile list` and relayd_profile_paused show the pause,
// and `profile resume` delivers the message.
func TestE2EProfilePause(t *testing.T) {
	pki := newPKI(t, t.TempDir())
	up := newUpstream(t, pki)
	up.start()
	p := startRelayd(t, e2eConfig(cfgParams{SMTPPort: freePort(t), AdminPort: freePort(t),
		UpstreamPort: up.port, CAFile: pki.caFile}))
	profile := func(args ...string) (int, string, string) {
		t.Helper()
		return runRelayd(t, p.dir, p.env, append([]string{"profile", "-config", p.cfgPath}, args...)...)
	}
	if v, ok := metricValue(p.metrics(t), `relayd_profile_paused{profile="up"}`); !ok || v != 0 {
		t.Errorf("relayd_profile_paused before a pause = %v (present %v), want 0", v, ok)
	}
	code, out, errOut := profile("list")
	if code != 0 || !strings.Contains(out, "PAUSED") || !regexpLine(out, `^up\s+smtp\s+127\.0\.0\.1:\d+\s+yes\s+no\s+-\s+0$`) {
		t.Fatalf("profile list: exit %d\n%s%s", code, out, errOut)
	}
	// Flags after the name, as with queue and test.
	if code, out, errOut = profile("pause", "up", "-for", "2h"); code != 0 || !strings.Contains(out, "profile up paused until ") {
		t.Fatalf("profile pause -for 2h: exit %d\n%s%s", code, out, errOut)
	}
	if code, out, errOut = profile("pause", "up"); code != 0 || out != "profile up paused until resumed (relayd profile resume up)\n" {
		t.Fatalf("profile pause: exit %d\n%q%s", code, out, errOut)
	}
	sent, err := sendMail(p.smtpAddr, "app@example.com", []string{"x@example.org"}, "Subject: paused\r\n\r\nwait\r\n", 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	p.stop()
	p.restart()
	code, out, errOut = profile("list")
	t.Logf("relayd profile list after the restart:\n%s", out)
	if code != 0 || !regexpLine(out, `^up\s+smtp\s+\S+\s+yes\s+until resumed\s+-\s+1$`) {
		t.Errorf("profile list after restart: exit %d\n%s%s", code, out, errOut)
	}
	code, out, errOut = profile("list", "-json")
	var ps []map[string]any
	if err := json.Unmarshal([]byte(out), &ps); code != 0 || err != nil || len(ps) != 1 || ps[0]["paused"] != true ||
		ps[0]["paused_until"] != nil {
		t.Errorf("profile list -json: exit %d %v\n%s%s", code, err, out, errOut)
	}
	if v, _ := metricValue(p.metrics(t), `relayd_profile_paused{profile="up"}`); v != 1 {
		t.Errorf("relayd_profile_paused while paused = %v, want 1", v)
	}
	if n := len(up.messages()); n != 0 {
		t.Fatalf("the upstream got %d messages while its profile was paused", n)
	}
	queue := func(args ...string) (int, string, string) {
		t.Helper()
		return runRelayd(t, p.dir, p.env, append([]string{"queue", "-config", p.cfgPath}, args...)...)
	}
	if st := queueState(t, queue, sent.QueueID); st != "ready" {
		t.Errorf("message of the paused profile is %q, want ready", st)
	}

	if code, out, errOut = profile("resume", "up"); code != 0 || !strings.Contains(out, "profile up resumed") {
		t.Fatalf("profile resume: exit %d\n%s%s", code, out, errOut)
	}
	up.waitMessages(t, 1, 15*time.Second)
	if v, _ := metricValue(p.metrics(t), `relayd_profile_paused{profile="up"}`); v != 0 {
		t.Errorf("relayd_profile_paused after resume = %v, want 0", v)
	}
	if code, _, errOut = profile("pause", "nosuch"); code != 1 ||
		errOut != "relayd profile pause: no profile named \"nosuch\" in the running configuration\n" {
		t.Errorf("pause of an unknown profile: exit %d %q", code, errOut)
	}
	if !strings.Contains(p.out.String(), `msg="profile paused" profile=up user=admin`) {
		t.Errorf("the log lacks who paused the profile:\n%s", p.out.String())
	}
}

// TestProfileUsage checks the usage errors of `relayd profile`, which
// never reach the daemon.
func TestProfileUsage(t *testing.T) {
	fa := newFakeAdmin(t, nil)
	cfg := queueConfig(t, fa.addr(), "")
	for _, tc := range []struct {
		args []string
		code int
		msg  string
	}{
		{nil, 2, "missing subcommand"},
		{[]string{"stop", "up"}, 2, `unknown subcommand "stop"`},
		{[]string{"pause"}, 2, "pause needs exactly one profile name (0 given)"},
		{[]string{"resume", "a", "b"}, 2, "resume needs exactly one profile name (2 given)"},
		{[]string{"list", "up"}, 2, `list takes no profile name, got "up"`},
		{[]string{"resume", "up", "-for", "1h"}, 2, "-for only goes with pause"},
		{[]string{"pause", "up", "-for", "soon"}, 2, `-for "soon" is not a positive duration`},
		{[]string{"-h"}, 0, "usage: relayd profile list [-json]"},
	} {
		args := append([]string{"profile", "-config", cfg}, tc.args...)
		code, _, errs := runCLI(t, nil, "", args...)
		if code != tc.code || !strings.Contains(errs, tc.msg) {
			t.Errorf("relayd %q: exit %d (want %d)\nstderr lacks %q:\n%s", args, code, tc.code, tc.msg, errs)
		}
	}
	wantRequests(t, fa)
}

// TestProfilePauseRequest: pause sends {"for": D} with the admin token and
// the JSON content type, and prints the end of the pause.
func TestProfilePauseRequest(t *testing.T) {
	fa := newFakeAdmin(t, map[string]cannedAnswer{
		"POST /api/v1/profiles/up/pause": {200, `{"name": "up", "type": "smtp", "description": "", "enabled": true, "host": "h", ` +
			`"port": 25, "tls": "none", "mode": "queue", "last_result": "", "last_attempt": null, "paused": true, ` +
			`"paused_until": "2026-11-24T11:00:00Z", "paused_by": "admin"}`},
	})
	cfg := queueConfig(t, fa.addr(), "s3cret")
	code, out, errs := runCLI(t, nil, "", "profile", "-config", cfg, "pause", "-for", "2h", "up")
	if code != 0 || !strings.Contains(out, "profile up paused until 2026-11-24T") {
		t.Fatalf("exit %d\n%s%s", code, out, errs)
	}
	wantRequests(t, fa, adminRequest{"POST", "/api/v1/profiles/up/pause", "Bearer s3cret"})
	if body, ctype := fa.lastBody(); body != `{"for":"2h"}` || ctype != "application/json" {
		t.Errorf("request body %q, Content-Type %q", body, ctype)
	}
}

// regexpLine reports whether a line of out matches re.
func regexpLine(out, re string) bool {
	return regexp.MustCompile("(?m)" + re).MatchString(out)
}
