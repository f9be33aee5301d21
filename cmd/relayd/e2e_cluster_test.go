package main

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/relayd/relayd/cluster/redistest"
)

// TestE2ECluster runs two relayd processes with their own spools and one
// [cluster] Redis (a real redis-server with a password, from
// redis_password_file), sharing one upstream account with rate = "3/m":
// of 8 messages 3 go out in the window, the others wait as "rate limit" on
// both hosts; `relayd profile pause` on one host pauses the other; with
// Redis stopped both keep delivering (local counting) and
// relayd_cluster_up is 0; when it is back it is 1 again. The Redis
// password is in no log line.
func TestE2ECluster(t *testing.T) {
	const redisPW = "e2e-Redis-Secret-pw"
	rs := redistest.Start(t, redisPW)
	pwFile := filepath.Join(t.TempDir(), "redis.pw")
	if err := os.WriteFile(pwFile, []byte(redisPW+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	pki := newPKI(t, t.TempDir())
	up := newUpstream(t, pki)
	up.start()
	start := func() *proc {
		cfg := e2eConfig(cfgParams{SMTPPort: freePort(t), AdminPort: freePort(t), UpstreamPort: up.port, CAFile: pki.caFile,
			Secret: fmt.Sprintf("password_env = %q\nrate = \"3/m\"", e2ePassEnv)})
		cfg += fmt.Sprintf("\n[cluster]\nredis = %q\nredis_password_file = %q\n", rs.URL(), pwFile)
		return startRelayd(t, cfg)
	}
	a, b := start(), start()
	hosts := []*proc{a, b}
	gauge := func(p *proc) float64 { v, _ := metricValue(p.metrics(t), "relayd_cluster_up"); return v }
	waitGauge := func(want float64) {
		t.Helper()
		for _, p := range hosts {
			if err := poll(15*time.Second, func() (bool, error) { return gauge(p) == want, nil }); err != nil {
				t.Fatalf("relayd_cluster_up of %s is not %v: %v", p.adminAddr, want, err)
			}
		}
	}
	waitGauge(1)

	// A pause through one host's CLI stops the other.
	profile := func(p *proc, args ...string) (int, string, string) {
		t.Helper()
		return runRelayd(t, p.dir, p.env, append([]string{"profile", "-config", p.cfgPath}, args...)...)
	}
	if code, out, errOut := profile(a, "pause", "up"); code != 0 {
		t.Fatalf("profile pause on a: exit %d %s%s", code, out, errOut)
	}
	pausedRe := regexp.MustCompile(`"paused":\s*true`)
	pausedOn := func(p *proc, want bool) {
		t.Helper()
		err := poll(15*time.Second, func() (bool, error) {
			_, out, _ := profile(p, "list", "-json")
			return pausedRe.MatchString(out) == want, nil
		})
		if err != nil {
			t.Fatalf("profile up paused=%v on %s: %v", want, p.adminAddr, err)
		}
	}
	pausedOn(b, true)
	if code, out, errOut := profile(a, "resume", "up"); code != 0 {
		t.Fatalf("profile resume on a: exit %d %s%s", code, out, errOut)
	}
	pausedOn(b, false)

	// 8 messages, 4 through each host: 3 in the window, in all.
	for i := range 8 {
		p := hosts[i%2]
		if _, err := sendMail(p.smtpAddr, "app@example.com", []string{"x@example.org"},
			fmt.Sprintf("Subject: %d\r\n\r\nm\r\n", i), 10*time.Second); err != nil {
			t.Fatal(err)
		}
	}
	up.waitMessages(t, 3, 15*time.Second)
	rateLimited := regexp.MustCompile(`"last_error":\s*"rate limit`)
	err := poll(15*time.Second, func() (bool, error) {
		n := 0
		for _, p := range hosts {
			_, out, _ := runRelayd(t, p.dir, p.env, "queue", "-config", p.cfgPath, "list", "-json")
			n += len(rateLimited.FindAllString(out, -1))
		}
		return n == 5, nil
	})
	if err != nil {
		t.Fatalf("the 5 messages over the window do not all wait as \"rate limit\": %v", err)
	}
	if n := len(up.messages()); n != 3 {
		t.Fatalf("the upstream got %d messages from two hosts in one minute, want 3", n)
	}

	// Redis stopped: both keep delivering, each counting alone.
	rs.Stop()
	waitGauge(0)
	up.waitMessages(t, 7, 20*time.Second)
	rs.Start()
	waitGauge(1)

	for _, p := range hosts {
		_, profiles, _ := profile(p, "list", "-json")
		_, queue, _ := runRelayd(t, p.dir, p.env, "queue", "-config", p.cfgPath, "list", "-all", "-json")
		for what, text := range map[string]string{"profile list -json": profiles, "queue list -json": queue,
			"/metrics": p.metrics(t)} {
			if strings.Contains(text, redisPW) {
				t.Errorf("%s (an API answer) holds the Redis password", what)
			}
		}
		out := p.out.String()
		if strings.Contains(out, redisPW) {
			t.Errorf("relayd's log holds the Redis password:\n%s", out)
		}
		if !strings.Contains(out, "the cluster's Redis is unreachable") || !strings.Contains(out, "the cluster's Redis is back") {
			t.Errorf("relayd's log does not tell the outage and the return:\n%s", out)
		}
	}
}
