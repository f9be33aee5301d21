package relay

import (
	"bytes"
	"errors"
	"net"
	"net/netip"
	"sync"
	"time"
)

// commandLineLimit is the longest command line accepted, CRLF included
// (SPEC §4: "command lines are always limited to 2000 octets").
const commandLineLimit = 2000

// conn wraps every accepted connection below go-smtp (and below TLS). It
// enforces what go-smtp cannot be trusted with:
//
//   - idle_timeout and session_timeout as read deadlines. After a timeout the
//     connection is dead for good: every later Read fails with net.ErrClosed,
//     so nothing the client sent after the timeout is ever run as a command
//     (go-smtp's own DATA timeout answers 554 and goes on reading).
//   - in the plaintext phase (before STARTTLS; never for implicit TLS, where
//     it only sees ciphertext): the 2000-octet command line limit, HTTP
//     request lines (closed at once), commands pipelined behind STARTTLS
//     (discarded, RFC 3207 5), and bare CR/LF inside DATA (for
//     bare_lf = "reject": go-smtp's DATA reader silently drops ".\r").
//
// TLS sessions get go-smtp's own line limit (max_line_length) instead.
// It also carries the per-connection state that outlives go-smtp's Session
// objects (which STARTTLS recreates): auth failures and errors.
type conn struct {
	net.Conn
	ln       *listener
	addr     netip.Addr // client address; invalid for unix sockets
	local    bool       // loopback or unix socket
	start    time.Time
	deadline time.Time // start + session_timeout; zero = none

	mu       sync.Mutex
	opaque   bool // TLS runs on this conn: no line-level checks
	dataMode bool // a message is being received
	lineLen  int
	prevCR   bool
	bareEOL  bool // a bare CR or LF was seen while receiving a message
	head     []byte
	pending  error // returned by the next Read
	dead     error // returned by every Read after pending

	authFailures int
	errors       int
	closeOnce    sync.Once
	onClose      func()
}

// timeoutError is what a Read returns after idle_timeout or
// session_timeout. It is a net.Error with Timeout() true, which go-smtp
// answers with "421 4.4.2" before closing.
type timeoutError struct{ err error }

func (e *timeoutError) Error() string   { return "relay: connection timed out: " + e.err.Error() }
func (e *timeoutError) Unwrap() error   { return e.err }
func (e *timeoutError) Timeout() bool   { return true }
func (e *timeoutError) Temporary() bool { return false }

// timedOut reports whether err is an idle or session timeout.
func timedOut(err error) bool {
	var te *timeoutError
	return errors.As(err, &te)
}

func newConn(c net.Conn, ln *listener, addr netip.Addr, local bool, now time.Time) *conn {
	cfg := ln.config()
	var d time.Time
	if cfg.SessionTimeout > 0 {
		d = now.Add(cfg.SessionTimeout)
	}
	return &conn{Conn: c, ln: ln, addr: addr, local: local, start: now, deadline: d,
		opaque: cfg.TLS == "implicit"}
}

// Read implements net.Conn with deadlines and the plaintext checks.
func (c *conn) Read(p []byte) (int, error) {
	c.mu.Lock()
	err := c.takeErrorLocked()
	c.mu.Unlock()
	if err != nil {
		return 0, err
	}
	c.setReadDeadline()
	n, err := c.Conn.Read(p)
	if err != nil {
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			c.kill()
			return n, &timeoutError{err}
		}
		return n, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	switch {
	case c.opaque:
		return n, nil
	case c.dataMode:
		c.scanDataLocked(p[:n])
		return n, nil
	}
	return c.scanCommandsLocked(p[:n])
}

// takeErrorLocked returns the pending error once, then the dead error forever.
func (c *conn) takeErrorLocked() error {
	if c.pending != nil {
		err := c.pending
		c.pending = nil
		if c.dead == nil {
			c.dead = net.ErrClosed
		}
		return err
	}
	return c.dead
}

// setReadDeadline arms the earlier of idle_timeout from now and the end of
// the whole session.
func (c *conn) setReadDeadline() {
	cfg := c.ln.config()
	var d time.Time
	if cfg.IdleTimeout > 0 {
		d = time.Now().Add(cfg.IdleTimeout)
	}
	if !c.deadline.IsZero() && (d.IsZero() || c.deadline.Before(d)) {
		d = c.deadline
	}
	c.Conn.SetReadDeadline(d)
}

// scanDataLocked notes bare CR and bare LF inside a message.
func (c *conn) scanDataLocked(b []byte) {
	for _, ch := range b {
		if (ch == '\n' && !c.prevCR) || (c.prevCR && ch != '\n') {
			c.bareEOL = true
		}
		c.prevCR = ch == '\r'
	}
}

// scanCommandsLocked checks plaintext command lines. An overlong line is
// answered here and the connection closed: handing its first part to
// go-smtp would run a truncated command (bufio drops the error that
// follows a partial line).
func (c *conn) scanCommandsLocked(b []byte) (int, error) {
	for i, ch := range b {
		if c.lineLen < crossProtocolProbe && ch != '\n' {
			c.head = append(c.head, ch)
		}
		c.lineLen++
		if c.lineLen == crossProtocolProbe || ch == '\n' {
			if isCrossProtocol(c.head) {
				c.abortLocked("")
				return 0, net.ErrClosed
			}
		}
		if c.lineLen > commandLineLimit {
			c.abortLocked("500 5.5.2 Line too long, closing connection\r\n")
			return 0, net.ErrClosed
		}
		if ch != '\n' {
			continue
		}
		line := c.head
		c.lineLen, c.head = 0, c.head[:0]
		if c.ln.config().TLS == "starttls" && bytes.HasPrefix(bytes.ToUpper(bytes.TrimSpace(line)), []byte("STARTTLS")) {
			// RFC 3207 5: discard anything pipelined behind STARTTLS; from
			// here on this conn carries TLS.
			c.opaque = true
			return i + 1, nil
		}
	}
	return len(b), nil
}

// abortLocked writes a last reply (if any) and closes the connection.
func (c *conn) abortLocked(reply string) {
	if reply != "" {
		c.Conn.SetWriteDeadline(time.Now().Add(5 * time.Second))
		c.Conn.Write([]byte(reply))
	}
	c.dead = net.ErrClosed
	c.Conn.Close()
}

// crossProtocolProbe is how many octets of a command line are looked at.
const crossProtocolProbe = 12

// crossProtocol are line starts that are never SMTP: HTTP request lines and
// headers (a browser or proxy pointed at the SMTP port).
var crossProtocol = [][]byte{
	[]byte("GET "), []byte("POST "), []byte("HEAD "), []byte("PUT "),
	[]byte("DELETE "), []byte("OPTIONS "), []byte("CONNECT "), []byte("PATCH "),
	[]byte("TRACE "), []byte("HOST:"), []byte("USER-AGENT:"),
}

func isCrossProtocol(head []byte) bool {
	for _, p := range crossProtocol {
		if len(head) >= len(p) && bytes.EqualFold(head[:len(p)], p) {
			return true
		}
	}
	return false
}

// beginData switches to message mode and forgets earlier bare line ends.
func (c *conn) beginData() {
	c.mu.Lock()
	c.dataMode, c.bareEOL, c.prevCR = true, false, false
	c.mu.Unlock()
}

// endData switches back to command mode and reports whether the message
// contained a bare CR or LF.
func (c *conn) endData() (bare bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.dataMode, c.lineLen, c.head = false, 0, c.head[:0]
	return c.bareEOL || c.prevCR
}

// kill makes every later Read fail, so go-smtp closes the connection without
// running anything the client sends afterwards.
func (c *conn) kill() {
	c.mu.Lock()
	if c.dead == nil {
		c.dead = net.ErrClosed
	}
	c.mu.Unlock()
}

// Close closes the connection once and releases its connection slots.
func (c *conn) Close() error {
	err := c.Conn.Close()
	c.closeOnce.Do(func() {
		if c.onClose != nil {
			c.onClose()
		}
	})
	return err
}

// isLocal reports whether a client may use AUTH without TLS (SPEC §4: only
// over TLS, or on a loopback / unix connection).
func isLocal(addr netip.Addr, network string) bool {
	return network == "unix" || (addr.IsValid() && addr.Unmap().IsLoopback())
}

// remoteAddr extracts the client IP; unix sockets have none.
func remoteAddr(c net.Conn) netip.Addr {
	if ta, ok := c.RemoteAddr().(*net.TCPAddr); ok {
		a, _ := netip.AddrFromSlice(ta.IP)
		return a.Unmap()
	}
	return netip.Addr{}
}

var _ net.Conn = (*conn)(nil)
