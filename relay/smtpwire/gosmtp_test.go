package smtpwire

import (
	"bufio"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"io"
	"math/big"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"

	"github.com/relayd/relayd/relay/message"
)

// TestGoSMTPBehaviours drives a real go-smtp Server through a Conn on
// loopback and checks each go-smtp behaviour listed in gosmtp.go; the
// subtests are numbered as that list. A go-smtp upgrade that changes one
// of them fails here, not somewhere in relay's hostile table.
func TestGoSMTPBehaviours(t *testing.T) {
	w := startWire(t, Limits{IdleTimeout: 10 * time.Second, MaxLineLength: 100})
	t.Run("1 greeting", func(t *testing.T) {
		c := w.dial(t)
		// dial read the greeting: it is ours, so go-smtp's began "220 ".
		c.quit(t)
	})
	t.Run("2 replies", func(t *testing.T) {
		c := w.dial(t)
		before := w.writes()
		lines := c.cmd(t, "EHLO client.test\r\n")
		if len(lines) < 3 {
			t.Fatalf("EHLO: %q, want a multi-line reply", lines)
		}
		if n := w.writes() - before; n != 1 {
			t.Errorf("EHLO's %d reply lines took %d writes to the socket, want 1: go-smtp no longer writes a reply a line at a time with its last line in the same call", len(lines), n)
		}
		c.quit(t)
	})
	t.Run("3 helo", func(t *testing.T) {
		c := w.dial(t)
		want := replyLine(errHeloFirst)
		for _, cmd := range []string{"MAIL FROM:<a@example.com>\r\n", "AUTH PLAIN\r\n"} {
			if got := c.last(t, cmd); got+"\r\n" != want {
				t.Errorf("%q before EHLO: %q, want go-smtp's %q", strings.TrimSpace(cmd), got, want)
			}
		}
		if got := c.last(t, "HELO client.test\r\n"); !strings.HasPrefix(got, string(goOK)) {
			t.Errorf("HELO: %q, want a reply starting %q", got, goOK)
		}
		if !w.last().helo.Load() {
			t.Errorf("after HELO's reply the Conn does not know go-smtp has a HELO")
		}
		c.quit(t)
	})
	t.Run("4 commands", func(t *testing.T) {
		c := w.dial(t)
		c.cmd(t, "EHLO client.test\r\n")
		for verb := range knownVerbs {
			line := verb + " x\r\n"
			switch verb {
			case "QUIT", "AUTH", "DATA":
				continue // below; DATA with an argument is refused by vetCommand's split too
			case "MAIL":
				line = "MAIL FROM:<a@example.com>\r\n"
			case "RCPT":
				line = "RCPT TO:<b@example.com>\r\n"
			}
			if got := c.last(t, line); strings.Contains(got, "unrecognized") || strings.HasPrefix(got, "501 5.5.2 Bad command") {
				t.Errorf("%q: go-smtp answered %q: it no longer dispatches %s", strings.TrimSpace(line), got, verb)
			}
		}
		c.quit(t)
	})
	t.Run("5 auth", func(t *testing.T) {
		c := w.dial(t)
		c.cmd(t, "EHLO client.test\r\n")
		if got := c.last(t, "AUTH PLAIN\r\n"); !strings.HasPrefix(got, string(goAuthChallenge)) {
			t.Fatalf("AUTH PLAIN: %q, want a %q challenge", got, goAuthChallenge)
		}
		if got, want := c.last(t, "not base64!\r\n"), replyLine(errAuthBase64); got+"\r\n" != want {
			t.Errorf("undecodable response: %q, want %q (go-smtp's answer to \"*\" is no longer a 501 line)", got, want)
		}
		c.last(t, "AUTH PLAIN\r\n")
		if got := c.last(t, base64.StdEncoding.EncodeToString([]byte("\x00user\x00pass"))+"\r\n"); !strings.HasPrefix(got, "235 ") {
			t.Errorf("AUTH PLAIN response after a 334: %q, want 235", got)
		}
		c.quit(t)
	})
	t.Run("6 starttls", func(t *testing.T) {
		c := w.dial(t)
		if ehlo := strings.Join(c.cmd(t, "EHLO client.test\r\n"), "\r\n") + "\r\n"; !strings.Contains(ehlo, string(goSTARTTLSCap)) {
			t.Fatalf("EHLO: %q, want the line %q", ehlo, goSTARTTLSCap)
		}
		c.startTLS(t, w.clientTLS)
		if ehlo := strings.Join(c.cmd(t, "EHLO client.test\r\n"), "\n"); strings.Contains(ehlo, "STARTTLS") {
			t.Errorf("EHLO after STARTTLS: %q, still offers STARTTLS", ehlo)
		}
		if got := c.last(t, "MAIL FROM:<a@example.com>\r\n"); !strings.HasPrefix(got, "250 ") {
			t.Errorf("MAIL inside TLS: %q", got)
		}
		if !w.last().connOK {
			t.Errorf("go-smtp's Conn.Conn() is not the *smtpwire.Conn the listener's Accept returned")
		}
		c.quit(t)
	})
	t.Run("7 bdat", func(t *testing.T) {
		c := w.dial(t)
		c.cmd(t, "EHLO client.test\r\n")
		if got := c.last(t, "BDAT 6\r\nQUIT\r\n"); !strings.HasPrefix(got, "502 ") {
			t.Errorf("BDAT before MAIL: %q, want go-smtp's 502", got)
		}
		if got := c.last(t, "NOOP\r\n"); !strings.HasPrefix(got, "250 ") {
			t.Errorf("NOOP after a refused BDAT: %q: go-smtp did not read the refused chunk", got)
		}
		if got := c.last(t, "BDAT x\r\n"); !strings.HasPrefix(got, "501 ") {
			t.Errorf("BDAT x: %q, want 501", got)
		}
		if got := c.last(t, "NOOP\r\n"); !strings.HasPrefix(got, "250 ") {
			t.Errorf("NOOP after a malformed BDAT: %q", got)
		}
		c.last(t, "MAIL FROM:<a@example.com>\r\n")
		c.last(t, "RCPT TO:<b@example.com>\r\n")
		chunk := "Subject: t\r\n\r\nQUIT\r\nRSET\r\n"
		if got := c.last(t, "BDAT "+strconv.Itoa(len(chunk))+" LAST\r\n"+chunk); !strings.HasPrefix(got, "250 ") {
			t.Fatalf("BDAT LAST: %q", got)
		}
		if r := w.result(t); r.err != nil || r.fast || r.body != chunk {
			t.Errorf("BDAT message: %q, %v (fast path %v), want %q", r.body, r.err, r.fast, chunk)
		}
		c.quit(t)
	})
	t.Run("8 data", func(t *testing.T) {
		c := w.dial(t)
		c.cmd(t, "EHLO client.test\r\n")
		c.last(t, "MAIL FROM:<a@example.com>\r\n")
		c.last(t, "RCPT TO:<b@example.com>\r\n")
		c.last(t, "DATA\r\n")
		got := c.last(t, "Subject: t\r\n\r\nline\r\n..dot\r\n.\r\nNOOP\r\n")
		if !strings.HasPrefix(got, "250 ") {
			t.Fatalf("end of DATA: %q", got)
		}
		if got := c.reply(t); !strings.HasPrefix(got[len(got)-1], "250 2.0.0 I have") {
			t.Errorf("NOOP pipelined after the message: %q", got)
		}
		if r, want := w.result(t), "Subject: t\r\n\r\nline\r\n.dot\r\n"; r.err != nil || !r.fast || r.body != want {
			t.Errorf("DATA message: %q, %v (fast path %v), want %q", r.body, r.err, r.fast, want)
		}
		c.quit(t)
	})
	t.Run("9 errors", func(t *testing.T) {
		c := w.dial(t)
		c.cmd(t, "EHLO client.test\r\n")
		c.last(t, "MAIL FROM:<a@example.com>\r\n")
		c.last(t, "RCPT TO:<b@example.com>\r\n")
		c.last(t, "DATA\r\n")
		c.write(t, "Subject: t\r\n\r\n"+strings.Repeat("x", 200)+"\r\n.\r\n")
		if r := w.result(t); !errors.Is(r.err, smtp.ErrTooLongLine) {
			t.Errorf("a line over max_line_length: Session.Data read %v, want smtp.ErrTooLongLine", r.err)
		}
		c.reply(t) // the session's answer
		c.close()

		short := startWire(t, Limits{IdleTimeout: 300 * time.Millisecond})
		c = short.dial(t)
		if got := c.reply(t); got[0] != "421 4.4.2 Timeout exceeded, closing connection" {
			t.Errorf("idle: %q, want this layer's 421 4.4.2", got)
		}
		if extra, err := c.r.ReadString('\n'); err == nil {
			t.Errorf("after the 421, go-smtp wrote %q", extra)
		}
	})
}

// wire is a go-smtp Server behind Conns on a loopback listener.
type wire struct {
	net.Listener
	lim       Limits
	clientTLS *tls.Config
	results   chan wireResult

	mu     sync.Mutex
	nwrite int
	conns  []*wireConn
}

// wireConn is one accepted connection: the Conn and what the backend saw.
type wireConn struct {
	*Conn
	connOK bool
}

// wireResult is what Session.Data read.
type wireResult struct {
	body string
	err  error
	fast bool
}

func startWire(t *testing.T, lim Limits) *wire {
	t.Helper()
	nl, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	serverTLS, clientTLS := wireTLS(t)
	lim.STARTTLS = serverTLS
	w := &wire{Listener: nl, lim: lim, clientTLS: clientTLS, results: make(chan wireResult, 4)}
	s := smtp.NewServer(w)
	s.Domain = "wire.test"
	s.AllowInsecureAuth = true
	s.TLSConfig = serverTLS
	s.MaxLineLength = int(lim.MaxLineLength) + 3
	done := make(chan struct{})
	go func() { defer close(done); s.Serve(w) }()
	t.Cleanup(func() { s.Close(); <-done })
	return w
}

// Accept wraps each connection, counting the writes that reach the socket.
func (w *wire) Accept() (net.Conn, error) {
	raw, err := w.Listener.Accept()
	if err != nil {
		return nil, err
	}
	c := New(&countWrites{Conn: raw, w: w}, Options{Limits: func() Limits { return w.lim },
		Greeting: "220 wire.test ESMTP smtpwire\r\n", Reject: func(string) {}})
	w.mu.Lock()
	w.conns = append(w.conns, &wireConn{Conn: c})
	w.mu.Unlock()
	return c, nil
}

func (w *wire) writes() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.nwrite
}

func (w *wire) last() *wireConn {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.conns[len(w.conns)-1]
}

func (w *wire) result(t *testing.T) wireResult {
	t.Helper()
	select {
	case r := <-w.results:
		return r
	case <-time.After(10 * time.Second):
		t.Fatal("Session.Data was not called")
		return wireResult{}
	}
}

type countWrites struct {
	net.Conn
	w *wire
}

func (c *countWrites) Write(p []byte) (int, error) {
	c.w.mu.Lock()
	c.w.nwrite++
	c.w.mu.Unlock()
	return c.Conn.Write(p)
}

// NewSession implements smtp.Backend.
func (w *wire) NewSession(sc *smtp.Conn) (smtp.Session, error) {
	wc := w.last()
	c, ok := sc.Conn().(*Conn)
	wc.connOK = ok && c == wc.Conn
	if !ok {
		return nil, errors.New("not a Conn")
	}
	return &wireSession{w: w, c: c}, nil
}

// wireSession drives the Conn as relay's session does.
type wireSession struct {
	w *wire
	c *Conn
}

// AuthMechanisms implements smtp.AuthSession.
func (s *wireSession) AuthMechanisms() []string { return []string{sasl.Plain} }

// Auth implements smtp.AuthSession: any PLAIN credentials are good.
func (s *wireSession) Auth(string) (sasl.Server, error) {
	return sasl.NewPlainServer(func(string, string, string) error { return nil }), nil
}

// Mail implements smtp.Session.
func (s *wireSession) Mail(string, *smtp.MailOptions) error { s.c.StartMessage(); return nil }

// Rcpt implements smtp.Session.
func (s *wireSession) Rcpt(string, *smtp.RcptOptions) error { return nil }

// Data implements smtp.Session as relay's does: the fast path after DATA,
// a plain read of go-smtp's reader after BDAT.
func (s *wireSession) Data(r io.Reader) error {
	res := wireResult{fast: s.c.BeginData(0, 0)}
	if res.fast {
		var m *message.Message
		if m, res.err = s.c.ReadData(r, message.Limits{MaxSize: 1 << 20, MaxLineLength: 1000, MaxHeaderBytes: 1 << 20, MaxReceived: 10}); m != nil {
			res.body = string(m.Bytes())
		}
	} else {
		b, err := io.ReadAll(r)
		res.body, res.err = string(b), err
	}
	s.c.EndData()
	s.c.FinishData()
	s.w.results <- res
	return res.err
}

// Reset implements smtp.Session.
func (s *wireSession) Reset() {}

// Logout implements smtp.Session.
func (s *wireSession) Logout() error { return nil }

// wireClient is a raw client of a wire.
type wireClient struct {
	c net.Conn
	r *bufio.Reader
}

func (w *wire) dial(t *testing.T) *wireClient {
	t.Helper()
	nc, err := net.Dial("tcp", w.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	nc.SetDeadline(time.Now().Add(10 * time.Second))
	c := &wireClient{c: nc, r: bufio.NewReader(nc)}
	t.Cleanup(c.close)
	if got := c.reply(t); len(got) != 1 || got[0] != "220 wire.test ESMTP smtpwire" {
		t.Fatalf("greeting %q, want the Conn's: go-smtp's no longer begins %q", got, goGreeting)
	}
	return c
}

func (c *wireClient) close() { c.c.Close() }

func (c *wireClient) write(t *testing.T, s string) {
	t.Helper()
	if _, err := io.WriteString(c.c, s); err != nil {
		t.Fatal(err)
	}
}

// reply reads one reply, its lines without CRLF.
func (c *wireClient) reply(t *testing.T) []string {
	t.Helper()
	var lines []string
	for {
		line, err := c.r.ReadString('\n')
		if err != nil {
			t.Fatalf("reading a reply after %q: %v", lines, err)
		}
		line = strings.TrimRight(line, "\r\n")
		lines = append(lines, line)
		if len(line) < 4 || line[3] != '-' {
			return lines
		}
	}
}

func (c *wireClient) cmd(t *testing.T, s string) []string {
	t.Helper()
	c.write(t, s)
	return c.reply(t)
}

// last sends s and returns the last line of the reply.
func (c *wireClient) last(t *testing.T, s string) string {
	t.Helper()
	r := c.cmd(t, s)
	return r[len(r)-1]
}

func (c *wireClient) startTLS(t *testing.T, cfg *tls.Config) {
	t.Helper()
	if got := c.last(t, "STARTTLS\r\n"); !strings.HasPrefix(got, "220 ") {
		t.Fatalf("STARTTLS: %q", got)
	}
	tc := tls.Client(c.c, cfg)
	if err := tc.Handshake(); err != nil {
		t.Fatal(err)
	}
	c.c, c.r = tc, bufio.NewReader(tc)
}

func (c *wireClient) quit(t *testing.T) {
	t.Helper()
	if got := c.last(t, "QUIT\r\n"); !strings.HasPrefix(got, "221 ") {
		t.Errorf("QUIT: %q", got)
	}
}

// wireTLS is a self-signed certificate for 127.0.0.1.
func wireTLS(t *testing.T) (server, client *tls.Config) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), NotBefore: time.Now().Add(-time.Hour),
		NotAfter: time.Now().Add(time.Hour), IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}},
		&tls.Config{RootCAs: pool, ServerName: "127.0.0.1"}
}
