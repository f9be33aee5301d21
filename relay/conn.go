package relay

import (
	"net"
	"net/netip"

	"github.com/relayd/relayd/relay/smtpwire"
)

// conn is one accepted connection as relay sees it: the wire layer
// (smtpwire.Conn, which go-smtp reads from and which owns timeouts,
// command lines, DATA/BDAT and STARTTLS) and the per-connection state that
// outlives go-smtp's Session objects: the client's address and AUTH
// failures. go-smtp's Conn.Conn() is always this value (the wire layer
// runs STARTTLS itself), so a Session finds it with a type assertion.
type conn struct {
	*smtpwire.Conn
	addr  netip.Addr // client address; invalid for unix sockets
	local bool       // loopback or unix socket

	authFailures int
	data         dataBudget // the Server's budget held by the wire layer's message buffer
}

// kill makes every later read fail (smtpwire.Conn.Kill): go-smtp closes
// the connection without running anything the client sends afterwards.
func (c *conn) kill() { c.Kill() }

// timedOut reports whether err is an idle or session timeout.
func timedOut(err error) bool { return smtpwire.IsTimeout(err) }

// wireLimits are the listener's current settings for the wire layer.
func (l *listener) wireLimits() smtpwire.Limits {
	cfg := l.config()
	lim := smtpwire.Limits{IdleTimeout: cfg.IdleTimeout, SessionTimeout: cfg.SessionTimeout,
		MaxLineLength: cfg.MaxLineLength, MaxMessageSize: cfg.MaxMessageSize, MaxErrors: cfg.MaxErrors}
	if cfg.TLS == "starttls" {
		lim.STARTTLS = cfg.TLSConfig
	}
	return lim
}

// rejectReason counts a refusal of the wire layer.
func (l *listener) rejectReason(reason string) {
	l.srv.metrics.rejected.WithLabelValues(l.name, reason).Inc()
}

// wireBudget is a dataBudget as the wire layer's smtpwire.Budget.
type wireBudget struct{ d *dataBudget }

// Grow implements smtpwire.Budget.
func (w wireBudget) Grow(n int64) bool { return w.d.grow(n) }

// Release implements smtpwire.Budget.
func (w wireBudget) Release(close bool) { w.d.release(close) }

// isLocal reports whether a client may use AUTH without TLS (only
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
