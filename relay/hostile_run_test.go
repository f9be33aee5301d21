package relay

// TestHostileTable is one table of hostile SMTP clients (issue 7): each case
// is a raw client script against the real listener (plain, or STARTTLS with a
// certificate generated here), asserting the exact reply code and enhanced
// code of every step (docs/smtp.md, RFC 5321/3030/3207/4954) and exactly what
// reached the upstream sink: nothing, or the listed messages with their
// envelope and content. A failing case prints its full transcript.
//
// Everything runs on 127.0.0.0/8. The per-IP cases dial from 127.0.0.2 and
// 127.0.0.3, which Linux routes on lo without configuration.

import (
	"bufio"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"errors"
	"fmt"
	"math/big"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"
)

// Identities used by the scripts.
const (
	hFrom = "app@example.com"
	hTo   = "someone@example.org"
	hUser = "crm"
	hPass = "s3cret-pw"
)

// hBody is an ordinary message; cases that do not test content send it.
const hBody = "From: App <app@example.com>\r\nTo: someone@example.org\r\nSubject: hostile\r\n\r\nHello.\r\n"

// hSmuggled is the second transaction a smuggling payload tries to start.
const hSmuggled = "MAIL FROM:<evil@example.com>\r\nRCPT TO:<victim@example.org>\r\nDATA\r\nSubject: smuggled\r\n\r\nx\r\n"

type hOp int

const (
	hOpCmd          hOp = iota // write data (if any), then read one reply when want != ""
	hOpDial                    // open connection conn from src (no read)
	hOpDialEventual            // dial conn from src until its banner matches want (bounded 5 s)
	hOpTLS                     // client TLS handshake on conn
	hOpClosed                  // the server closes conn within 5 s; no 2xx/3xx reply before EOF
	hOpDrip                    // write data one octet per every until a reply arrives, then the rest
	hOpHangUp                  // the client closes conn
	hOpShutWrite               // the client closes its sending side of conn (TCP half-close)
)

// hstep is one step of a client script.
type hstep struct {
	op       hOp
	conn     int
	data     string
	want     string   // "CODE" or "CODE X.Y.Z" of the reply's last line
	has      []string // substrings of the whole reply
	lacks    []string
	src      string        // hOpDial: source address
	minDelay time.Duration // the reply must take at least this long (AUTH failure delay)
	every    time.Duration // hOpDrip: pace
}

// hmsg is one message the sink must receive.
type hmsg struct {
	from  string
	to    []string
	has   []string // substrings of the delivered octets
	lacks []string
	wire  []string // substrings of the sink's wire transcript (both directions)
}

type hCase struct {
	name    string
	cfg     func(*Config) // listener and relay settings on top of baseConfig
	tls     bool          // listener tls = "starttls" with a generated certificate
	steps   []hstep
	deliver []hmsg // exactly these, in order; nil: nothing reaches the sink
	// limit, when set, names a known limitation that keeps relayd from the
	// behaviour the case asserts; the case is skipped with that text.
	limit string
}

// Step constructors.

func hSend(data, want string, has ...string) hstep {
	return hstep{op: hOpCmd, data: data, want: want, has: has}
}
func hWrite(data string) hstep { return hstep{op: hOpCmd, data: data} }
func hExpect(want string, has ...string) hstep {
	return hstep{op: hOpCmd, want: want, has: has}
}
func hClosed() hstep    { return hstep{op: hOpClosed} }
func hShutWrite() hstep { return hstep{op: hOpShutWrite} }
func hTLS() hstep       { return hstep{op: hOpTLS} }
func hDial(conn int, src string) hstep {
	return hstep{op: hOpDial, conn: conn, src: src}
}
func hOn(conn int, s hstep) hstep { s.conn = conn; return s }
func hEHLO() hstep                { return hSend("EHLO client.test\r\n", "250") }
func hQuit() hstep                { return hSend("QUIT\r\n", "221 2.0.0") }
func hQueued(data string) hstep   { return hSend(data, "250 2.0.0", "Ok: queued as ") }

// seq flattens hstep and []hstep arguments.
func hSeq(parts ...any) []hstep {
	var out []hstep
	for _, p := range parts {
		switch v := p.(type) {
		case hstep:
			out = append(out, v)
		case []hstep:
			out = append(out, v...)
		default:
			panic(fmt.Sprintf("seq: %T", p))
		}
	}
	return out
}

// std is a plain session start: dial from 127.0.0.1, banner, EHLO.
func hStd(parts ...any) []hstep {
	return hSeq(hDial(0, "127.0.0.1"), hExpect("220", "relay.test ESMTP relayd"), hEHLO(), hSeq(parts...))
}

// tx opens the usual transaction and answers 354 to DATA.
func hTx() []hstep {
	return hSeq(
		hSend("MAIL FROM:<"+hFrom+">\r\n", "250 2.0.0"),
		hSend("RCPT TO:<"+hTo+">\r\n", "250 2.0.0"),
		hSend("DATA\r\n", "354"),
	)
}

// bdat is a BDAT command with its chunk.
func hBDAT(chunk string, last bool) string {
	l := ""
	if last {
		l = " LAST"
	}
	return fmt.Sprintf("BDAT %d%s\r\n%s", len(chunk), l, chunk)
}

func hB64(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }

// one is "exactly one message from hFrom to hTo containing has".
func hOne(has ...string) []hmsg {
	return []hmsg{{from: hFrom, to: []string{hTo}, has: has}}
}

func hReject(c *Config)              { c.BareLF = BareLFReject }
func hAuthNone(c *Config)            { c.Listeners[0].Auth = "none" }
func hAuthRequired(c *Config)        { c.Listeners[0].Auth = "required" }
func hMaxSize(n int64) func(*Config) { return func(c *Config) { c.Listeners[0].MaxMessageSize = n } }
func hIdle(d time.Duration) func(*Config) {
	return func(c *Config) { c.Listeners[0].IdleTimeout = d }
}

var hPlainAuth = hB64("\x00" + hUser + "\x00" + hPass)

// hostileTLS returns the listener's TLS config (a self-signed certificate
// for 127.0.0.1) and a client config that trusts exactly that certificate.
func hostileTLS(t *testing.T) (server, client *tls.Config) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(7),
		Subject:               pkix.Name{CommonName: "relay.test"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
		IPAddresses:           []net.IP{net.ParseIP("127.0.0.1")},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(leaf)
	server = &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}},
		MinVersion: tls.VersionTLS12}
	client = &tls.Config{RootCAs: pool, ServerName: "127.0.0.1", MinVersion: tls.VersionTLS12}
	return server, client
}

func TestHostileTable(t *testing.T) {
	cases := hostileCases()
	if len(cases) < 60 {
		t.Fatalf("%d hostile cases, want at least 60", len(cases))
	}
	srvTLS, cliTLS := hostileTLS(t)
	hash, err := bcrypt.GenerateFromPassword([]byte(hPass), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, tc := range cases {
		if seen[tc.name] {
			t.Fatalf("duplicate case name %q", tc.name)
		}
		seen[tc.name] = true
		t.Run(tc.name, func(t *testing.T) {
			if tc.limit != "" {
				t.Skip("known limitation: " + tc.limit)
			}
			t.Parallel()
			sk := newSink(t)
			cfg := baseConfig(sk.addr)
			cfg.Users = map[string]User{hUser: {PasswordHash: string(hash)}}
			if tc.tls {
				cfg.Listeners[0].TLS = "starttls"
				cfg.Listeners[0].TLSConfig = srvTLS
			}
			if tc.cfg != nil {
				tc.cfg(cfg)
			}
			r := startRelay(t, cfg)
			h := &hrun{t: t, addr: r.addr, cli: cliTLS, conns: map[int]*hconn{}}
			t.Cleanup(h.closeAll) // runs before the relay stops
			h.run(tc.steps)
			h.checkSink(sk, r, tc.deliver)
			switch {
			case h.failed:
				t.Errorf("transcript of %q:\n%s", tc.name, h.transcript())
			case testing.Verbose():
				t.Logf("transcript:\n%s", h.transcript())
			}
		})
	}
}

// hrun executes one client script.
type hrun struct {
	t      *testing.T
	addr   string
	cli    *tls.Config
	conns  map[int]*hconn
	mu     sync.Mutex
	log    strings.Builder
	start  time.Time
	failed bool
}

type hconn struct {
	c  net.Conn
	br *bufio.Reader
}

func (h *hrun) logf(format string, args ...any) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.start.IsZero() {
		h.start = time.Now()
	}
	fmt.Fprintf(&h.log, "%6dms ", time.Since(h.start).Milliseconds())
	fmt.Fprintf(&h.log, format, args...)
	h.log.WriteByte('\n')
}

func (h *hrun) transcript() string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.log.String()
}

func (h *hrun) errorf(format string, args ...any) {
	h.t.Helper()
	h.failed = true
	msg := fmt.Sprintf(format, args...)
	h.logf("!! %s", msg)
	h.t.Error(msg)
}

func (h *hrun) closeAll() {
	for _, hc := range h.conns {
		hc.c.Close()
	}
}

// short shortens long octet strings in the transcript.
func hShort(s string) string {
	if len(s) > 300 {
		return fmt.Sprintf("%q ...(%d octets)... %q", s[:200], len(s)-260, s[len(s)-60:])
	}
	return fmt.Sprintf("%q", s)
}

func (h *hrun) dial(n int, src string) error {
	d := net.Dialer{Timeout: 5 * time.Second, LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}}
	c, err := d.Dial("tcp", h.addr)
	if err != nil {
		return err
	}
	if old := h.conns[n]; old != nil {
		old.c.Close()
	}
	h.conns[n] = &hconn{c: c, br: bufio.NewReader(c)}
	h.logf("C%d: connected from %s to %s", n, src, h.addr)
	return nil
}

// readReply reads one reply (all its lines) within d.
func (h *hrun) readReply(n int, hc *hconn, d time.Duration) ([]string, error) {
	hc.c.SetReadDeadline(time.Now().Add(d))
	var lines []string
	for {
		line, err := hc.br.ReadString('\n')
		if line != "" {
			h.logf("S%d< %s", n, hShort(line))
		}
		if err != nil {
			if line != "" {
				lines = append(lines, strings.TrimRight(line, "\r\n"))
			}
			h.logf("S%d: read: %v", n, err)
			return lines, err
		}
		line = strings.TrimRight(line, "\r\n")
		lines = append(lines, line)
		if len(line) < 4 || line[3] != '-' {
			return lines, nil
		}
	}
}

func (h *hrun) write(n int, hc *hconn, data string) {
	h.logf("C%d> %s", n, hShort(data))
	hc.c.SetWriteDeadline(time.Now().Add(10 * time.Second))
	if _, err := hc.c.Write([]byte(data)); err != nil {
		h.logf("C%d: write: %v", n, err) // the server may have closed: later steps tell
	}
}

// replyIs reports whether the last reply line has want's code and, if
// want names one, exactly that enhanced code.
func hReplyIs(last, want string) bool {
	code, enh, _ := strings.Cut(want, " ")
	if len(last) < 3 || last[:3] != code || (len(last) > 3 && last[3] != ' ') {
		return false
	}
	if enh == "" {
		return true
	}
	tok, _, _ := strings.Cut(strings.TrimPrefix(last[3:], " "), " ")
	return tok == enh
}

// checkReply compares a reply with the step; false if the stream is out of
// sync (no complete reply).
func (h *hrun) checkReply(i int, s hstep, lines []string, err error, took time.Duration) bool {
	h.t.Helper()
	if err != nil || len(lines) == 0 {
		h.errorf("step %d: want %q, got no reply (%v)", i, s.want, err)
		return false
	}
	last := lines[len(lines)-1]
	if !hReplyIs(last, s.want) {
		h.errorf("step %d: got %q, want %q", i, last, s.want)
	}
	all := strings.Join(lines, "\n")
	for _, sub := range s.has {
		if !strings.Contains(all, sub) {
			h.errorf("step %d: reply %q lacks %q", i, all, sub)
		}
	}
	for _, sub := range s.lacks {
		if strings.Contains(all, sub) {
			h.errorf("step %d: reply %q contains %q", i, all, sub)
		}
	}
	if took < s.minDelay {
		h.errorf("step %d: reply after %v, want at least %v", i, took, s.minDelay)
	}
	return true
}

// run executes the steps. A reply with the wrong code is reported and the
// script goes on (later steps show what the server did next); a missing
// reply stops it.
func (h *hrun) run(steps []hstep) {
	h.t.Helper()
	for i, s := range steps {
		hc := h.conns[s.conn]
		if hc == nil && s.op != hOpDial && s.op != hOpDialEventual {
			h.errorf("step %d: connection %d was never opened", i, s.conn)
			return
		}
		switch s.op {
		case hOpDial:
			if err := h.dial(s.conn, s.src); err != nil {
				h.errorf("step %d: dial from %s: %v", i, s.src, err)
				return
			}
		case hOpDialEventual:
			if !h.dialEventually(i, s) {
				return
			}
		case hOpHangUp:
			h.logf("C%d: client closes", s.conn)
			hc.c.Close()
		case hOpShutWrite:
			h.logf("C%d: client closes its sending side", s.conn)
			if cw, ok := hc.c.(interface{ CloseWrite() error }); ok {
				cw.CloseWrite()
			}
		case hOpCmd:
			if s.data != "" {
				h.write(s.conn, hc, s.data)
			}
			if s.want == "" {
				continue
			}
			start := time.Now()
			lines, err := h.readReply(s.conn, hc, 15*time.Second)
			if !h.checkReply(i, s, lines, err, time.Since(start)) {
				return
			}
		case hOpTLS:
			tc := tls.Client(hc.c, h.cli.Clone())
			tc.SetDeadline(time.Now().Add(10 * time.Second))
			if err := tc.Handshake(); err != nil {
				h.errorf("step %d: TLS handshake: %v", i, err)
				return
			}
			tc.SetDeadline(time.Time{})
			h.logf("C%d: TLS %s established", s.conn, tls.VersionName(tc.ConnectionState().Version))
			hc.c, hc.br = tc, bufio.NewReader(tc)
		case hOpClosed:
			h.expectClosed(i, s.conn, hc)
		case hOpDrip:
			if !h.drip(i, s, hc) {
				return
			}
		}
	}
}

func (h *hrun) dialEventually(i int, s hstep) bool {
	h.t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		if err := h.dial(s.conn, s.src); err == nil {
			lines, err := h.readReply(s.conn, h.conns[s.conn], 5*time.Second)
			if err == nil && len(lines) > 0 && hReplyIs(lines[len(lines)-1], s.want) {
				return true
			}
		}
		if time.Now().After(deadline) {
			h.errorf("step %d: no %q banner within 5 s", i, s.want)
			return false
		}
		time.Sleep(25 * time.Millisecond) // poll interval
	}
}

// expectClosed reads until EOF (or reset) within 5 s. Any 2xx or 3xx reply
// before it means a command ran that should not have.
func (h *hrun) expectClosed(i, n int, hc *hconn) {
	h.t.Helper()
	hc.c.SetReadDeadline(time.Now().Add(5 * time.Second))
	var got strings.Builder
	buf := make([]byte, 4096)
	var err error
	for {
		var k int
		k, err = hc.br.Read(buf)
		got.Write(buf[:k])
		if err != nil {
			break
		}
	}
	if got.Len() > 0 {
		h.logf("S%d< %s", n, hShort(got.String()))
	}
	h.logf("S%d: %v", n, err)
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		h.errorf("step %d: connection %d still open 5 s later", i, n)
	}
	for _, line := range strings.Split(got.String(), "\n") {
		if line != "" && (line[0] == '2' || line[0] == '3') {
			h.errorf("step %d: reply %q before the close: a command ran", i, strings.TrimSpace(line))
		}
	}
}

// drip writes s.data one octet per s.every until a reply arrives, checks
// it, then writes what is left (octets sent after the reply).
func (h *hrun) drip(i int, s hstep, hc *hconn) bool {
	h.t.Helper()
	type result struct {
		lines []string
		err   error
	}
	done := make(chan result, 1)
	go func() {
		lines, err := h.readReply(s.conn, hc, 15*time.Second)
		done <- result{lines, err}
	}()
	tick := time.NewTicker(s.every)
	defer tick.Stop()
	sent := 0
	h.logf("C%d> (dripping %s one octet per %v)", s.conn, hShort(s.data), s.every)
	hc.c.SetWriteDeadline(time.Now().Add(15 * time.Second))
	for {
		select {
		case res := <-done:
			h.logf("C%d: %d of %d octets sent before the reply", s.conn, sent, len(s.data))
			ok := h.checkReply(i, s, res.lines, res.err, 0)
			if sent == len(s.data) {
				h.errorf("step %d: the whole drip was sent before the reply: the timeout did not fire in time", i)
			}
			if sent < len(s.data) {
				h.write(s.conn, hc, s.data[sent:])
			}
			return ok
		case <-tick.C:
			if sent < len(s.data) {
				if _, err := hc.c.Write([]byte{s.data[sent]}); err == nil {
					sent++
				}
			}
		}
	}
}

// checkSink asserts that exactly want reached the sink.
func (h *hrun) checkSink(sk *sink, r *testRelay, want []hmsg) {
	h.t.Helper()
	for i, w := range want {
		var m sinkMsg
		select {
		case m = <-sk.msgs:
		case <-time.After(10 * time.Second):
			h.errorf("sink: message %d of %d did not arrive within 10 s", i+1, len(want))
			return
		}
		h.logf("SINK: message from %q to %q, %d octets", m.From, m.To, len(m.Data))
		if m.From != w.from || strings.Join(m.To, "\x00") != strings.Join(w.to, "\x00") {
			h.errorf("sink: message %d envelope from %q to %q, want from %q to %q", i+1, m.From, m.To, w.from, w.to)
		}
		for _, sub := range w.has {
			if !strings.Contains(string(m.Data), sub) {
				h.errorf("sink: message %d lacks %q:\n%s", i+1, sub, m.Data)
			}
		}
		for _, sub := range w.lacks {
			if strings.Contains(string(m.Data), sub) {
				h.errorf("sink: message %d contains %q:\n%s", i+1, sub, m.Data)
			}
		}
		for _, sub := range w.wire {
			if !strings.Contains(sk.transcript(), sub) {
				h.errorf("sink: wire lacks %q:\n%s", sub, sk.transcript())
			}
		}
		if p := hBareEOL(m.Data); p >= 0 {
			h.errorf("sink: message %d has a bare CR or LF at %d: %q", i+1, p, m.Data)
		}
	}
	r.idle()
	select {
	case m := <-sk.msgs:
		h.errorf("sink: unexpected message from %q to %q:\n%s", m.From, m.To, m.Data)
	default:
	}
}

// bareEOL returns the offset of the first bare CR or LF in b, or -1.
func hBareEOL(b []byte) int {
	for i, ch := range b {
		if ch == '\n' && (i == 0 || b[i-1] != '\r') {
			return i
		}
		if ch == '\r' && (i+1 >= len(b) || b[i+1] != '\n') {
			return i
		}
	}
	return -1
}
