package main

// Helpers for interop_test.go: finding real peers from Debian packages
// (skip locally, fail under CI=true, naming the package), running them
// bounded, a plain go-smtp sink, and a private throw-away Postfix instance
// (own config and queue directories, no chroot, logging to a file; the
// system's Postfix is never touched). Everything listens on 127.0.0.1.

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
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/emersion/go-smtp"
)

// peerInCI reports whether a missing peer must fail the test (STYLE §5).
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

// postfixOpts configure a private Postfix.
type postfixOpts struct {
	SMTPPort  int     // smtpd on 127.0.0.1:SMTPPort; 0 = none (sendmail only)
	RelayHost string  // "[127.0.0.1]:PORT": every message goes there
	PKI       *e2ePKI // smtpd STARTTLS with the PKI's server certificate; nil = no TLS
	SASLUser  string  // "user@realm": smtpd requires AUTH (Cyrus sasldb) to relay; "" = no SASL
	SASLPass  string
}

// postfixInst is one running private Postfix.
type postfixInst struct {
	t      *testing.T
	dir    string
	etc    string
	master int
}

// needPostfix checks for everything a private Postfix needs.
func needPostfix(t *testing.T, sasl bool) {
	t.Helper()
	interopTool(t, "postfix", "postfix", false)
	interopTool(t, "postconf", "postfix", false)
	if sasl {
		interopTool(t, "saslpasswd2", "sasl2-bin", false)
		if m, _ := filepath.Glob("/usr/lib/*/sasl2/libplain.so*"); len(m) == 0 {
			missingPeer(t, "Cyrus SASL PLAIN/LOGIN plugins", "libsasl2-modules")
		}
	}
	if os.Geteuid() != 0 {
		missingPeer(t, "root (a private Postfix instance is started as root)", "postfix (and run as root)")
	}
}

// startPostfix writes main.cf and master.cf into a fresh directory, runs
// `postfix check` and `postfix start` on it and waits for its smtpd. Cleanup
// stops it (stop, then abort and SIGKILL of its own master pid) and logs its
// maillog when the test failed.
func startPostfix(t *testing.T, o postfixOpts) *postfixInst {
	t.Helper()
	dir, err := os.MkdirTemp("", "relayd-interop-postfix-")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o755); err != nil { // the postfix user reads the config and sasldb
		t.Fatal(err)
	}
	p := &postfixInst{t: t, dir: dir, etc: filepath.Join(dir, "etc")}
	t.Cleanup(func() {
		p.stop()
		if t.Failed() {
			t.Logf("postfix maillog:\n%s", p.maillog())
		}
		os.RemoveAll(dir)
	})
	for _, d := range []string{"etc", "etc/sasl", "spool", "data"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	var main strings.Builder
	fmt.Fprintf(&main, `# private test instance written by relayd's interop tests
compatibility_level = 3.6
queue_directory = %[1]s/spool
data_directory = %[1]s/data
maillog_file = %[1]s/maillog
maillog_file_prefixes = %[1]s
myhostname = postfix.test
mydomain = postfix.test
myorigin = $myhostname
append_dot_mydomain = no
inet_interfaces = loopback-only
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
mydestination =
local_recipient_maps =
local_transport = error:5.1.1 local delivery disabled
alias_maps =
alias_database =
relayhost = %[2]s
smtpd_peername_lookup = no
smtp_dns_support_level = disabled
smtp_host_lookup = native
smtpd_banner = $myhostname ESMTP
biff = no
queue_run_delay = 1s
minimal_backoff_time = 1s
maximal_backoff_time = 2s
`, dir, o.RelayHost)
	if o.PKI != nil {
		cert, key := p.writePKI(o.PKI)
		fmt.Fprintf(&main, "smtpd_tls_security_level = may\nsmtpd_tls_cert_file = %s\nsmtpd_tls_key_file = %s\nsmtpd_tls_received_header = yes\n", cert, key)
	}
	if o.SASLUser != "" {
		user, realm, ok := strings.Cut(o.SASLUser, "@")
		if !ok {
			t.Fatalf("postfix SASL user %q: want user@realm", o.SASLUser)
		}
		sasldb := filepath.Join(dir, "sasldb2")
		// Debian's Postfix reads Cyrus' smtpd.conf from config_directory/sasl.
		conf := fmt.Sprintf("pwcheck_method: auxprop\nauxprop_plugin: sasldb\nmech_list: PLAIN LOGIN\nsasldb_path: %s\n", sasldb)
		if err := os.WriteFile(filepath.Join(dir, "etc/sasl/smtpd.conf"), []byte(conf), 0o644); err != nil {
			t.Fatal(err)
		}
		out, err := runPeer(t, o.SASLPass, interopTool(t, "saslpasswd2", "sasl2-bin", false),
			"-c", "-p", "-f", sasldb, "-u", realm, user)
		if err != nil {
			t.Fatalf("saslpasswd2: %v\n%s", err, out)
		}
		p.chownPostfix(sasldb)
		main.WriteString("smtpd_sasl_auth_enable = yes\nsmtpd_sasl_type = cyrus\nsmtpd_sasl_path = smtpd\n" +
			"smtpd_tls_auth_only = yes\nsmtpd_sasl_authenticated_header = yes\n" +
			"smtpd_relay_restrictions = permit_sasl_authenticated, reject\n")
	} else {
		main.WriteString("smtpd_relay_restrictions = permit_mynetworks, reject\n")
	}
	var master strings.Builder
	if o.SMTPPort != 0 {
		fmt.Fprintf(&master, "127.0.0.1:%d inet n - n - - smtpd\n", o.SMTPPort)
	}
	// Debian's services, without chroot.
	master.WriteString(`pickup    unix  n - n 60    1 pickup
cleanup   unix  n - n -     0 cleanup
qmgr      unix  n - n 300   1 qmgr
tlsmgr    unix  - - n 1000? 1 tlsmgr
rewrite   unix  - - n -     - trivial-rewrite
bounce    unix  - - n -     0 bounce
defer     unix  - - n -     0 bounce
trace     unix  - - n -     0 bounce
verify    unix  - - n -     1 verify
flush     unix  n - n 1000? 0 flush
proxymap  unix  - - n -     - proxymap
proxywrite unix - - n -     1 proxymap
smtp      unix  - - n -     - smtp
relay     unix  - - n -     - smtp
showq     unix  n - n -     - showq
error     unix  - - n -     - error
retry     unix  - - n -     - error
discard   unix  - - n -     - discard
local     unix  - n n -     - local
anvil     unix  - - n -     1 anvil
scache    unix  - - n -     1 scache
postlog   unix-dgram n - n - 1 postlogd
`)
	for name, body := range map[string]string{"main.cf": main.String(), "master.cf": master.String()} {
		if err := os.WriteFile(filepath.Join(p.etc, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	p.chownPostfix(filepath.Join(dir, "data")) // master.lock lives here
	pf := interopTool(t, "postfix", "postfix", false)
	if out, err := runPeer(t, "", pf, "-c", p.etc, "check"); err != nil {
		t.Fatalf("postfix check: %v\n%s\n(postfix reports details only on a terminal or in its log:\n%s)", err, out, p.maillog())
	}
	if out, err := runPeer(t, "", pf, "-c", p.etc, "start"); err != nil {
		t.Fatalf("postfix start: %v\n%s\n%s", err, out, p.maillog())
	}
	err = poll(10*time.Second, func() (bool, error) {
		b, _ := os.ReadFile(filepath.Join(dir, "spool/pid/master.pid"))
		n, err := strconv.Atoi(strings.TrimSpace(string(b)))
		p.master = n
		return err == nil && n > 0, nil
	})
	if err != nil {
		t.Fatalf("postfix master pid not written: %v\n%s", err, p.maillog())
	}
	if o.SMTPPort != 0 {
		addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(o.SMTPPort))
		if err := poll(20*time.Second, func() (bool, error) { return portBusy(addr), nil }); err != nil {
			t.Fatalf("postfix smtpd not listening on %s: %v\n%s", addr, err, p.maillog())
		}
	}
	return p
}

// writePKI writes the PKI's server certificate and key as PEM for smtpd.
func (p *postfixInst) writePKI(pki *e2ePKI) (certFile, keyFile string) {
	p.t.Helper()
	c := pki.serverTLS.Certificates[0]
	var certPEM bytes.Buffer
	for _, der := range c.Certificate {
		pem.Encode(&certPEM, &pem.Block{Type: "CERTIFICATE", Bytes: der})
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(c.PrivateKey)
	if err != nil {
		p.t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(p.dir, "cert.pem"), filepath.Join(p.dir, "key.pem")
	if err := os.WriteFile(certFile, certPEM.Bytes(), 0o644); err != nil {
		p.t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		p.t.Fatal(err)
	}
	return certFile, keyFile
}

// chownPostfix gives path to Postfix's mail_owner.
func (p *postfixInst) chownPostfix(path string) {
	p.t.Helper()
	out, err := runPeer(p.t, "", interopTool(p.t, "postconf", "postfix", false), "-d", "-h", "mail_owner")
	owner := strings.TrimSpace(out)
	if err != nil || owner == "" {
		owner = "postfix"
	}
	u, err := user.Lookup(owner)
	if err != nil {
		p.t.Fatalf("postfix mail_owner %q: %v", owner, err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	if err := os.Chown(path, uid, -1); err != nil {
		p.t.Fatal(err)
	}
}

// sendmail injects one message with Postfix's sendmail(1) into this instance.
func (p *postfixInst) sendmail(from, to, msg string) {
	p.t.Helper()
	out, err := runPeer(p.t, msg, interopTool(p.t, "sendmail", "postfix", false), "-C", p.etc, "-f", from, "--", to)
	if err != nil {
		p.t.Fatalf("sendmail -C %s: %v\n%s\n%s", p.etc, err, out, p.maillog())
	}
}

// waitLog returns Postfix's log once it contains want, or whatever it holds
// after 10 s: Postfix's smtp client writes its "status=sent" line only
// after the 250 that the test may already have seen at the upstream.
func (p *postfixInst) waitLog(want string) string {
	deadline := time.Now().Add(10 * time.Second)
	for {
		log := p.maillog()
		if strings.Contains(log, want) || time.Now().After(deadline) {
			return log
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (p *postfixInst) maillog() string {
	b, _ := os.ReadFile(filepath.Join(p.dir, "maillog"))
	return string(b)
}

// stop stops this instance and waits (bounded) for its master to exit.
func (p *postfixInst) stop() {
	if _, err := os.Stat(p.etc); err != nil {
		return
	}
	pf := interopTool(p.t, "postfix", "postfix", false)
	runPeer(p.t, "", pf, "-c", p.etc, "stop")
	if p.master <= 0 {
		return
	}
	gone := func() (bool, error) { return syscall.Kill(p.master, 0) != nil, nil }
	if poll(10*time.Second, gone) == nil {
		return
	}
	runPeer(p.t, "", pf, "-c", p.etc, "abort")
	if poll(5*time.Second, gone) != nil {
		syscall.Kill(p.master, syscall.SIGKILL) // the master this test started
	}
}
