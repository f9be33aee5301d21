package relay

import (
	"errors"
	"net"
	"net/netip"
	"sync"
	"time"
)

// conn wraps every accepted socket, below TLS. It enforces idle_timeout and
// session_timeout as read deadlines: a read that hits one returns a
// *timeoutError, and after that, or after kill, every read fails with
// net.ErrClosed, so nothing the client sends later is ever run as a
// command (go-smtp's own DATA timeout answers 554 and reads on). The
// line-level protocol checks live above it, in lineConn.
//
// conn also carries the per-connection state that outlives go-smtp's
// Session objects (which STARTTLS recreates): auth failures and errors.
type conn struct {
	net.Conn
	ln       *listener
	addr     netip.Addr // client address; invalid for unix sockets
	local    bool       // loopback or unix socket
	deadline time.Time  // accept time + session_timeout; zero = none

	mu   sync.Mutex
	dead error // returned by every Read once set

	authFailures int
	errors       int
	closeOnce    sync.Once
	onClose      func()
	data         dataBudget // the Server's budget held by lineConn's message buffer
}

// timeoutError is what a Read returns after idle_timeout or
// session_timeout: a net.Error with Timeout() true.
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
	var d time.Time
	if t := ln.config().SessionTimeout; t > 0 {
		d = now.Add(t)
	}
	return &conn{Conn: c, ln: ln, addr: addr, local: local, deadline: d}
}

// Read implements net.Conn with the idle and session deadlines.
func (c *conn) Read(p []byte) (int, error) {
	c.mu.Lock()
	dead := c.dead
	c.mu.Unlock()
	if dead != nil {
		return 0, dead
	}
	c.setReadDeadline()
	n, err := c.Conn.Read(p)
	var ne net.Error
	if err != nil && errors.As(err, &ne) && ne.Timeout() {
		c.kill()
		return 0, &timeoutError{err}
	}
	return n, err
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

// addError counts an error of the session (a refused command or message)
// and reports whether that makes more than max errors (max 0: no limit),
// after which the connection is closed with 421 (SPEC §3 max_errors). It is
// safe for concurrent use (a BDAT message is read on its own goroutine).
func (c *conn) addError(max int) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.errors++
	return max > 0 && c.errors > max
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
