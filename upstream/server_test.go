package upstream

import (
	"bytes"
	"crypto/hmac"
	"crypto/md5"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"io"
	"log"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// The test server's only account.
const (
	testUser = "alice@example.com"
	testPass = "s3cret-Pa55word!"
)

// serverConfig describes a testServer.
type serverConfig struct {
	tls          string   // "" plain, "starttls", "implicit"
	cert         certOpts // for tls
	mechs        []string // AUTH mechanisms offered (only over TLS unless insecureAuth)
	insecureAuth bool
	smtputf8     bool
	dsn          bool
	listen       string // "" = 127.0.0.1:0
}

// testServer is a go-smtp server on 127.0.0.1:0 (like maddy's
// internal/testutils/smtp_server.go) whose backend records every
// transaction and can fail any step. The listener records, per TCP
// connection, everything the client sent and how many connections are
// open at once.
type testServer struct {
	t    *testing.T
	srv  *smtp.Server
	port int
	pool *x509.CertPool // trusts the server certificate; nil without TLS

	mu           sync.Mutex
	txs          []txRecord
	conns        []*connRecord
	active       int
	maxActive    int
	authAttempts int
	mailErr      error
	rcptErr      map[string]error
	dataErr      error
	dataHook     func()                        // called in Data before replying, outside mu
	bearer       func(user, token string) bool // XOAUTH2 / OAUTHBEARER: is the token good; nil = none is
	closed       chan struct{}
}

// txRecord is one transaction the server accepted at the final dot.
type txRecord struct {
	From string
	Opts smtp.MailOptions
	To   []string
	Rcpt []*smtp.RcptOptions
	Body string
	User string // AUTH identity, "" = none
	TLS  bool
	Conn int // index in testServer.conns
}

// connRecord is one TCP connection as the server saw it.
type connRecord struct {
	id   int
	in   bytes.Buffer // everything the client sent (cipher text under TLS)
	txs  int
	conn net.Conn
}

func newTestServer(t *testing.T, cfg serverConfig) *testServer {
	t.Helper()
	s := &testServer{t: t, rcptErr: map[string]error{}, closed: make(chan struct{}, 100)}
	s.srv = smtp.NewServer(smtp.BackendFunc(func(c *smtp.Conn) (smtp.Session, error) {
		return &testSession{s: s, c: c, rec: s.record(c), mechs: cfg.mechs}, nil
	}))
	s.srv.Domain = "server.test"
	s.srv.AllowInsecureAuth = cfg.insecureAuth
	s.srv.EnableSMTPUTF8 = cfg.smtputf8
	s.srv.EnableDSN = cfg.dsn
	s.srv.ReadTimeout, s.srv.WriteTimeout = 10*time.Second, 10*time.Second
	s.srv.ErrorLog = log.New(io.Discard, "", 0)
	if cfg.listen == "" {
		cfg.listen = "127.0.0.1:0"
	}
	ln, err := net.Listen("tcp", cfg.listen)
	if err != nil {
		t.Fatal(err)
	}
	s.port = ln.Addr().(*net.TCPAddr).Port
	var l net.Listener = &recordingListener{Listener: ln, s: s}
	if cfg.tls != "" {
		cert, pool := testCert(t, cfg.cert)
		s.pool = pool
		tc := &tls.Config{Certificates: []tls.Certificate{cert}}
		if cfg.tls == "implicit" {
			l = tls.NewListener(l, tc)
		} else {
			s.srv.TLSConfig = tc
		}
	}
	go s.srv.Serve(l)
	t.Cleanup(func() { s.srv.Close() })
	return s
}

// profile is a profile for this server with TLS none and short timeouts.
func (s *testServer) profile(name string) *Target {
	return &Target{Name: name, Type: "smtp", Host: "127.0.0.1", Port: s.port, TLS: TLSNone, TLSVerify: true,
		RootCAs: s.pool, Helo: "client.test", Timeout: 5 * time.Second, DataTimeout: 5 * time.Second,
		MaxPerConn: 100, MaxConns: 2}
}

// record finds the connRecord of a go-smtp Conn (under TLS, of the TCP
// connection below it).
func (s *testServer) record(c *smtp.Conn) *connRecord {
	conn := c.Conn()
	if tc, ok := conn.(*tls.Conn); ok {
		conn = tc.NetConn()
	}
	return conn.(*recordingConn).rec
}

func (s *testServer) transactions() []txRecord {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]txRecord(nil), s.txs...)
}

func (s *testServer) connections() []connRecord {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]connRecord, len(s.conns))
	for i, c := range s.conns {
		out[i] = connRecord{id: c.id, txs: c.txs}
		out[i].in.Write(c.in.Bytes())
	}
	return out
}

// transcript is everything all clients sent, concatenated.
func (s *testServer) transcript() string {
	var b strings.Builder
	for _, c := range s.connections() {
		b.Write(c.in.Bytes())
	}
	return b.String()
}

func (s *testServer) set(f func(s *testServer)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f(s)
}

// dropAll closes every connection from the server side, as a server that
// restarted or timed out its idle clients would.
func (s *testServer) dropAll() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, c := range s.conns {
		c.conn.Close()
	}
}

// waitClosed waits until n connections have been closed.
func (s *testServer) waitClosed(n int) {
	s.t.Helper()
	for range n {
		select {
		case <-s.closed:
		case <-time.After(10 * time.Second):
			s.t.Fatal("connection not closed within 10s")
		}
	}
}

type recordingListener struct {
	net.Listener
	s *testServer
}

func (l *recordingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	s := l.s
	s.mu.Lock()
	defer s.mu.Unlock()
	rec := &connRecord{id: len(s.conns), conn: c}
	s.conns = append(s.conns, rec)
	s.active++
	s.maxActive = max(s.maxActive, s.active)
	return &recordingConn{Conn: c, s: s, rec: rec}, nil
}

type recordingConn struct {
	net.Conn
	s    *testServer
	rec  *connRecord
	once sync.Once
}

func (c *recordingConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	c.s.mu.Lock()
	c.rec.in.Write(p[:n])
	c.s.mu.Unlock()
	return n, err
}

func (c *recordingConn) Close() error {
	c.once.Do(func() {
		c.s.mu.Lock()
		c.s.active--
		c.s.mu.Unlock()
		c.s.closed <- struct{}{}
	})
	return c.Conn.Close()
}

// testSession is the backend session of testServer.
type testSession struct {
	s     *testServer
	c     *smtp.Conn
	rec   *connRecord
	mechs []string
	user  string
	tx    txRecord
}

var _ smtp.AuthSession = (*testSession)(nil)

func (ss *testSession) Reset()        { ss.tx = txRecord{} }
func (ss *testSession) Logout() error { return nil }

func (ss *testSession) Mail(from string, opts *smtp.MailOptions) error {
	ss.s.mu.Lock()
	defer ss.s.mu.Unlock()
	if ss.s.mailErr != nil {
		return ss.s.mailErr
	}
	ss.tx = txRecord{From: from, Opts: *opts}
	return nil
}

func (ss *testSession) Rcpt(to string, opts *smtp.RcptOptions) error {
	ss.s.mu.Lock()
	defer ss.s.mu.Unlock()
	if err := ss.s.rcptErr[to]; err != nil {
		return err
	}
	ss.tx.To = append(ss.tx.To, to)
	ss.tx.Rcpt = append(ss.tx.Rcpt, opts)
	return nil
}

func (ss *testSession) Data(r io.Reader) error {
	body, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	ss.s.mu.Lock()
	hook := ss.s.dataHook
	ss.s.mu.Unlock()
	if hook != nil {
		hook()
	}
	ss.s.mu.Lock()
	defer ss.s.mu.Unlock()
	if ss.s.dataErr != nil {
		return ss.s.dataErr
	}
	_, isTLS := ss.c.TLSConnectionState()
	tx := ss.tx
	tx.Body, tx.User, tx.TLS, tx.Conn = string(body), ss.user, isTLS, ss.rec.id
	ss.s.txs = append(ss.s.txs, tx)
	ss.rec.txs++
	return nil
}

func (ss *testSession) AuthMechanisms() []string { return ss.mechs }

func (ss *testSession) Auth(mech string) (sasl.Server, error) {
	ss.s.mu.Lock()
	ss.s.authAttempts++
	ss.s.mu.Unlock()
	check := func(user, pass string) error {
		if user != testUser || pass != testPass {
			return &smtp.SMTPError{Code: 535, EnhancedCode: smtp.EnhancedCode{5, 7, 8},
				Message: "Authentication credentials invalid"}
		}
		ss.user = user
		return nil
	}
	switch mech {
	case "PLAIN":
		return sasl.NewPlainServer(func(_, user, pass string) error { return check(user, pass) }), nil
	case "LOGIN":
		return &loginServer{check: check}, nil
	case "CRAM-MD5":
		return &cramServer{check: check}, nil
	case "XOAUTH2", "OAUTHBEARER":
		return newBearerServer(mech, ss), nil
	}
	return nil, smtp.ErrAuthUnknownMechanism
}

// loginServer is the server side of AUTH LOGIN (go-sasl has none).
type loginServer struct {
	check      func(user, pass string) error
	user       string
	step       int
	gotInitial bool
}

func (a *loginServer) Next(resp []byte) ([]byte, bool, error) {
	a.step++
	switch {
	case a.step == 1 && resp == nil:
		return []byte("Username:"), false, nil
	case a.step == 1:
		a.gotInitial = true
		a.user = string(resp)
		return []byte("Password:"), false, nil
	case a.step == 2 && !a.gotInitial:
		a.user = string(resp)
		return []byte("Password:"), false, nil
	}
	return nil, true, a.check(a.user, string(resp))
}

// cramServer is the server side of AUTH CRAM-MD5 (RFC 2195).
type cramServer struct {
	check     func(user, pass string) error
	challenge string
}

func (a *cramServer) Next(resp []byte) ([]byte, bool, error) {
	if a.challenge == "" {
		a.challenge = "<1896.697170952@server.test>"
		return []byte(a.challenge), false, nil
	}
	user, digest, ok := strings.Cut(string(resp), " ")
	h := hmac.New(md5.New, []byte(testPass))
	h.Write([]byte(a.challenge))
	if !ok || user != testUser || !hmac.Equal([]byte(digest), []byte(hex.EncodeToString(h.Sum(nil)))) {
		return nil, true, a.check(user, "wrong")
	}
	return nil, true, a.check(user, testPass)
}

// smtpErr is a reply for the test server's backend to return.
func smtpErr(code int, enhanced smtp.EnhancedCode, msg string) error {
	return &smtp.SMTPError{Code: code, EnhancedCode: enhanced, Message: msg}
}

func (s *testServer) auths() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.authAttempts
}
