package relay

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/emersion/go-smtp"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/relayd/relayd/relay/smtpwire"
)

// listener is one [[listener]]: a bound socket, its go-smtp server and the
// admission checks that run before go-smtp sees a connection (allow_networks,
// max_connections, max_connections_per_ip).
type listener struct {
	net.Listener
	srv  *Server
	name string
	cfg  Listener // immutable snapshot; replaced as a whole by reload
	cfgp atomic.Pointer[Listener]
	smtp *smtp.Server

	mu    sync.Mutex
	total int
	perIP map[netip.Addr]int
	conns map[*conn]struct{}
}

// listen binds one listener. Unix socket paths are removed first if stale.
func listen(cfg Listener) (net.Listener, error) {
	if cfg.Network == "unix" {
		if err := os.Remove(cfg.Address); err != nil && !errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("listener %s: remove stale socket: %w", cfg.Name, err)
		}
		l, err := net.Listen("unix", cfg.Address)
		if err != nil {
			return nil, fmt.Errorf("listener %s: %w", cfg.Name, err)
		}
		os.Chmod(cfg.Address, 0o666)
		return l, nil
	}
	// No TCP keep-alive: idle_timeout and session_timeout already end a
	// session whose client went away, and the probes' settings would cost
	// four setsockopt calls per accepted connection.
	lc := net.ListenConfig{KeepAlive: -1}
	l, err := lc.Listen(context.Background(), "tcp", cfg.Address)
	if err != nil {
		return nil, fmt.Errorf("listener %s: %w", cfg.Name, err)
	}
	return l, nil
}

func (l *listener) config() *Listener { return l.cfgp.Load() }

// Accept returns the next admitted connection. Refused connections get their
// reply and are closed without ever reaching go-smtp.
func (l *listener) Accept() (net.Conn, error) {
	for {
		raw, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		if c := l.admit(raw); c != nil {
			return c, nil
		}
	}
}

// admit applies allow_networks and the connection limits to one new
// connection and wraps it, or refuses it and returns nil.
func (l *listener) admit(raw net.Conn) net.Conn {
	cfg := l.config()
	addr := remoteAddr(raw)
	if cfg.Network != "unix" && !allowed(addr, cfg.AllowNetworks) {
		l.refuse(raw, "network", errNetwork)
		return nil
	}
	l.mu.Lock()
	switch {
	case cfg.MaxConnections > 0 && l.total >= cfg.MaxConnections:
		l.mu.Unlock()
		l.refuse(raw, "ratelimit", reply(421, 4, 3, 2, "Too many connections, try again later"))
		return nil
	case cfg.MaxConnectionsPerIP > 0 && addr.IsValid() && l.perIP[addr] >= cfg.MaxConnectionsPerIP:
		l.mu.Unlock()
		l.refuse(raw, "ratelimit", reply(421, 4, 7, 0, "Too many connections from your address, try again later"))
		return nil
	}
	l.total++
	if addr.IsValid() {
		l.perIP[addr]++
	}
	l.mu.Unlock()

	c := &conn{addr: addr, local: isLocal(addr, cfg.Network)}
	c.data.b = &l.srv.budget
	var implicit *tls.Config
	if cfg.TLS == "implicit" {
		implicit = cfg.TLSConfig
	}
	c.Conn = smtpwire.New(raw, smtpwire.Options{Limits: l.wireLimits, Greeting: l.srv.greeting(), ImplicitTLS: implicit,
		Reject: l.rejectReason, Budget: wireBudget{&c.data}, OnClose: func() {
			l.release(c)
			c.data.release(true) // the message buffer's budget, whatever the session was doing
		}})
	l.mu.Lock()
	l.conns[c] = struct{}{}
	l.mu.Unlock()
	l.srv.metrics.sessions.WithLabelValues(l.name).Inc()
	return c
}

// release returns a closed connection's slots.
func (l *listener) release(c *conn) {
	l.mu.Lock()
	l.total--
	if c.addr.IsValid() {
		if l.perIP[c.addr]--; l.perIP[c.addr] <= 0 {
			delete(l.perIP, c.addr)
		}
	}
	delete(l.conns, c)
	l.mu.Unlock()
	l.srv.metrics.sessions.WithLabelValues(l.name).Dec()
}

// refuse answers a connection that is not admitted and closes it, without
// blocking the accept loop on a slow peer.
func (l *listener) refuse(raw net.Conn, reason string, e *smtp.SMTPError) {
	l.srv.metrics.rejected.WithLabelValues(l.name, reason).Inc()
	l.srv.log.Info("connection refused", "listener", l.name, "client", raw.RemoteAddr().String(), "reason", reason)
	go func() {
		raw.SetWriteDeadline(time.Now().Add(5 * time.Second))
		fmt.Fprintf(raw, "%d %d.%d.%d %s\r\n", e.Code, e.EnhancedCode[0], e.EnhancedCode[1], e.EnhancedCode[2], e.Message)
		raw.Close()
	}()
}

// killAll makes every open connection fail its next read (shutdown).
func (l *listener) killAll() {
	l.mu.Lock()
	defer l.mu.Unlock()
	for c := range l.conns {
		c.Interrupt()
	}
}

func allowed(addr netip.Addr, nets []netip.Prefix) bool {
	if !addr.IsValid() {
		return false
	}
	for _, p := range nets {
		if p.Contains(addr) || (addr.Is4() && p.Contains(netip.AddrFrom16(addr.As16()))) {
			return true
		}
	}
	return false
}

// serve runs go-smtp on this listener until it is closed.
func (l *listener) serve(ctx context.Context) {
	err := l.smtp.Serve(l)
	if err != nil && !errors.Is(err, net.ErrClosed) && !errors.Is(err, smtp.ErrServerClosed) && ctx.Err() == nil {
		l.srv.log.Error("listener stopped", "listener", l.name, "err", err)
	}
}

// slogLogger routes go-smtp's ErrorLog through slog: its messages (a
// failed read or write of a client, mostly) at Debug, except the one go-smtp
// writes when it recovered a panic of a session's goroutine ("panic
// serving ADDR: VALUE" and the stack; the client got 421 and the
// connection was closed): that one is an Error record with the stack as an
// attribute, and relayd_panics_total{component="session"} counts it.
type slogLogger struct {
	log    *slog.Logger
	panics prometheus.Counter // nil: not counted
}

// Printf implements smtp.Logger.
func (s slogLogger) Printf(format string, v ...any) { s.print(fmt.Sprintf(format, v...)) }

// Println implements smtp.Logger.
func (s slogLogger) Println(v ...any) { s.print(fmt.Sprintln(v...)) }

func (s slogLogger) print(msg string) {
	msg = strings.TrimSpace(msg)
	if !strings.HasPrefix(msg, "panic serving ") {
		s.log.Debug(msg)
		return
	}
	if s.panics != nil {
		s.panics.Inc()
	}
	first, stack, _ := strings.Cut(msg, "\n")
	s.log.Error(first, "stack", stack)
}
