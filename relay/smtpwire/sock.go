package smtpwire

import (
	"errors"
	"net"
	"sync"
	"time"
)

// sock wraps every accepted socket, below TLS. It enforces idle_timeout and
// session_timeout as read deadlines: a read that hits one returns a
// *timeoutError, and after that, or after kill, every read fails with
// net.ErrClosed, so nothing the client sends later is ever run as a
// command (go-smtp's own DATA timeout answers 554 and reads on). The
// line-level protocol checks live above it, in Conn.
//
// sock also carries the per-connection state that outlives go-smtp's
// Session objects: the count of errors, and the share of the budget held
// by Conn's message buffer.
type sock struct {
	net.Conn
	limits   func() Limits
	deadline time.Time // accept time + session_timeout; zero = none

	mu   sync.Mutex
	dead error // returned by every Read once set

	errors    int
	closeOnce sync.Once
	onClose   func()
	budget    Budget // nil: no limit
}

// timeoutError is what a Read returns after idle_timeout or
// session_timeout: a net.Error with Timeout() true.
type timeoutError struct{ err error }

// Error implements error.
func (e *timeoutError) Error() string { return "relay: connection timed out: " + e.err.Error() }

// Unwrap returns the socket's own timeout error.
func (e *timeoutError) Unwrap() error { return e.err }

// Timeout implements net.Error: always true.
func (e *timeoutError) Timeout() bool { return true }

// Temporary implements net.Error: always false, the connection is closed.
func (e *timeoutError) Temporary() bool { return false }

// IsTimeout reports whether err is an idle or session timeout of a Conn.
func IsTimeout(err error) bool {
	if err == nil {
		return false
	}
	var te *timeoutError
	return errors.As(err, &te)
}

func newSock(c net.Conn, limits func() Limits, now time.Time) *sock {
	var d time.Time
	if t := limits().SessionTimeout; t > 0 {
		d = now.Add(t)
	}
	return &sock{Conn: c, limits: limits, deadline: d}
}

// Read implements net.Conn with the idle and session deadlines.
func (c *sock) Read(p []byte) (int, error) {
	c.mu.Lock()
	dead := c.dead
	c.mu.Unlock()
	if dead != nil {
		return 0, dead
	}
	c.setReadDeadline()
	n, err := c.Conn.Read(p)
	if err != nil && isNetTimeout(err) {
		c.kill()
		return 0, &timeoutError{err}
	}
	return n, err
}

// isNetTimeout reports whether err is a net.Error with Timeout() true. It
// is a function of its own so that the target errors.As needs escapes to
// the heap only on an error, not on every Read.
func isNetTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// setReadDeadline arms the earlier of idle_timeout from now and the end of
// the whole session.
func (c *sock) setReadDeadline() {
	cfg := c.limits()
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
func (c *sock) kill() {
	c.mu.Lock()
	if c.dead == nil {
		c.dead = net.ErrClosed
	}
	c.mu.Unlock()
}

// Close closes the connection once and runs onClose.
func (c *sock) Close() error {
	err := c.Conn.Close()
	c.closeOnce.Do(func() {
		if c.onClose != nil {
			c.onClose()
		}
	})
	return err
}

// addError counts an error of the session and reports whether that makes
// more than max errors (max 0: no limit). Safe for concurrent use.
func (c *sock) addError(max int) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.errors++
	return max > 0 && c.errors > max
}

// grow takes n more octets of budget for the message buffer.
func (c *sock) grow(n int64) bool { return c.budget == nil || c.budget.Grow(n) }

// release gives back the budget the message buffer holds (see Budget).
func (c *sock) release(close bool) {
	if c.budget != nil {
		c.budget.Release(close)
	}
}

var _ net.Conn = (*sock)(nil)
