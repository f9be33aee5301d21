package main

// Helpers for interop_test.go: finding real peers from Debian packages
// (skip locally, fail under CI=true, naming the package), running them
// bounded, a plain go-smtp sink, and a private throw-away Postfix instance
// (package postfixpeer, with the tests' own main.cf settings). Everything
// listens on 127.0.0.1.

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"io"
	"log"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"github.com/relayd/relayd/cmd/internal/postfixpeer"
)

// peerInCI reports whether a missing peer must fail the test (CI=true)
// rather than skip it.
func peerInCI() bool { return os.Getenv("CI") == "true" }

// missingPeer skips the test locally and fails it under CI=true.
func missingPeer(t *testing.T, what, pkg string) {
	t.Helper()
	if peerInCI() {
		t.Fatalf("interop: %s not available: apt-get install %s", what, pkg)
	}
	t.Skipf("interop: %s not available (apt-get install %s)", what, pkg)
}

// interopTool returns the path of a peer program, looking in PATH and in
// /usr/sbin and /usr/bin (Postfix's tools live in /usr/sbin). preferSystem
// takes /usr/bin/NAME over PATH (python3 from Debian, not a pyenv shim).
func interopTool(t *testing.T, name, pkg string, preferSystem bool) string {
	t.Helper()
	if preferSystem {
		for _, dir := range []string{"/usr/bin", "/usr/sbin"} {
			if p := filepath.Join(dir, name); peerExecutable(p) {
				return p
			}
		}
	}
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	for _, dir := range []string{"/usr/sbin", "/usr/bin", "/sbin"} {
		if p := filepath.Join(dir, name); peerExecutable(p) {
			return p
		}
	}
	missingPeer(t, name, pkg)
	return ""
}

func peerExecutable(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && !fi.IsDir() && fi.Mode()&0o111 != 0
}

// peerEnv is the environment for peers: no proxies (everything is loopback)
// and the C locale, so outputs are stable.
func peerEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		switch strings.ToLower(k) {
		case "http_proxy", "https_proxy", "all_proxy", "ftp_proxy", "no_proxy", "lc_all", "lang":
			continue
		}
		env = append(env, kv)
	}
	return append(env, "LC_ALL=C", "NO_PROXY=*")
}

// runPeer runs a peer program with stdin, bounded by 60 s, and returns its
// combined output.
func runPeer(t *testing.T, stdin string, bin string, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = peerEnv()
	cmd.Stdin = strings.NewReader(stdin)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	if ctx.Err() != nil {
		err = fmt.Errorf("%s did not finish within 60 s: %w", filepath.Base(bin), ctx.Err())
	}
	return out.String(), err
}

// peerVersion returns the first non-empty line a version command prints.
func peerVersion(t *testing.T, bin string, args ...string) string {
	t.Helper()
	out, _ := runPeer(t, "", bin, args...)
	for _, line := range strings.Split(out, "\n") {
		if s := strings.TrimSpace(line); s != "" {
			return s
		}
	}
	return "unknown"
}

// waitForMsg polls get until a message satisfies pred (bounded by within).
func waitForMsg(t *testing.T, what string, get func() []upMsg, pred func(upMsg) bool, within time.Duration) upMsg {
	t.Helper()
	var found upMsg
	err := poll(within, func() (bool, error) {
		for _, m := range get() {
			if pred(m) {
				found = m
				return true, nil
			}
		}
		return false, nil
	})
	if err != nil {
		var got []string
		for _, m := range get() {
			got = append(got, fmt.Sprintf("from %q to %q", m.From, m.To))
		}
		t.Fatalf("%s: no matching message within %v; got %d: %v", what, within, len(got), got)
	}
	return found
}

// onlyRcpt matches a message whose only envelope recipient is rcpt.
func onlyRcpt(rcpt string) func(upMsg) bool {
	return func(m upMsg) bool { return len(m.To) == 1 && m.To[0] == rcpt }
}

// plainSink is a go-smtp server without TLS or AUTH that records every
// transaction: the end of the line behind a Postfix relayhost.
type plainSink struct {
	port int
	mu   sync.Mutex
	msgs []upMsg
}

type plainSession struct {
	s    *plainSink
	from string
	to   []string
}

func (ps *plainSession) Mail(from string, _ *smtp.MailOptions) error {
	ps.from, ps.to = from, nil
	return nil
}
func (ps *plainSession) Rcpt(to string, _ *smtp.RcptOptions) error {
	ps.to = append(ps.to, to)
	return nil
}
func (ps *plainSession) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	ps.s.mu.Lock()
	ps.s.msgs = append(ps.s.msgs, upMsg{From: ps.from, To: append([]string(nil), ps.to...), Data: b})
	ps.s.mu.Unlock()
	return nil
}
func (ps *plainSession) Reset()        { ps.from, ps.to = "", nil }
func (ps *plainSession) Logout() error { return nil }

func newPlainSink(t *testing.T) *plainSink {
	t.Helper()
	s := &plainSink{}
	srv := smtp.NewServer(smtp.BackendFunc(func(*smtp.Conn) (smtp.Session, error) { return &plainSession{s: s}, nil }))
	srv.Domain = "sink.test"
	srv.EnableSMTPUTF8 = true
	srv.ReadTimeout, srv.WriteTimeout = 30*time.Second, 30*time.Second
	srv.ErrorLog = log.New(io.Discard, "", 0)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s.port = ln.Addr().(*net.TCPAddr).Port
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return s
}

func (s *plainSink) messages() []upMsg {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]upMsg(nil), s.msgs...)
}

// postfixOpts configure a private Postfix (package postfixpeer).
type postfixOpts struct {
	SMTPPort  int     // smtpd on 127.0.0.1:SMTPPort; 0 = none (sendmail only)
	RelayHost string  // "[127.0.0.1]:PORT": every message goes there
	PKI       *e2ePKI // smtpd STARTTLS with the PKI's server certificate; nil = no TLS
	SASLUser  string  // "user@realm": smtpd requires AUTH (Cyrus sasldb) to relay; "" = no SASL
	SASLPass  string
}

// needPostfix checks for everything a private Postfix needs: it skips the
// test locally and fails it under CI=true, naming the package to install.
func needPostfix(t *testing.T, sasl bool) {
	t.Helper()
	if what, pkg := postfixpeer.Missing(sasl); what != "" {
		missingPeer(t, what, pkg)
	}
}

// interopPostfixSettings are the interop tests' own main.cf settings on
// top of postfixpeer's null client: fast retries, no DNS, a fixed banner.
func interopPostfixSettings() []string {
	return []string{
		"append_dot_mydomain = no",
		"smtpd_peername_lookup = no",
		"smtp_dns_support_level = disabled",
		"smtp_host_lookup = native",
		"smtpd_banner = $myhostname ESMTP",
		"queue_run_delay = 1s",
		"minimal_backoff_time = 1s",
		"maximal_backoff_time = 2s",
	}
}

// startPostfix starts a private Postfix (myhostname postfix.test) in a
// fresh directory. Cleanup stops it, logs its maillog when the test failed
// and removes the directory.
func startPostfix(t *testing.T, o postfixOpts) *postfixpeer.Instance {
	t.Helper()
	dir, err := os.MkdirTemp("", "relayd-interop-postfix-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	opts := postfixpeer.Options{Dir: dir, SMTPPort: o.SMTPPort, RelayHost: o.RelayHost,
		Hostname: "postfix.test", Domain: "postfix.test", Comment: "private test instance written by relayd's interop tests",
		Settings: interopPostfixSettings()}
	if o.PKI != nil {
		opts.TLSCert, opts.TLSKey = writePKI(t, dir, o.PKI)
	}
	if o.SASLUser != "" {
		user, realm, ok := strings.Cut(o.SASLUser, "@")
		if !ok {
			t.Fatalf("postfix SASL user %q: want user@realm", o.SASLUser)
		}
		opts.SASL = &postfixpeer.SASL{User: user, Realm: realm, Password: o.SASLPass}
	}
	pf, err := postfixpeer.Start(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		pf.Stop()
		if t.Failed() {
			t.Logf("postfix maillog:\n%s", pf.Maillog())
		}
	})
	return pf
}

// writePKI writes the PKI's server certificate and key as PEM into dir, for
// smtpd.
func writePKI(t *testing.T, dir string, pki *e2ePKI) (certFile, keyFile string) {
	t.Helper()
	c := pki.serverTLS.Certificates[0]
	var certPEM bytes.Buffer
	for _, der := range c.Certificate {
		pem.Encode(&certPEM, &pem.Block{Type: "CERTIFICATE", Bytes: der})
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(c.PrivateKey)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certFile, certPEM.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		t.Fatal(err)
	}
	return certFile, keyFile
}
