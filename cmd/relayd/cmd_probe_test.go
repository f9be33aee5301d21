package main

import (
	"bytes"
	"crypto/tls"
	"encoding/base64"
	"fmt"
	"io"
	"log"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"

	"github.com/relayd/relayd/cmd/relayd/config/configtest"
)

// The account of the probe tests' upstream.
const (
	probeUser = "crm@example.com"
	probePass = "Pr0be-s3cret!"
)

// probePeer is a go-smtp upstream on 127.0.0.1:0 with STARTTLS (the e2e
// test CA) and AUTH PLAIN, whose MAIL can be made to fail; it records the
// messages it accepts.
type probePeer struct {
	port   int
	caFile string

	mu      sync.Mutex
	mailErr error
	msgs    []string
	mails   []string // MAIL FROM addresses, in order
	rcpts   []string // RCPT TO addresses, in order
}

func newProbePeer(t *testing.T) *probePeer { return newProbePeerTLS(t, false) }

// newProbePeerTLS is newProbePeer, with TLS from the first byte (port 465
// style) when implicit is set.
func newProbePeerTLS(t *testing.T, implicit bool) *probePeer {
	t.Helper()
	dir := t.TempDir()
	pki := newPKI(t, dir)
	p := &probePeer{caFile: pki.caFile}
	s := smtp.NewServer(smtp.BackendFunc(func(*smtp.Conn) (smtp.Session, error) { return &probeSession{p: p}, nil }))
	s.Domain, s.TLSConfig = "upstream.test", pki.serverTLS
	s.ReadTimeout, s.WriteTimeout = 10*time.Second, 10*time.Second
	s.ErrorLog = log.New(io.Discard, "", 0)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p.port = ln.Addr().(*net.TCPAddr).Port
	if implicit {
		s.TLSConfig = nil // no STARTTLS inside the TLS connection
		ln = tls.NewListener(ln, pki.serverTLS)
	}
	go s.Serve(ln)
	t.Cleanup(func() { s.Close() })
	return p
}

func (p *probePeer) messages() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.msgs...)
}

type probeSession struct {
	p    *probePeer
	user string
}

var _ smtp.AuthSession = (*probeSession)(nil)

func (s *probeSession) AuthMechanisms() []string { return []string{sasl.Plain} }

func (s *probeSession) Auth(string) (sasl.Server, error) {
	return sasl.NewPlainServer(func(_, user, pass string) error {
		if user != probeUser || pass != probePass {
			return smtp.ErrAuthFailed // 535 5.7.8
		}
		s.user = user
		return nil
	}), nil
}

func (s *probeSession) Mail(from string, _ *smtp.MailOptions) error {
	s.p.mu.Lock()
	defer s.p.mu.Unlock()
	s.p.mails = append(s.p.mails, from)
	return s.p.mailErr
}

func (s *probeSession) Rcpt(to string, _ *smtp.RcptOptions) error {
	s.p.mu.Lock()
	defer s.p.mu.Unlock()
	s.p.rcpts = append(s.p.rcpts, to)
	return nil
}

func (s *probeSession) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	s.p.mu.Lock()
	s.p.msgs = append(s.p.msgs, string(b))
	s.p.mu.Unlock()
	return err
}

func (s *probeSession) Reset()        {}
func (s *probeSession) Logout() error { return nil }

// probeConfig writes a config with profile "up" (STARTTLS required, AUTH)
// for port, and a second profile "other", and returns its path.
func probeConfig(t *testing.T, port int, caFile, password, extra string) string {
	t.Helper()
	dir := t.TempDir()
	cfg := fmt.Sprintf(`[server]
hostname = "relay.test"
state_dir = %s

[relay]
default_profile = "up"

[[profile]]
name = "up"
host = "127.0.0.1"
port = %d
tls = "starttls-required"
ca_file = %s
username = %q
password = %q
timeout = "5s"
%s
[[profile]]
name = "other"
type = "direct"
`, configtest.TOMLPath(filepath.Join(dir, "state")), port, configtest.TOMLPath(caFile), probeUser, password, extra)
	return configtest.WriteFile(t, dir, "relayd.toml", cfg, 0o600)
}

// runProbe runs `relayd test` and checks that no form of the password
// shows in its output.
func runProbe(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(append([]string{"test"}, args...), &out, &errb)
	for _, secret := range []string{probePass, base64.StdEncoding.EncodeToString([]byte(probePass)),
		base64.StdEncoding.EncodeToString([]byte("\x00" + probeUser + "\x00" + probePass))} {
		if strings.Contains(out.String()+errb.String(), secret) {
			t.Errorf("the output shows the password (%q):\n%s%s", secret, out.String(), errb.String())
		}
	}
	return code, out.String(), errb.String()
}

var stepLine = regexp.MustCompile(`^  (ok  |FAIL) ([a-z]+) +(.*)   (\d+) ms$`)

// stepLines returns the "  ok   step ..." lines: status and step each.
func stepLines(t *testing.T, out string) (status, steps []string) {
	t.Helper()
	for _, l := range strings.Split(out, "\n") {
		if m := stepLine.FindStringSubmatch(l); m != nil {
			status, steps = append(status, strings.TrimSpace(m[1])), append(steps, m[2])
		}
	}
	return status, steps
}

func TestProbeCommandClosedPort(t *testing.T) {
	port := freePort(t)
	cfg := probeConfig(t, port, newPKI(t, t.TempDir()).caFile, probePass, "")
	code, out, errs := runProbe(t, "up", "-config", cfg)
	want := fmt.Sprintf("could not connect to 127.0.0.1:%d (connection refused): the host is not a mail server "+
		"or the port is closed or firewalled", port)
	if code != 1 || !strings.Contains(out, "\n\nprofile up: "+want) {
		t.Errorf("exit %d, want 1 and %q:\n%s%s", code, want, out, errs)
	}
	if status, steps := stepLines(t, out); strings.Join(status, " ") != "ok FAIL" || strings.Join(steps, " ") != "resolve connect" {
		t.Errorf("steps %q %q:\n%s", status, steps, out)
	}
}

func TestProbeCommandAuthFailed(t *testing.T) {
	peer := newProbePeer(t)
	cfg := probeConfig(t, peer.port, peer.caFile, probePass+"-old", "")
	code, out, errs := runProbe(t, "-config", cfg, "up")
	want := fmt.Sprintf("authentication failed for %s at 127.0.0.1:%d: wrong username or password", probeUser, peer.port)
	if code != 1 || !strings.Contains(out, want) {
		t.Errorf("exit %d, want 1 and %q:\n%s%s", code, want, out, errs)
	}
	if !strings.Contains(out, "  FAIL auth      535 5.7.8 Authentication failed   ") {
		t.Errorf("no FAIL auth line:\n%s", out)
	}
}

func TestProbeCommandSenderRejected(t *testing.T) {
	peer := newProbePeer(t)
	peer.mailErr = &smtp.SMTPError{Code: 553, EnhancedCode: smtp.EnhancedCode{5, 7, 1},
		Message: "Sender address rejected: not owned by user"}
	cfg := probeConfig(t, peer.port, peer.caFile, probePass, "")
	code, out, errs := runProbe(t, "up", "-config", cfg, "-from", "boss@example.com", "-to", "x@example.org")
	want := fmt.Sprintf("sender address boss@example.com rejected by 127.0.0.1:%d: this account may not send as "+
		"boss@example.com; set from_address or use the account's own address", peer.port)
	if code != 1 || !strings.Contains(out, want) {
		t.Errorf("exit %d, want 1 and %q:\n%s%s", code, want, out, errs)
	}
	_, steps := stepLines(t, out)
	if got := strings.Join(steps, " "); got != "resolve connect banner ehlo starttls auth mail" {
		t.Errorf("steps %q", got)
	}
}

func TestProbeCommandSend(t *testing.T) {
	peer := newProbePeer(t)
	cfg := probeConfig(t, peer.port, peer.caFile, probePass, "")
	code, out, errs := runProbe(t, "up", "-send", "-config", cfg, "-to", "rcpt@example.org")
	if code != 0 || errs != "" {
		t.Fatalf("exit %d:\n%s%s", code, out, errs)
	}
	status, steps := stepLines(t, out)
	if got := strings.Join(steps, " "); got != "resolve connect banner ehlo starttls auth mail rcpt data dot quit" {
		t.Errorf("steps %q:\n%s", got, out)
	}
	for i, s := range status {
		if s != "ok" {
			t.Errorf("step %s: %s", steps[i], s)
		}
	}
	// Without -from: [notify] from, by default MAILER-DAEMON@hostname.
	for _, want := range []string{"testing profile up (127.0.0.1, port ", "MAIL FROM:<MAILER-DAEMON@relay.test>",
		"RCPT TO:<rcpt@example.org>", "PLAIN as " + probeUser, `certificate "localhost" issued by "relayd e2e test CA"`,
		"profile up: all steps ok: the test message was accepted"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	msgs := peer.messages()
	if len(msgs) != 1 || !strings.Contains(msgs[0], "Subject: relayd test message from relay.test\r\n") ||
		!strings.Contains(msgs[0], "From: <MAILER-DAEMON@relay.test>\r\n") {
		t.Errorf("messages %q", msgs)
	}
}

func TestProbeCommandUsage(t *testing.T) {
	peer := newProbePeer(t)
	cfg := probeConfig(t, peer.port, peer.caFile, probePass, "")
	code, out, errs := runProbe(t, "nosuch", "-config", cfg)
	if code != 2 || !strings.Contains(errs, `no profile is named "nosuch"; the profiles are: other, up`) {
		t.Errorf("unknown profile: exit %d:\n%s%s", code, out, errs)
	}
	if code, _, errs := runProbe(t, "-config", cfg); code != 2 || !strings.Contains(errs, "usage: relayd test PROFILE") {
		t.Errorf("no profile: exit %d %s", code, errs)
	}
	if code, _, errs := runProbe(t, "other", "-config", cfg); code != 2 || !strings.Contains(errs, "give -to ADDR") {
		t.Errorf("direct without a recipient: exit %d %s", code, errs)
	}
	if code, _, _ := runProbe(t, "up", "-bogus", "-config", cfg); code != 2 {
		t.Errorf("bad flag: exit %d", code)
	}
	// Without -from/-to/-send no MAIL is sent, so the account's own
	// address is not needed.
	code, out, errs = runProbe(t, "up", "-config", cfg)
	if _, steps := stepLines(t, out); code != 0 || strings.Join(steps, " ") != "resolve connect banner ehlo starttls auth quit" {
		t.Errorf("plain test: exit %d:\n%s%s", code, out, errs)
	}
}

// TestProbeCommandTranscript: debug_transcript reaches upstream.Target,
// and relayd test writes its session there with AUTH redacted.
func TestProbeCommandTranscript(t *testing.T) {
	peer := newProbePeer(t)
	path := filepath.Join(t.TempDir(), "up.log")
	cfg := probeConfig(t, peer.port, peer.caFile, probePass, "debug_transcript = "+configtest.TOMLPath(path)+"\n")
	if code, out, errs := runProbe(t, "up", "-config", cfg, "-to", "a@example.org"); code != 0 {
		t.Fatalf("exit %d:\n%s%s", code, out, errs)
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	b := string(raw)
	for _, want := range []string{"C: AUTH PLAIN <redacted>", "C: RCPT TO:<a@example.org>", "C: RSET"} {
		if !strings.Contains(b, want) {
			t.Errorf("transcript lacks %q:\n%s", want, b)
		}
	}
	if strings.Contains(b, probePass) || strings.Contains(b, base64.StdEncoding.EncodeToString([]byte("\x00"+probeUser+"\x00"+probePass))) {
		t.Errorf("transcript shows the password:\n%s", b)
	}
}
