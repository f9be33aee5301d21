package main

// Helpers for the black-box end-to-end tests in e2e_test.go: they build the relayd binary once, run it on a temp
// config and free loopback ports, and stand up a real go-smtp upstream
// (STARTTLS + AUTH PLAIN) that records what relayd delivers to it.
// Everything here talks to 127.0.0.1 only.

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"math/big"
	mrand "math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// Credentials the test upstream accepts, and the env var relayd reads the
// password from (password_env).
const (
	e2eUser    = "relay@example.com"
	e2ePass    = "s3cret"
	e2ePassEnv = "RELAYD_TEST_PASS"
)

// e2eBuild is the binary TestMain provides: built at most once per test
// process, before the tests when -run can select an E2E test (so the build
// time is not charged to the first one), else never.
var e2eBuild struct {
	once sync.Once
	dir  string // temp dir owned by TestMain
	bin  string
	out  []byte
	err  error
}

func TestMain(m *testing.M) {
	flag.Parse()
	dir, err := os.MkdirTemp("", "relayd-e2e-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e: temp dir:", err)
		os.Exit(1)
	}
	e2eBuild.dir = dir
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// relaydBinary returns the path of the relayd binary built from this
// package (building it now if TestMain did not). A missing Go toolchain
// skips the test locally and fails it under CI=true.
func relaydBinary(t *testing.T) string {
	t.Helper()
	buildRelayd()
	if e2eBuild.err != nil {
		if e2eBuild.out == nil && os.Getenv("CI") != "true" {
			t.Skipf("e2e: %v (install Go to run the end-to-end tests)", e2eBuild.err)
		}
		t.Fatalf("e2e: go build ./cmd/relayd: %v\n%s", e2eBuild.err, e2eBuild.out)
	}
	return e2eBuild.bin
}

// buildRelayd runs `go build -o` once per test process.
func buildRelayd() {
	e2eBuild.once.Do(func() {
		goTool, err := exec.LookPath("go")
		if err != nil {
			e2eBuild.err = fmt.Errorf("go toolchain not found: %w", err)
			return
		}
		bin := filepath.Join(e2eBuild.dir, "relayd")
		args := []string{"build", "-o", bin}
		if os.Getenv("RELAYD_E2E_RACE") == "1" { // opt-in: race-detect the daemon too
			args = append(args, "-race")
		}
		cmd := exec.Command(goTool, append(args, ".")...)
		e2eBuild.out, e2eBuild.err = cmd.CombinedOutput()
		e2eBuild.bin = bin
	})
}

// freePort returns a loopback TCP port that was free a moment ago. It is
// picked below the kernel's ephemeral range, so that no outgoing
// connection of a busy test (the chaos test opens thousands) can take it
// while the relayd it is meant for is down between a kill and a restart.
func freePort(t *testing.T) int {
	t.Helper()
	if lo, ok := ephemeralLow(); ok && lo > 11000 {
		for range 200 {
			port := 10000 + mrand.IntN(lo-10000)
			if ln, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port))); err == nil {
				ln.Close()
				return port
			}
		}
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("free port: %v", err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// ephemeralLow is the first port of the kernel's ephemeral range.
func ephemeralLow() (int, bool) {
	b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range")
	if err != nil {
		return 0, false
	}
	f := strings.Fields(string(b))
	if len(f) != 2 {
		return 0, false
	}
	lo, err := strconv.Atoi(f[0])
	return lo, err == nil
}

// portBusy reports whether addr cannot be bound right now.
func portBusy(addr string) bool {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return true
	}
	ln.Close()
	return false
}

// e2ePKI is a throw-away CA and a server certificate it signed for
// 127.0.0.1, ::1 and "localhost".
type e2ePKI struct {
	caFile    string // PEM, for relayd's ca_file
	serverTLS *tls.Config
}

func newPKI(t *testing.T, dir string) *e2ePKI {
	t.Helper()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	caTmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "relayd e2e test CA"},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	caCert, err := x509.ParseCertificate(caDER)
	if err != nil {
		t.Fatal(err)
	}
	srvKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	srvTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2),
		Subject:      pkix.Name{CommonName: "localhost"},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		DNSNames:     []string{"localhost"},
		IPAddresses:  []net.IP{net.ParseIP("127.0.0.1"), net.IPv6loopback},
	}
	srvDER, err := x509.CreateCertificate(rand.Reader, srvTmpl, caCert, &srvKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	caFile := filepath.Join(dir, "ca.pem")
	caPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER})
	if err := os.WriteFile(caFile, caPEM, 0o644); err != nil {
		t.Fatal(err)
	}
	return &e2ePKI{
		caFile: caFile,
		serverTLS: &tls.Config{
			Certificates: []tls.Certificate{{Certificate: [][]byte{srvDER}, PrivateKey: srvKey, Leaf: nil}},
			MinVersion:   tls.VersionTLS12,
		},
	}
}

// upMsg is one transaction the test upstream accepted.
type upMsg struct {
	From string
	To   []string
	Data []byte
	TLS  bool   // STARTTLS was active
	User string // authenticated user ("" = none)
}

// e2eUpstream is a go-smtp server on a fixed loopback port that requires
// STARTTLS before AUTH PLAIN and AUTH before MAIL, and records every
// transaction. It can be stopped and started again on the same port.
type e2eUpstream struct {
	t    *testing.T
	addr string
	port int
	tls  *tls.Config

	mu   sync.Mutex
	msgs []upMsg
	srv  *smtp.Server
	ln   net.Listener // closed by stop too: Server.Close misses a listener Serve has not registered yet
	done chan struct{}
	// bearer, when set before start, makes the server offer OAUTHBEARER
	// too and accept the tokens for which it returns true.
	bearer func(user, token string) bool
}

// newUpstream reserves a port; call start to listen on it.
func newUpstream(t *testing.T, pki *e2ePKI) *e2eUpstream {
	t.Helper()
	port := freePort(t)
	u := &e2eUpstream{t: t, port: port, addr: net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), tls: pki.serverTLS}
	t.Cleanup(u.stop)
	return u
}

// start listens on u.addr (retrying briefly if the port is still held).
func (u *e2eUpstream) start() {
	u.t.Helper()
	u.mu.Lock()
	running := u.srv != nil
	u.mu.Unlock()
	if running {
		u.t.Fatal("upstream already running")
	}
	var ln net.Listener
	err := poll(5*time.Second, func() (bool, error) {
		var err error
		ln, err = net.Listen("tcp", u.addr)
		return err == nil, nil
	})
	if err != nil {
		u.t.Fatalf("upstream listen %s: %v", u.addr, err)
	}
	s := smtp.NewServer(smtp.BackendFunc(func(c *smtp.Conn) (smtp.Session, error) {
		return &upSession{u: u, c: c}, nil
	}))
	s.Domain = "upstream.test"
	s.TLSConfig = u.tls
	s.AllowInsecureAuth = false
	s.ReadTimeout = 30 * time.Second
	s.WriteTimeout = 30 * time.Second
	s.ErrorLog = log.New(io.Discard, "", 0)
	done := make(chan struct{})
	u.mu.Lock()
	u.srv, u.ln, u.done = s, ln, done
	u.mu.Unlock()
	go func() {
		defer close(done)
		s.Serve(ln)
	}()
}

// stop closes the listener and every open connection ("upstream down").
func (u *e2eUpstream) stop() {
	u.mu.Lock()
	s, ln, done := u.srv, u.ln, u.done
	u.srv, u.ln = nil, nil
	u.mu.Unlock()
	if s == nil {
		return
	}
	s.Close()
	ln.Close() // Serve's Accept fails, and Serve sees the server closed
	<-done
}

// messages returns a copy of what was received so far.
func (u *e2eUpstream) messages() []upMsg {
	u.mu.Lock()
	defer u.mu.Unlock()
	return append([]upMsg(nil), u.msgs...)
}

// waitMessages waits (bounded) until at least n transactions arrived.
func (u *e2eUpstream) waitMessages(t *testing.T, n int, within time.Duration) []upMsg {
	t.Helper()
	var got []upMsg
	err := poll(within, func() (bool, error) {
		got = u.messages()
		return len(got) >= n, nil
	})
	if err != nil {
		t.Fatalf("upstream got %d message(s) within %v, want %d", len(got), within, n)
	}
	return got
}

type upSession struct {
	u    *e2eUpstream
	c    *smtp.Conn
	user string
	from string
	to   []string
}

var errAuthFirst = &smtp.SMTPError{Code: 530, EnhancedCode: smtp.EnhancedCode{5, 7, 0}, Message: "Authentication required"}

func (s *upSession) AuthMechanisms() []string {
	if s.u.bearer != nil {
		return []string{sasl.Plain, sasl.OAuthBearer}
	}
	return []string{sasl.Plain}
}

func (s *upSession) Auth(mech string) (sasl.Server, error) {
	if mech == sasl.OAuthBearer && s.u.bearer != nil {
		return sasl.NewOAuthBearerServer(func(o sasl.OAuthBearerOptions) *sasl.OAuthBearerError {
			if !s.u.bearer(o.Username, o.Token) {
				return &sasl.OAuthBearerError{Status: "invalid_token", Schemes: "bearer"}
			}
			s.user = o.Username
			return nil
		}), nil
	}
	if mech != sasl.Plain {
		return nil, smtp.ErrAuthUnknownMechanism
	}
	return sasl.NewPlainServer(func(identity, username, password string) error {
		if identity != "" && identity != username {
			return smtp.ErrAuthFailed
		}
		if username != e2eUser || password != e2ePass {
			return smtp.ErrAuthFailed
		}
		s.user = username
		return nil
	}), nil
}

func (s *upSession) Mail(from string, _ *smtp.MailOptions) error {
	if s.user == "" {
		return errAuthFirst
	}
	s.from, s.to = from, nil
	return nil
}

func (s *upSession) Rcpt(to string, _ *smtp.RcptOptions) error {
	if s.user == "" {
		return errAuthFirst
	}
	s.to = append(s.to, to)
	return nil
}

func (s *upSession) Data(r io.Reader) error {
	if s.user == "" {
		return errAuthFirst
	}
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	_, isTLS := s.c.TLSConnectionState()
	m := upMsg{From: s.from, To: append([]string(nil), s.to...), Data: b, TLS: isTLS, User: s.user}
	s.u.mu.Lock()
	s.u.msgs = append(s.u.msgs, m)
	s.u.mu.Unlock()
	return nil
}

func (s *upSession) Reset()        { s.from, s.to = "", nil }
func (s *upSession) Logout() error { return nil }

var _ smtp.AuthSession = (*upSession)(nil)

// poll calls cond every 25 ms until it returns true, an error, or within
// elapses (then it returns an error saying so).
func poll(within time.Duration, cond func() (bool, error)) error {
	deadline := time.Now().Add(within)
	for {
		ok, err := cond()
		if err != nil {
			return err
		}
		if ok {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("condition not met within %v", within)
		}
		time.Sleep(25 * time.Millisecond)
	}
}

// lockedBuffer collects a child's stdout and stderr.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// proc is one relayd daemon (`relayd serve -config PATH`) and its restarts.
type proc struct {
	t         *testing.T
	dir       string // temp dir holding the config and the state_dir
	cfgPath   string
	adminAddr string // [admin] listen
	smtpAddr  string // first [[listener]] address
	env       []string
	out       *lockedBuffer

	cmd  *exec.Cmd
	done chan struct{} // closed when cmd has exited
	code int           // exit code once done is closed
}

// e2eDirToken in a config given to startRelayd is replaced by its temp dir.
const e2eDirToken = "@DIR@"

// startRelayd writes cfgTOML (with @DIR@ replaced by a fresh temp dir) to
// DIR/relayd.toml, starts `relayd serve -config` on it and waits until
// /readyz answers 200. Cleanup stops it (SIGTERM, then SIGKILL after 10 s)
// and logs its output when the test failed.
func startRelayd(t *testing.T, cfgTOML string) *proc {
	t.Helper()
	dir := t.TempDir()
	cfg := strings.ReplaceAll(cfgTOML, e2eDirToken, dir)
	p := &proc{t: t, dir: dir, cfgPath: filepath.Join(dir, "relayd.toml"), out: &lockedBuffer{}}
	p.adminAddr = tomlValue(cfg, "[admin]", "listen")
	p.smtpAddr = tomlValue(cfg, "[[listener]]", "address")
	if p.adminAddr == "" || p.smtpAddr == "" {
		t.Fatalf("config needs [admin] listen and a [[listener]] address:\n%s", cfg)
	}
	if err := os.WriteFile(p.cfgPath, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	p.env = childEnv(map[string]string{e2ePassEnv: e2ePass})
	t.Cleanup(func() {
		p.shutdown()
		if t.Failed() || os.Getenv("RELAYD_E2E_LOG") == "1" {
			t.Logf("relayd output:\n%s", p.out.String())
		}
	})
	p.start()
	return p
}

// tomlValue finds `key = "value"` in the first table whose header is header.
func tomlValue(cfg, header, key string) string {
	in := false
	re := regexp.MustCompile(`^\s*` + regexp.QuoteMeta(key) + `\s*=\s*"([^"]*)"`)
	for _, line := range strings.Split(cfg, "\n") {
		l := strings.TrimSpace(line)
		if strings.HasPrefix(l, "[") {
			if in {
				return ""
			}
			in = l == header
			continue
		}
		if m := re.FindStringSubmatch(line); in && m != nil {
			return m[1]
		}
	}
	return ""
}

// childEnv is this process's environment without RELAYD_CONFIG, plus set.
func childEnv(set map[string]string) []string {
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if _, over := set[k]; over || k == "RELAYD_CONFIG" {
			continue
		}
		env = append(env, kv)
	}
	for k, v := range set {
		env = append(env, k+"="+v)
	}
	return env
}

// start runs the binary and waits (10 s) for /readyz.
func (p *proc) start() {
	p.t.Helper()
	p.startCmd(relaydBinary(p.t), "serve", "-config", p.cfgPath)
	p.waitReady(10 * time.Second)
}

func (p *proc) startCmd(bin string, args ...string) {
	p.t.Helper()
	if p.running() {
		p.t.Fatal("relayd already running")
	}
	fmt.Fprintf(p.out, "=== e2e: %s %s\n", filepath.Base(bin), strings.Join(args, " "))
	cmd := exec.Command(bin, args...)
	cmd.Dir = p.dir
	cmd.Env = p.env
	cmd.Stdout, cmd.Stderr = p.out, p.out
	if err := cmd.Start(); err != nil {
		p.t.Fatalf("start relayd: %v", err)
	}
	done := make(chan struct{})
	p.cmd, p.done = cmd, done
	go func() {
		cmd.Wait()
		p.code = cmd.ProcessState.ExitCode()
		close(done)
	}()
}

func (p *proc) running() bool {
	if p.done == nil {
		return false
	}
	select {
	case <-p.done:
		return false
	default:
		return true
	}
}

// waitReady polls GET /readyz until 200, failing fast if relayd exits.
func (p *proc) waitReady(within time.Duration) {
	p.t.Helper()
	client := &http.Client{Timeout: time.Second}
	err := poll(within, func() (bool, error) {
		if !p.running() {
			return false, fmt.Errorf("relayd exited with code %d before it was ready", p.code)
		}
		resp, err := client.Get("http://" + p.adminAddr + "/readyz")
		if err != nil {
			return false, nil
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK, nil
	})
	if err != nil {
		p.t.Fatalf("relayd not ready: %v\noutput:\n%s", err, p.out.String())
	}
}

// wait waits up to within for the process to exit; false on timeout.
func (p *proc) wait(within time.Duration) bool {
	select {
	case <-p.done:
		return true
	case <-time.After(within):
		return false
	}
}

// kill9 sends SIGKILL and waits for the process to be gone.
func (p *proc) kill9() {
	p.t.Helper()
	if !p.running() {
		p.t.Fatal("kill9: relayd is not running")
	}
	p.cmd.Process.Signal(syscall.SIGKILL)
	if !p.wait(10 * time.Second) {
		p.t.Fatal("relayd did not die after SIGKILL")
	}
}

// signal sends sig to the running daemon.
func (p *proc) signal(sig os.Signal) {
	p.t.Helper()
	if err := p.cmd.Process.Signal(sig); err != nil {
		p.t.Fatalf("signal %v: %v", sig, err)
	}
}

// stop sends SIGTERM and asserts a clean exit (code 0) within 25 s
// (relayd drains in-flight deliveries for up to 20 s).
func (p *proc) stop() {
	p.t.Helper()
	p.signal(syscall.SIGTERM)
	if !p.wait(25 * time.Second) {
		p.cmd.Process.Signal(syscall.SIGKILL)
		p.wait(10 * time.Second)
		p.t.Fatalf("relayd did not exit within 25 s of SIGTERM")
	}
	if p.code != 0 {
		p.t.Errorf("relayd exit code after SIGTERM = %d, want 0", p.code)
	}
}

// restart starts the daemon again on the same config and state_dir.
func (p *proc) restart() {
	p.t.Helper()
	if p.running() {
		p.t.Fatal("restart: relayd is still running")
	}
	p.start()
}

// shutdown is the cleanup: SIGTERM, then SIGKILL after 10 s.
func (p *proc) shutdown() {
	if !p.running() {
		return
	}
	p.cmd.Process.Signal(syscall.SIGTERM)
	if !p.wait(10 * time.Second) {
		p.cmd.Process.Signal(syscall.SIGKILL)
		p.wait(10 * time.Second)
	}
}

// metrics returns the /metrics exposition text.
func (p *proc) metrics(t *testing.T) string {
	t.Helper()
	return httpGet(t, "http://"+p.adminAddr+"/metrics")
}

func httpGet(t *testing.T, url string) string {
	t.Helper()
	client := &http.Client{Timeout: 5 * time.Second}
	resp, err := client.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: status %d, err %v\n%s", url, resp.StatusCode, err, b)
	}
	return string(b)
}

// metricValue finds the sample `series value` (series as printed, labels
// included) in a Prometheus text exposition.
func metricValue(text, series string) (float64, bool) {
	sc := bufio.NewScanner(strings.NewReader(text))
	sc.Buffer(make([]byte, 64*1024), 1<<20)
	for sc.Scan() {
		name, val, ok := strings.Cut(sc.Text(), " ")
		if !ok || name != series {
			continue
		}
		f, err := strconv.ParseFloat(strings.TrimSpace(val), 64)
		return f, err == nil
	}
	return 0, false
}

// cfgParams fills e2eConfig.
type cfgParams struct {
	SMTPPort, AdminPort, UpstreamPort int
	CAFile                            string
	Secret                            string // password_env / password_file line(s)
	Listeners                         string // extra TOML appended after the first listener
}

// e2eConfig is the relayd.toml of the tests: one loopback listener, one
// smarthost profile "up" (STARTTLS required, AUTH) and a 1 s retry.
func e2eConfig(p cfgParams) string {
	if p.Secret == "" {
		p.Secret = fmt.Sprintf("password_env = %q", e2ePassEnv)
	}
	return fmt.Sprintf(`[server]
hostname = "relay.test"
state_dir = "@DIR@/state"
log_level = "debug"

[admin]
listen = "127.0.0.1:%d"

[relay]
default_profile = "up"
retry_schedule = ["1s"]

[[listener]]
name = "local"
address = "127.0.0.1:%d"
%s
[[profile]]
name = "up"
host = "127.0.0.1"
port = %d
tls = "starttls-required"
ca_file = %q
username = %q
%s
`, p.AdminPort, p.SMTPPort, p.Listeners, p.UpstreamPort, p.CAFile, e2eUser, p.Secret)
}

// sendResult is what one SMTP submission to relayd got.
type sendResult struct {
	Reply   string // "250 2.0.0 Ok: queued as ID" on success
	QueueID string
}

var queuedRe = regexp.MustCompile(`^250 2\.0\.0 Ok: queued as (\S+)$`)

// sendMail submits one message over plain SMTP with every step bounded by
// timeout. A non-nil error means the message was not accepted.
func sendMail(addr, from string, to []string, msg string, timeout time.Duration) (sendResult, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	conn, err := (&net.Dialer{}).DialContext(ctx, "tcp", addr)
	if err != nil {
		return sendResult{}, err
	}
	conn.SetDeadline(time.Now().Add(timeout))
	c := smtp.NewClient(conn)
	defer c.Close()
	c.CommandTimeout, c.SubmissionTimeout = timeout, timeout
	if err := c.Hello("client.test"); err != nil {
		return sendResult{}, err
	}
	if err := c.Mail(from, nil); err != nil {
		return sendResult{}, err
	}
	for _, rcpt := range to {
		if err := c.Rcpt(rcpt, nil); err != nil {
			return sendResult{}, err
		}
	}
	w, err := c.Data()
	if err != nil {
		return sendResult{}, err
	}
	if _, err := io.WriteString(w, msg); err != nil {
		return sendResult{}, err
	}
	resp, err := w.CloseWithResponse()
	if err != nil {
		return sendResult{}, err
	}
	res := sendResult{Reply: "250 " + resp.StatusText}
	m := queuedRe.FindStringSubmatch(res.Reply)
	if m == nil {
		return res, fmt.Errorf("reply %q is not %q", res.Reply, "250 2.0.0 Ok: queued as <ID>")
	}
	res.QueueID = m[1]
	c.Quit()
	return res, nil
}

// runRelayd runs a one-shot relayd command (bounded 20 s) and returns its
// exit code, stdout and stderr.
func runRelayd(t *testing.T, dir string, env []string, args ...string) (int, string, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, relaydBinary(t), args...)
	cmd.Dir, cmd.Env = dir, env
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var exit *exec.ExitError
	if err != nil && !errors.As(err, &exit) {
		t.Fatalf("relayd %s: %v", strings.Join(args, " "), err)
	}
	if ctx.Err() != nil {
		t.Fatalf("relayd %s: did not finish within 20 s", strings.Join(args, " "))
	}
	return cmd.ProcessState.ExitCode(), stdout.String(), stderr.String()
}
