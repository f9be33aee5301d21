package main

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/emersion/go-smtp"
)

// TestE2EDisabledDefault451: a config whose system default is
// disabled starts and reloads; a recipient that a route sends to an enabled
// profile is accepted, and one with no candidate left gets 451 4.3.5 naming
// the sender and the recipient, on the wire.
func TestE2EDisabledDefault451(t *testing.T) {
	pki := newPKI(t, t.TempDir())
	cfg := e2eConfig(cfgParams{SMTPPort: freePort(t), AdminPort: freePort(t), UpstreamPort: freePort(t), CAFile: pki.caFile})
	cfg = strings.Replace(cfg, `default_profile = "up"`, `default_profile = "office365"`, 1) + `
[[profile]]
name = "office365"
type = "direct"
enabled = false

[[route]]
recipient = "*@routed.test"
profile = "up"
`
	p := startRelayd(t, cfg)

	check := func(when string) {
		t.Helper()
		c, err := smtp.Dial(p.smtpAddr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		c.CommandTimeout = 10 * time.Second
		if err := c.Hello("client.test"); err != nil {
			t.Fatal(err)
		}
		if err := c.Mail("app@example.com", nil); err != nil {
			t.Fatal(err)
		}
		if err := c.Rcpt("someone@routed.test", nil); err != nil {
			t.Errorf("%s: RCPT routed by route #1: %v, want 250", when, err)
		}
		err = c.Rcpt("someone@example.org", nil)
		var se *smtp.SMTPError
		if !errors.As(err, &se) || se.Code != 451 || se.EnhancedCode != (smtp.EnhancedCode{4, 3, 5}) ||
			!strings.Contains(se.Message, "app@example.com") || !strings.Contains(se.Message, "someone@example.org") {
			t.Errorf("%s: RCPT with the default disabled: %v, want 451 4.3.5 naming sender and recipient", when, err)
		}
	}
	check("at start")

	// Reload onto a config whose route names a profile that no longer exists.
	reloaded := strings.ReplaceAll(cfg, e2eDirToken, p.dir) + "\n[[route]]\nrecipient = \"*@gone.test\"\nprofile = \"removed\"\n"
	if err := os.WriteFile(p.cfgPath, []byte(reloaded), 0o600); err != nil {
		t.Fatal(err)
	}
	p.signal(syscall.SIGHUP)
	err := poll(10*time.Second, func() (bool, error) {
		if !p.running() {
			return false, fmt.Errorf("relayd exited (code %d) after SIGHUP", p.code)
		}
		v, _ := metricValue(p.metrics(t), `relayd_config_reloads_total{result="ok"}`)
		return v == 1, nil
	})
	if err != nil {
		t.Fatalf("reload with a disabled default and a missing route profile: %v\n%s", err, p.out.String())
	}
	check("after reload")
	if !strings.Contains(p.out.String(), `no profile is named \"removed\"`) && !strings.Contains(p.out.String(), `no profile is named "removed"`) {
		t.Errorf("the reload did not log the missing-profile warning:\n%s", p.out.String())
	}
	p.stop()
}
