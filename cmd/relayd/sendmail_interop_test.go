package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Interop of `relayd sendmail` with the programs that run /usr/sbin/sendmail
// (docs/relayd.8.md): PHP's mail(), bsd-mailx, swaks as a -bs client (the Laravel
// and Symfony transports' dialogue), and cron's invocation. Each message
// reaches the loopback upstream through relayd; envelope and headers are
// asserted there.

// TestSendmailInteropPHP: mail() with sendmail_path "... -t -i", To, Cc and
// Bcc, and a line with a single dot in the body.
func TestSendmailInteropPHP(t *testing.T) {
	php := interopTool(t, "php", "php-cli", true)
	e := startSendmailRelayd(t, "")
	script := `$ok = mail("alice@example.net", "php subject", "line one\n.\nline three\n",
		"From: App <app@example.com>\r\nCc: carol@example.net\r\nBcc: bob@example.org");
exit($ok ? 0 : 3);`
	code, out, errOut := runProg(t, e.env(), "", php, "-n", "-d", "sendmail_path="+e.bin+" sendmail -t -i", "-r", script)
	if code != 0 {
		t.Fatalf("php mail(): exit %d\n%s%s", code, out, errOut)
	}
	m, msg := e.delivered(t)
	wantEnvelope(t, m, currentUser(t)+"@relay.test", "alice@example.net", "carol@example.net", "bob@example.org")
	if len(msg.Header["Bcc"]) != 0 || strings.Contains(strings.ToLower(string(m.Data)), "\nbcc:") {
		t.Errorf("Bcc: header was delivered:\n%s", m.Data)
	}
	if msg.Header.Get("Subject") != "php subject" || msg.Header.Get("From") != "App <app@example.com>" || msg.Header.Get("Cc") != "carol@example.net" {
		t.Errorf("headers: %q", msg.Header)
	}
	if !strings.Contains(string(m.Data), "\r\n\r\nline one\r\n.\r\nline three\r\n") {
		t.Errorf("the dot line is not intact (-i):\n%q", m.Data)
	}
	wantReceivedLocal(t, msg, currentUser(t))
}

// TestSendmailInteropMailx: `mail -s subj rcpt` of bsd-mailx, whose
// sendmail variable points at the `sendmail` link (argv[0] dispatch).
func TestSendmailInteropMailx(t *testing.T) {
	mailx := interopTool(t, "bsd-mailx", "bsd-mailx", true)
	e := startSendmailRelayd(t, "")
	rc := filepath.Join(e.home, ".mailrc")
	if err := os.WriteFile(rc, []byte("set sendmail="+e.link+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	env := append(e.env(), "MAILRC="+rc)
	code, out, errOut := runProg(t, env, "hello from mailx\n", mailx, "-s", "mailx subject", "alice@example.net")
	if code != 0 {
		t.Fatalf("mail -s: exit %d\n%s%s", code, out, errOut)
	}
	m, msg := e.delivered(t)
	wantEnvelope(t, m, currentUser(t)+"@relay.test", "alice@example.net")
	if msg.Header.Get("Subject") != "mailx subject" || msg.Header.Get("To") != "alice@example.net" {
		t.Errorf("headers: %q", msg.Header)
	}
	if msg.Header.Get("From") != currentUser(t)+"@relay.test" {
		t.Errorf("From: %q, want the sender (added: mailx writes none)", msg.Header.Get("From"))
	}
	if !strings.Contains(string(m.Data), "\r\n\r\nhello from mailx\r\n") {
		t.Errorf("body:\n%q", m.Data)
	}
}

// TestSendmailInteropSwaksBS: swaks speaks SMTP through `relayd sendmail
// -bs` (what Laravel's and Symfony's sendmail transports do).
func TestSendmailInteropSwaksBS(t *testing.T) {
	swaks := interopTool(t, "swaks", "swaks", true)
	e := startSendmailRelayd(t, "")
	code, out, errOut := runProg(t, e.env(), "", swaks, "--pipe", e.bin+" sendmail -bs",
		"--from", "app@example.com", "--to", "alice@example.net,bob@example.org",
		"--header", "Subject: swaks -bs", "--body", "hello over -bs")
	if code != 0 || !strings.Contains(out, "250 2.0.0 Ok: queued as ") {
		t.Fatalf("swaks --pipe: exit %d\n%s%s", code, out, errOut)
	}
	m, msg := e.delivered(t)
	wantEnvelope(t, m, "app@example.com", "alice@example.net", "bob@example.org")
	if msg.Header.Get("Subject") != "swaks -bs" {
		t.Errorf("Subject: %q", msg.Header.Get("Subject"))
	}
	wantReceivedLocal(t, msg, currentUser(t))
}

// TestSendmailInteropCron: cronie's invocation, `sendmail -FCronDaemon -i
// -odi -oem -oi -t -f root`, with the header cronie writes (no From:, so
// -F makes one).
func TestSendmailInteropCron(t *testing.T) {
	e := startSendmailRelayd(t, "")
	in := "To: root\nSubject: Cron <root@host> /usr/local/bin/report\nMIME-Version: 1.0\n" +
		"Content-Type: text/plain; charset=UTF-8\nAuto-Submitted: auto-generated\nPrecedence: bulk\n" +
		"X-Cron-Env: <SHELL=/bin/sh>\n\nreport output\n.\nmore output\n"
	code, out, errOut := runProg(t, e.env(), in, e.link, "-FCronDaemon", "-i", "-odi", "-oem", "-oi", "-t", "-f", "root")
	if code != 0 {
		t.Fatalf("cron invocation: exit %d\n%s%s", code, out, errOut)
	}
	m, msg := e.delivered(t)
	wantEnvelope(t, m, "root@relay.test", "root@relay.test")
	if got := msg.Header.Get("From"); got != "CronDaemon <root@relay.test>" {
		t.Errorf("From: %q, want CronDaemon <root@relay.test>", got)
	}
	if msg.Header.Get("Auto-Submitted") != "auto-generated" || msg.Header.Get("To") != "root" {
		t.Errorf("headers: %q", msg.Header)
	}
	if !strings.Contains(string(m.Data), "\r\nreport output\r\n.\r\nmore output\r\n") {
		t.Errorf("body:\n%q", m.Data)
	}
}

// TestSendmailUnixUsersTeam: run as user nobody, with unix_users =
// ["nobody"], the message takes that team's profile; the admin API shows
// the team, and Received: names the user.
func TestSendmailUnixUsersTeam(t *testing.T) {
	setpriv := interopTool(t, "setpriv", "util-linux", true)
	if os.Getuid() != 0 {
		if peerInCI() {
			t.Fatal("running a program as nobody needs root")
		}
		t.Skip("running a program as nobody needs root (run the tests as root)")
	}
	e := startSendmailRelayd(t, `
[[profile]]
name = "ops-up"
host = "127.0.0.1"
port = @UPPORT@
tls = "starttls-required"
ca_file = "@CAFILE@"
username = "`+e2eUser+`"
password_env = "`+e2ePassEnv+`"

[[team]]
name = "ops"
default_profile = "ops-up"
unix_users = ["nobody"]
`)
	// nobody must reach the binary, the config and the socket: the test's
	// directories are private (0700) to root.
	bin := filepath.Join(t.TempDir(), "relayd")
	copyFile(t, e.bin, bin, 0o755)
	for _, d := range []string{filepath.Dir(bin), filepath.Dir(filepath.Dir(bin))} {
		chmodT(t, d, 0o755)
	}
	chmodT(t, e.p.dir, 0o711)
	chmodT(t, filepath.Dir(e.p.dir), 0o711)
	chmodT(t, e.p.cfgPath, 0o644) // holds no secret: password_env
	code, out, errOut := runProg(t, e.env(), "Subject: as nobody\n\nhello\n", setpriv,
		"--reuid=nobody", "--regid=nogroup", "--clear-groups", bin, "sendmail", "-f", "app@example.com", "alice@example.net")
	if code != 0 {
		t.Fatalf("sendmail as nobody: exit %d\n%s%s", code, out, errOut)
	}
	e.up.waitMessages(t, 1, 15*time.Second)
	var items []queueItem
	if err := json.Unmarshal([]byte(httpGet(t, "http://"+e.p.adminAddr+"/api/v1/queue?state=sent")), &items); err != nil {
		t.Fatal(err)
	}
	if len(items) != 1 || items[0].Team != "ops" || len(items[0].Recipients) != 1 ||
		items[0].Recipients[0].Profile != "ops-up" || items[0].Recipients[0].Rule != "team ops default" {
		t.Errorf("admin API: %+v; want team ops, profile ops-up by the team default", items)
	}
	m, msg := e.delivered(t)
	wantEnvelope(t, m, "app@example.com", "alice@example.net")
	wantReceivedLocal(t, msg, "nobody")
}

// TestSendmailMailq: `mailq` (and -bp) lists the queue through the admin API.
func TestSendmailMailq(t *testing.T) {
	e := startSendmailRelayd(t, `
[[profile]]
name = "slow"
host = "127.0.0.1"
port = @UPPORT@
ca_file = "@CAFILE@"
send_delay = "1h"

[[route]]
recipient = "*@later.test"
profile = "slow"
`)
	code, _, errOut := runProg(t, e.env(), "Subject: later\n\nx\n", e.link, "-f", "app@example.com", "someone@later.test")
	if code != 0 {
		t.Fatalf("sendmail: exit %d: %s", code, errOut)
	}
	mailq := filepath.Join(filepath.Dir(e.link), "mailq")
	for _, args := range [][]string{{mailq}, {e.link, "-bp"}} {
		code, out, errOut := runProg(t, e.env(), "", args[0], args[1:]...)
		if code != 0 || !strings.Contains(out, "someone@later.test") || !strings.Contains(out, "delayed") {
			t.Errorf("%s: exit %d, stdout %q, stderr %q; want the delayed message listed", strings.Join(args, " "), code, out, errOut)
		}
	}
}

func copyFile(t *testing.T, from, to string, mode os.FileMode) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, b, mode); err != nil {
		t.Fatal(err)
	}
}

func chmodT(t *testing.T, path string, mode os.FileMode) {
	t.Helper()
	if err := os.Chmod(path, mode); err != nil {
		t.Fatal(err)
	}
}
