package main

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"golang.org/x/crypto/bcrypt"
)

// step runs one subtest and stops the test when it failed: the later
// steps build on it.
func step(t *testing.T, name string, f func(t *testing.T)) {
	t.Helper()
	if !t.Run(name, f) {
		t.FailNow()
	}
}

// consoleBrowserConfig: listener "local" is team sales (X-Relay-Profile
// honoured), "support" is team support; profile up delivers after a 5 s
// send delay, fast and fast2 at once, later after 10 minutes, closed
// points at a closed port, reject at a peer that refuses with 554.
func consoleBrowserConfig(t *testing.T, smtpPort, supportPort, adminPort, upPort, closedPort, rejectPort int, caFile string) string {
	t.Helper()
	anna, err := bcrypt.GenerateFromPassword([]byte("anna-pass"), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	up := func(name, delay string) string {
		return fmt.Sprintf(`
[[profile]]
name = %q
description = "Company account via the test smarthost"
host = "127.0.0.1"
port = %d
tls = "starttls-required"
ca_file = %q
username = %q
password_env = %q
send_delay = %q
`, name, upPort, caFile, e2eUser, e2ePassEnv, delay)
	}
	return fmt.Sprintf(`[server]
hostname = "relay.test"
state_dir = "@DIR@/state"
log_level = "debug"

[admin]
listen = "127.0.0.1:%d"

[notify]
admin = "it@example.com"

[relay]
default_profile = "up"
retry_schedule = ["1h"]

[[listener]]
name = "local"
address = "127.0.0.1:%d"
team = "sales"
allow_profile_header = true

[[listener]]
name = "support"
address = "127.0.0.1:%d"
team = "support"

[[team]]
name = "sales"
default_profile = "up"
profiles = ["up", "fast", "fast2", "later", "closed", "reject"]
  [[team.user]]
  username = "anna"
  password_hash = %q

[[team]]
name = "support"
default_profile = "support-up"
profiles = ["support-up"]
%s%s%s%s%s
[[profile]]
name = "closed"
description = "Old office server (switched off)"
host = "127.0.0.1"
port = %d
tls = "none"

[[profile]]
name = "reject"
description = "A server that refuses everything"
host = "127.0.0.1"
port = %d
tls = "none"
`, adminPort, smtpPort, supportPort, anna,
		up("up", "5s"), up("fast", "0s"), up("fast2", "0s"), up("later", "10m"), up("support-up", "1h"),
		closedPort, rejectPort)
}

// TestConsoleBrowser is what a person does in the console, in a real
// headless Chromium: a wrong token stays on /login; the admin logs in;
// a delayed message retracted from the Outbox never reaches the
// upstream; a form without its CSRF token is 403 and changes nothing;
// Test connect on a closed port says "could not connect"; Pause stops
// deliveries and Resume lets them go; a team user sees their team's
// message and not another team's. It writes screenshots of Overview,
// Outbox, a message and Servers into RELAYD_SCREENSHOTS.
func TestConsoleBrowser(t *testing.T) {
	ctx := newBrowser(t)
	shots := screenshotDir(t)
	dir := t.TempDir()
	pki := newPKI(t, dir)
	upstream := newUpstream(t, pki)
	upstream.start()
	reject := refusingPeer(t)
	smtpPort, supportPort, adminPort, closedPort := freePort(t), freePort(t), freePort(t), freePort(t)
	p := startRelayd(t, consoleBrowserConfig(t, smtpPort, supportPort, adminPort, upstream.port, closedPort, reject, pki.caFile))
	p.waitReady(20 * time.Second)
	tok, err := os.ReadFile(filepath.Join(p.dir, "state", "admin.token"))
	if err != nil {
		t.Fatal(err)
	}
	token := strings.TrimSpace(string(tok))
	base := "http://" + p.adminAddr
	supportAddr := fmt.Sprintf("127.0.0.1:%d", supportPort)

	// The Outbox of the screenshots: delayed, deferred, bounced rows.
	deferred := submit(t, p.smtpAddr, "crm@example.com", "customer@example.org", "Quarterly report", "X-Relay-Profile: closed\r\n")
	bounced := submit(t, p.smtpAddr, "", "old-address@example.org", "Invoice 2026-117", "X-Relay-Profile: reject\r\n")
	later := submit(t, p.smtpAddr, "crm@example.com", "list@example.org", "Newsletter December", "X-Relay-Profile: later\r\n")
	support := submit(t, supportAddr, "help@example.com", "caller@example.org", "Support ticket 4711", "")
	waitState(t, p.adminAddr, deferred, "deferred")
	waitState(t, p.adminAddr, bounced, "bounced")

	step(t, "wrong token stays on /login", func(t *testing.T) {
		browse(t, ctx, "open /login", chromedp.Navigate(base+"/"), chromedp.WaitVisible(chromedp.CSS(`input[name="password"]`)))
		browse(t, ctx, "type a wrong token", chromedp.SendKeys(chromedp.CSS(`input[name="password"]`), "not-the-token"))
		click(t, ctx, `form[action="/login"] button[type="submit"]`)
		if msg := text(t, ctx, ".flash.bad"); !strings.Contains(msg, "not the admin token") {
			t.Fatalf("after a wrong token the page says %q", msg)
		}
		if loc := location(t, ctx); !strings.HasSuffix(loc, "/login") {
			t.Fatalf("after a wrong token the browser is at %s, want /login", loc)
		}
	})

	step(t, "admin login", func(t *testing.T) {
		browse(t, ctx, "open /login", chromedp.Navigate(base+"/login"),
			chromedp.SendKeys(chromedp.CSS(`input[name="password"]`), token))
		click(t, ctx, `form[action="/login"] button[type="submit"]`)
		if h := text(t, ctx, "h1"); h != "Overview" {
			t.Fatalf("after login the page is %q, want Overview", h)
		}
		screenshot(t, ctx, shots, "overview")
	})

	step(t, "retract a delayed message", func(t *testing.T) {
		oops := submit(t, p.smtpAddr, "crm@example.com", "wrong-customer@example.org", "Oops wrong customer", "")
		browse(t, ctx, "open the Outbox", chromedp.Navigate(base+"/outbox"),
			chromedp.WaitVisible(chromedp.CSS(`button[form="retract-`+oops+`"]`)))
		click(t, ctx, `button[form="retract-`+oops+`"]`)
		if msg := text(t, ctx, ".flash"); !strings.Contains(msg, "Retracted message "+oops) {
			t.Fatalf("after Retract the Outbox says %q", msg)
		}
		waitState(t, p.adminAddr, oops, "cancelled")
		// A message through the same profile, accepted after the retracted
		// one: once it arrived, the retracted one's delay is long over.
		control := submit(t, p.smtpAddr, "crm@example.com", "customer@example.org", "Control after retract", "")
		if err := poll(30*time.Second, func() (bool, error) { return delivered(upstream, "Control after retract"), nil }); err != nil {
			t.Fatalf("the control message %s was not delivered", control)
		}
		if delivered(upstream, "Oops wrong customer") {
			t.Fatal("the retracted message was delivered")
		}
		browse(t, ctx, "reload the Outbox", chromedp.Navigate(base+"/outbox"), chromedp.WaitVisible(chromedp.CSS("table.outbox")))
		screenshot(t, ctx, shots, "outbox")
		browse(t, ctx, "phone width", chromedp.EmulateViewport(390, 844, chromedp.EmulateMobile),
			chromedp.Navigate(base+"/outbox"), chromedp.WaitVisible(chromedp.CSS("table.outbox")))
		screenshot(t, ctx, shots, "outbox-phone")
		browse(t, ctx, "desktop width", chromedp.EmulateViewport(1280, 900))
	})

	step(t, "message page", func(t *testing.T) {
		browse(t, ctx, "open a message", chromedp.Navigate(base+"/outbox/"+deferred), chromedp.WaitVisible(chromedp.CSS("pre.body")))
		if d := text(t, ctx, "td.diag"); !strings.Contains(d, "could not connect") {
			t.Fatalf("the deferred recipient's diagnosis is %q", d)
		}
		screenshot(t, ctx, shots, "message")
	})

	step(t, "form without CSRF token", func(t *testing.T) {
		browse(t, ctx, "open the Outbox", chromedp.Navigate(base+"/outbox"),
			chromedp.WaitVisible(chromedp.CSS(`input[value="`+later+`"]`)),
			chromedp.Click(chromedp.CSS(`input[value="`+later+`"]`)))
		if _, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`document.querySelector('#actions input[name="csrf"]').remove() || true`)); err != nil {
			t.Fatal(err)
		}
		click(t, ctx, `#actions button[value="hold"]`)
		if h := text(t, ctx, "h1"); h != "Not allowed" {
			t.Fatalf("a form without its token led to %q, want the 403 page", h)
		}
		if st := apiItem(t, p.adminAddr, later)["state"]; st != "delayed" {
			t.Fatalf("the refused Hold changed the message to %v", st)
		}
	})

	step(t, "test connect on a closed port", func(t *testing.T) {
		browse(t, ctx, "open Servers", chromedp.Navigate(base+"/servers"), chromedp.WaitVisible(chromedp.CSS("#p-closed")))
		click(t, ctx, `#p-closed .actions form:first-child button`)
		res := text(t, ctx, "#test-result")
		if !strings.Contains(res, fmt.Sprintf("could not connect to 127.0.0.1:%d", closedPort)) {
			t.Fatalf("Test connect on a closed port shows:\n%s", res)
		}
		screenshot(t, ctx, shots, "servers")
	})

	step(t, "pause and resume", func(t *testing.T) {
		browse(t, ctx, "open Servers", chromedp.Navigate(base+"/servers"), chromedp.WaitVisible(chromedp.CSS("#p-fast")))
		click(t, ctx, `form[action="/servers/fast/pause"] button`)
		if msg := text(t, ctx, ".flash"); !strings.Contains(msg, "Paused fast") {
			t.Fatalf("after Pause the page says %q", msg)
		}
		held := submit(t, p.smtpAddr, "crm@example.com", "customer@example.org", "Sent while paused", "X-Relay-Profile: fast\r\n")
		submit(t, p.smtpAddr, "crm@example.com", "customer@example.org", "Control while paused", "X-Relay-Profile: fast2\r\n")
		if err := poll(30*time.Second, func() (bool, error) { return delivered(upstream, "Control while paused"), nil }); err != nil {
			t.Fatal("the control message through fast2 was not delivered")
		}
		if delivered(upstream, "Sent while paused") {
			t.Fatal("a message through the paused profile was delivered")
		}
		resp, err := (&http.Client{Timeout: 10 * time.Second}).Get(base + "/api/v1/profiles")
		if err != nil {
			t.Fatal(err)
		}
		var buf strings.Builder
		fmt.Fprint(&buf, resp.Body)
		resp.Body.Close()
		browse(t, ctx, "open Servers", chromedp.Navigate(base+"/servers"), chromedp.WaitVisible(chromedp.CSS(`form[action="/servers/fast/resume"]`)))
		click(t, ctx, `form[action="/servers/fast/resume"] button`)
		if err := poll(30*time.Second, func() (bool, error) { return delivered(upstream, "Sent while paused"), nil }); err != nil {
			t.Fatalf("after Resume message %s was not delivered", held)
		}
	})

	step(t, "team user", func(t *testing.T) {
		browse(t, ctx, "open Overview", chromedp.Navigate(base+"/"), chromedp.WaitVisible(chromedp.CSS(".who button")))
		click(t, ctx, ".who button")
		browse(t, ctx, "log in as anna", chromedp.WaitVisible(chromedp.CSS(`input[name="username"]`)),
			chromedp.SendKeys(chromedp.CSS(`input[name="username"]`), "anna"),
			chromedp.SendKeys(chromedp.CSS(`input[name="password"]`), "anna-pass"))
		click(t, ctx, `form[action="/login"] button[type="submit"]`)
		browse(t, ctx, "open the Outbox", chromedp.Navigate(base+"/outbox"), chromedp.WaitVisible(chromedp.CSS("table.outbox")))
		page := text(t, ctx, "table.outbox")
		if !strings.Contains(page, "Newsletter December") || strings.Contains(page, "Support ticket 4711") {
			t.Fatalf("anna's Outbox:\n%s", page)
		}
		browse(t, ctx, "open the support message", chromedp.Navigate(base+"/outbox/"+support), chromedp.WaitVisible(chromedp.CSS("h1")))
		if h := text(t, ctx, "h1"); h != "Not found" {
			t.Fatalf("another team's message by URL shows %q, want Not found", h)
		}
	})
}
