package main

// Black-box end-to-end tests: they run the built relayd binary (see
// e2e_helpers_test.go) against docs/relayd.8.md (CLI, exit codes, signals),
// docs/relayd.toml.5.md (TOML) and docs/smtp.md (SMTP replies, added
// headers, a 250 is never lost).

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"net"
	"net/mail"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/emersion/go-smtp"
)

// TestE2EStartTLSAuthUpstream: one message through relayd to a smarthost
// that requires STARTTLS and AUTH PLAIN, with the password given by
// password_env and by password_file.
func TestE2EStartTLSAuthUpstream(t *testing.T) {
	secretDir := t.TempDir()
	passFile := filepath.Join(secretDir, "up.pass")
	if err := os.WriteFile(passFile, []byte(e2ePass+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ name, secret string }{
		{"password_env", fmt.Sprintf("password_env = %q", e2ePassEnv)},
		{"password_file", fmt.Sprintf("password_file = %q", passFile)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pki := newPKI(t, t.TempDir())
			up := newUpstream(t, pki)
			up.start()
			p := startRelayd(t, e2eConfig(cfgParams{SMTPPort: freePort(t), AdminPort: freePort(t),
				UpstreamPort: up.port, CAFile: pki.caFile, Secret: tc.secret}))

			msg := "From: App <app@example.com>\r\n" +
				"To: Alice <alice@example.net>\r\n" +
				"Bcc: Hidden <hidden@example.org>\r\n" +
				"Subject: e2e starttls auth\r\n" +
				"\r\n" +
				"Hello upstream.\r\n"
			rcpts := []string{"alice@example.net", "hidden@example.org"}
			res, err := sendMail(p.smtpAddr, "app@example.com", rcpts, msg, 10*time.Second)
			if err != nil {
				t.Fatalf("send: %v (reply %q)", err, res.Reply)
			}
			t.Logf("relayd replied %q", res.Reply)

			up.waitMessages(t, 1, 15*time.Second)
			p.stop() // nothing can arrive after this: "exactly one" is final
			got := up.messages()
			if len(got) != 1 {
				t.Fatalf("upstream got %d transactions, want exactly 1", len(got))
			}
			checkDelivered(t, got[0], res.QueueID, rcpts)
		})
	}
}

// checkDelivered asserts the envelope, TLS/AUTH state and the added headers
// (docs/smtp.md).
func checkDelivered(t *testing.T, m upMsg, queueID string, rcpts []string) {
	t.Helper()
	if m.From != "app@example.com" {
		t.Errorf("envelope from = %q, want app@example.com", m.From)
	}
	if strings.Join(m.To, ",") != strings.Join(rcpts, ",") {
		t.Errorf("envelope rcpts = %q, want %q", m.To, rcpts)
	}
	if !m.TLS {
		t.Error("upstream transaction was not over TLS (tls = starttls-required)")
	}
	if m.User != e2eUser {
		t.Errorf("authenticated user = %q, want %q", m.User, e2eUser)
	}
	parsed, err := mail.ReadMessage(bytes.NewReader(m.Data))
	if err != nil {
		t.Fatalf("delivered message does not parse: %v\n%s", err, m.Data)
	}
	h := parsed.Header
	found := false
	for _, rcv := range h["Received"] {
		if strings.Contains(rcv, "[127.0.0.1]") && strings.Contains(rcv, queueID) {
			found = true
		}
	}
	if !found {
		t.Errorf("no Received: with [127.0.0.1] and queue ID %s; got %q", queueID, h["Received"])
	}
	if h.Get("Message-Id") == "" {
		t.Error("no Message-ID: added")
	}
	if _, err := h.Date(); err != nil {
		t.Errorf("Date: missing or invalid (%q): %v", h.Get("Date"), err)
	}
	if len(h["Bcc"]) != 0 {
		t.Errorf("Bcc: not removed: %q", h["Bcc"])
	}
	if h.Get("Subject") != "e2e starttls auth" {
		t.Errorf("Subject = %q", h.Get("Subject"))
	}
	if !bytes.Contains(m.Data, []byte("\r\n\r\nHello upstream.\r\n")) {
		t.Errorf("body not delivered intact:\n%s", m.Data)
	}
	if t.Failed() {
		t.Logf("delivered message:\n%s", m.Data)
	}
}

var xSeqRe = regexp.MustCompile(`(?m)^X-Seq: (\d+)\r?$`)

// crashLoad is the client side of TestE2ECrashKill9: seq numbers to send
// and which of them relayd answered 250.
type crashLoad struct {
	addr  string
	next  chan int
	pause atomic.Bool // phase 1 ends: take no new seq numbers

	mu       sync.Mutex
	accepted map[int]string // seq → queue ID
	failed   int
}

// run sends seq numbers from l.next with n concurrent clients until the
// channel is empty or pause is set; every message on its own connection.
func (l *crashLoad) run(n int) {
	var wg sync.WaitGroup
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for !l.pause.Load() {
				var seq int
				select {
				case seq = <-l.next:
				default:
					return
				}
				msg := fmt.Sprintf("From: app@example.com\r\nTo: sink@example.net\r\nSubject: crash %d\r\nX-Seq: %d\r\n\r\nmessage %d\r\n", seq, seq, seq)
				res, err := sendMail(l.addr, "app@example.com", []string{"sink@example.net"}, msg, 10*time.Second)
				l.mu.Lock()
				if err == nil {
					l.accepted[seq] = res.QueueID
				} else {
					l.failed++
				}
				l.mu.Unlock()
			}
		}()
	}
	wg.Wait()
}

func (l *crashLoad) acceptedCount() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.accepted)
}

// TestE2ECrashKill9: a message answered 250 is never lost: not on a
// crash, kill -9 or restart. The upstream is down while 300 messages are
// sent by 10 clients; relayd is SIGKILLed mid-way and restarted; then the
// upstream comes up and every accepted message must arrive.
func TestE2ECrashKill9(t *testing.T) {
	const total, clients, killAfter = 300, 10, 150
	pki := newPKI(t, t.TempDir())
	up := newUpstream(t, pki) // not started: upstream down
	p := startRelayd(t, e2eConfig(cfgParams{SMTPPort: freePort(t), AdminPort: freePort(t),
		UpstreamPort: up.port, CAFile: pki.caFile}))

	l := &crashLoad{addr: p.smtpAddr, next: make(chan int, total), accepted: map[int]string{}}
	for seq := 1; seq <= total; seq++ {
		l.next <- seq
	}
	phase1 := make(chan struct{})
	go func() {
		defer close(phase1)
		l.run(clients)
	}()
	if err := poll(30*time.Second, func() (bool, error) { return l.acceptedCount() >= killAfter, nil }); err != nil {
		t.Fatalf("relayd accepted only %d messages within 30 s", l.acceptedCount())
	}
	l.pause.Store(true)
	p.kill9()
	select {
	case <-phase1:
	case <-time.After(20 * time.Second):
		t.Fatal("clients did not finish within 20 s of the SIGKILL")
	}
	t.Logf("SIGKILL after %d accepted; %d sends failed", l.acceptedCount(), l.failed)

	start := time.Now()
	p.restart()
	l.pause.Store(false)
	l.run(clients) // the seq numbers never tried before the kill
	t.Logf("restarted and sent the rest in %v; upstream up", time.Since(start).Round(time.Millisecond))
	up.start()
	start = time.Now()

	accepted := l.acceptedCount()
	var delivered map[int]int
	err := poll(60*time.Second, func() (bool, error) {
		delivered = countSeqs(up.messages())
		for seq := range l.accepted {
			if delivered[seq] == 0 {
				return false, nil
			}
		}
		return true, nil
	})
	t.Logf("waited %v for the deliveries", time.Since(start).Round(time.Millisecond))
	if err == nil {
		start = time.Now()
		p.stop()
		t.Logf("SIGTERM to exit: %v", time.Since(start).Round(time.Millisecond))
		delivered = countSeqs(up.messages()) // include anything sent twice before the stop
	}
	lost, dups, extra := 0, 0, 0
	for seq := range l.accepted {
		if delivered[seq] == 0 {
			lost++
		}
	}
	for seq, n := range delivered {
		dups += n - 1
		if _, ok := l.accepted[seq]; !ok {
			extra++
		}
	}
	// delivered counts distinct X-Seq values received, accepted or not.
	line := fmt.Sprintf("accepted=%d delivered=%d lost=%d duplicates=%d", accepted, len(delivered), lost, dups)
	t.Log(line)
	fmt.Printf("%s\n", line)
	t.Logf("not accepted but delivered (committed, reply lost in the kill): %d; failed sends: %d", extra, l.failed)
	if lost > 0 {
		var ids []string
		for seq, id := range l.accepted {
			if delivered[seq] == 0 && len(ids) < 20 {
				ids = append(ids, fmt.Sprintf("X-Seq %d = %s", seq, id))
			}
		}
		t.Fatalf("%d message(s) answered 250 never reached the upstream within 60 s, e.g. %s", lost, strings.Join(ids, ", "))
	}
	if err != nil {
		t.Fatal(err)
	}
}

// countSeqs counts the deliveries of each X-Seq.
func countSeqs(msgs []upMsg) map[int]int {
	n := map[int]int{}
	for _, m := range msgs {
		if sm := xSeqRe.FindSubmatch(m.Data); sm != nil {
			seq, _ := strconv.Atoi(string(sm[1]))
			n[seq]++
		}
	}
	return n
}

// TestE2ECheckConfigTypo: an unknown key is an error naming
// the key and its line (exit 2); a valid file exits 0; a missing -config
// or $RELAYD_CONFIG path exits 2, never falling back.
func TestE2ECheckConfigTypo(t *testing.T) {
	dir := t.TempDir()
	pki := newPKI(t, dir)
	env := childEnv(map[string]string{e2ePassEnv: e2ePass})
	params := cfgParams{SMTPPort: freePort(t), AdminPort: freePort(t), UpstreamPort: freePort(t), CAFile: pki.caFile}

	good := strings.ReplaceAll(e2eConfig(params), e2eDirToken, dir)
	goodPath := filepath.Join(dir, "good.toml")
	if err := os.WriteFile(goodPath, []byte(good), 0o600); err != nil {
		t.Fatal(err)
	}
	if code, stdout, stderr := runRelayd(t, dir, env, "check-config", "-config", goodPath); code != 0 {
		t.Errorf("check-config on a valid file: exit %d, want 0\nstdout:\n%s\nstderr:\n%s\nconfig:\n%s", code, stdout, stderr, good)
	}

	params.Listeners = "\n[[listener]]\nname = \"second\"\nadress = \"127.0.0.1:2526\"\n"
	bad := strings.ReplaceAll(e2eConfig(params), e2eDirToken, dir)
	badPath := filepath.Join(dir, "typo.toml")
	if err := os.WriteFile(badPath, []byte(bad), 0o600); err != nil {
		t.Fatal(err)
	}
	line := 0
	for i, l := range strings.Split(bad, "\n") {
		if strings.HasPrefix(l, "adress") {
			line = i + 1
		}
	}
	code, stdout, stderr := runRelayd(t, dir, env, "check-config", "-config", badPath)
	if code != 2 {
		t.Errorf("check-config with `adress`: exit %d, want 2", code)
	}
	lineRe := regexp.MustCompile(`\b` + strconv.Itoa(line) + `\b`)
	named := false
	for _, l := range strings.Split(stderr, "\n") {
		if strings.Contains(l, "adress") && lineRe.MatchString(l) {
			named = true
		}
	}
	if !named {
		t.Errorf("stderr does not name key `adress` with its line %d:\nstderr:\n%s\nstdout:\n%s", line, stderr, stdout)
	}

	if code, _, stderr := runRelayd(t, dir, env, "check-config", "-config", "/nonexistent/relayd.toml"); code != 2 {
		t.Errorf("check-config -config /nonexistent: exit %d, want 2\n%s", code, stderr)
	}
	envMissing := append(childEnv(nil), "RELAYD_CONFIG=/nonexistent/relayd.toml")
	if code, _, stderr := runRelayd(t, dir, envMissing, "check-config"); code != 2 {
		t.Errorf("RELAYD_CONFIG=/nonexistent check-config: exit %d, want 2\n%s", code, stderr)
	}
}

// TestE2EVersion: `relayd version` exits 0 and names itself.
func TestE2EVersion(t *testing.T) {
	code, stdout, stderr := runRelayd(t, t.TempDir(), childEnv(nil), "version")
	if code != 0 || !strings.Contains(stdout, "relayd") {
		t.Errorf("relayd version: exit %d, stdout %q, stderr %q; want exit 0 and \"relayd\"", code, stdout, stderr)
	}
}

// TestE2ESighupBadConfigRefused: a config that does not validate
// on SIGHUP is refused and counted, and the running one stays.
func TestE2ESighupBadConfigRefused(t *testing.T) {
	pki := newPKI(t, t.TempDir())
	cfg := e2eConfig(cfgParams{SMTPPort: freePort(t), AdminPort: freePort(t), UpstreamPort: freePort(t), CAFile: pki.caFile})
	p := startRelayd(t, cfg)

	broken := strings.Replace(strings.ReplaceAll(cfg, e2eDirToken, p.dir), "[relay]\n", "[relay]\nno_such_key = true\n", 1)
	if err := os.WriteFile(p.cfgPath, []byte(broken), 0o600); err != nil {
		t.Fatal(err)
	}
	p.signal(syscall.SIGHUP)

	const errSeries = `relayd_config_reloads_total{result="error"}`
	var text string
	err := poll(10*time.Second, func() (bool, error) {
		if !p.running() {
			return false, fmt.Errorf("relayd exited (code %d) after SIGHUP with a bad config", p.code)
		}
		text = p.metrics(t)
		v, _ := metricValue(text, errSeries)
		return v == 1, nil
	})
	if err != nil {
		t.Fatalf("%v; /metrics reload lines:\n%s", err, grepLines(text, "relayd_config_reloads_total"))
	}
	if v, ok := metricValue(text, `relayd_config_reloads_total{result="ok"}`); !ok || v != 0 {
		t.Errorf(`relayd_config_reloads_total{result="ok"} = %v (present %v), want 0`, v, ok)
	}

	msg := "From: app@example.com\r\nTo: x@example.net\r\nSubject: after reload\r\n\r\nstill here\r\n"
	if res, err := sendMail(p.smtpAddr, "app@example.com", []string{"x@example.net"}, msg, 10*time.Second); err != nil {
		t.Fatalf("after a refused reload relayd did not accept mail: %v (reply %q)", err, res.Reply)
	}
	p.stop()
}

func grepLines(text, substr string) string {
	var out []string
	for _, l := range strings.Split(text, "\n") {
		if strings.Contains(l, substr) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// TestE2EEmbeddedDefault: `relayd` with no config file runs
// on the embedded default: SMTP on 127.0.0.1:2525, admin on 127.0.0.1:9425,
// state in ./relayd-data.
func TestE2EEmbeddedDefault(t *testing.T) {
	if _, err := os.Stat("/etc/relayd/relayd.toml"); err == nil {
		t.Skip("/etc/relayd/relayd.toml exists on this machine: relayd would use it instead of the embedded default")
	}
	const smtpAddr, adminAddr = "127.0.0.1:2525", "127.0.0.1:9425"
	for _, a := range []string{smtpAddr, adminAddr} {
		if portBusy(a) {
			t.Skipf("%s is in use on this machine; the embedded default needs it", a)
		}
	}
	dir := t.TempDir()
	p := &proc{t: t, dir: dir, adminAddr: adminAddr, smtpAddr: smtpAddr, out: &lockedBuffer{},
		env: childEnv(map[string]string{"HOME": dir})}
	t.Cleanup(func() {
		p.shutdown()
		if t.Failed() || os.Getenv("RELAYD_E2E_LOG") == "1" {
			t.Logf("relayd output:\n%s", p.out.String())
		}
	})
	p.startCmd(relaydBinary(t))
	p.waitReady(10 * time.Second)

	conn, err := net.DialTimeout("tcp", smtpAddr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	conn.SetDeadline(time.Now().Add(5 * time.Second))
	greeting, err := bufio.NewReader(conn).ReadString('\n')
	conn.Write([]byte("QUIT\r\n"))
	conn.Close()
	if err != nil || !regexp.MustCompile(`^220 \S+ ESMTP relayd\r?\n$`).MatchString(greeting) {
		t.Errorf("greeting %q (err %v), want \"220 <hostname> ESMTP relayd\"", greeting, err)
	}

	// The embedded default's profile is direct: an address-literal
	// recipient is refused at RCPT with 550 5.1.2. (A message
	// to a domain would make relayd ask the system's DNS, which tests
	// never do.)
	msg := "From: app@example.com\r\nTo: postmaster@[127.0.0.1]\r\nSubject: first run\r\n\r\nhello\r\n"
	_, err = sendMail(smtpAddr, "", []string{"postmaster@[127.0.0.1]"}, msg, 10*time.Second)
	var se *smtp.SMTPError
	if !errors.As(err, &se) || se.Code != 550 || se.EnhancedCode != (smtp.EnhancedCode{5, 1, 2}) {
		t.Errorf("address-literal recipient on the embedded default: %v, want 550 5.1.2", err)
	}
	if fi, err := os.Stat(filepath.Join(dir, "relayd-data")); err != nil || !fi.IsDir() {
		t.Errorf("./relayd-data not created in the working directory: %v", err)
	}
	p.stop()
}
