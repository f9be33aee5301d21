// Package relay is relayd's core, the middle of its data flow
// (docs/architecture.md):
//
//	SMTP client -> relay (listener, session, limits, client auth)
//	            -> policy (team, routing, rewrites)
//	            -> spool (durable before the 250 reply)
//	            -> upstream (delivery) -> result back into spool -> DSN, metrics, logs
//
// A Server owns the SMTP listeners (go-smtp), the acceptance pipeline that
// answers 250 only after the spool has fsync'd the message, the delivery
// scheduler and its workers, bounces, and the admin API handler. It imports
// policy, spool and upstream; they never import it.
//
// The package has two halves that meet only at the spool and at the
// Server that wires them:
//
//   - inbound, on *Server and *session: listeners and connections
//     (server.go, listener.go, conn.go, over the wire layer in smtpwire),
//     sessions and their limits (session.go, rcpt.go, auth.go, budget.go),
//     and acceptance up to the spool commit and the 250 (accept.go,
//     attach.go, headerfields.go);
//   - delivery, on *delivery (delivery.go, which lists its files): the
//     scheduler, lease, send, record, expire, bounce and alerts, with the
//     run-time pauses and quota replies that hold a profile back.
//
// The admin API (api*.go) and the console's operations (console.go) are
// Server methods that read both halves.
//
// One name per concept, in identifiers and file names:
//
//   - generation (variables gen): one Config plus what is derived from it,
//     swapped atomically by Reload (generation.go);
//   - delivery (receiver dv): the outbound half, lease → deliver → record
//     → bounce;
//   - probe: the connection test of one profile, `relayd test` and POST
//     /api/v1/profiles/{name}/test (api_probe.go). The exported TestRequest,
//     TestPlan, PlanTest, TestProfile and TestResult keep the CLI's word,
//     as cmd/relayd and relay/console call them;
//   - expire: only a message whose recipients waited past max_queue_age
//     (delivery_expire.go). Old journal records are pruned
//     (journal_retention), a lease runs out, an auth cache entry is valid
//     until a time.
package relay

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/emersion/go-smtp"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/relayd/relayd/relay/attachments"
	"github.com/relayd/relayd/spool"
	"github.com/relayd/relayd/upstream"
)

// Options configure a Server. Spool and Config are required.
type Options struct {
	Config     *Config
	Spool      *spool.Store          // opened by the caller, closed by the caller after Run returns
	Logger     *slog.Logger          // nil = discard
	Registerer prometheus.Registerer // nil = no metrics registered
	Now        func() time.Time      // clock for schedules; nil = time.Now
	// Dial connects to upstreams; nil = net.Dialer. Tests may redirect it.
	Dial func(ctx context.Context, network, addr string) (net.Conn, error)
	// Sleep waits before a failed AUTH is answered (auth.go); nil =
	// time.Sleep. Tests inject it to see the delays without waiting.
	Sleep func(time.Duration)
	// RateLimiter counts the profiles' `rate` windows; nil = in memory,
	// this process only (a shared one can count across hosts).
	RateLimiter RateLimiter
	// PauseSharer shares the run-time pauses with the other relayd of a
	// cluster (cluster.go); nil = this relayd only.
	PauseSharer PauseSharer
	// Attachments stores the attachments profiles replace by links
	// ([attachments] in docs/relayd.toml.5.md); nil = no profile may link (limits still refuse).
	Attachments *attachments.Store
}

// Server is a running relay. Its methods are safe for concurrent use.
type Server struct {
	opts     Options
	log      *slog.Logger
	now      func() time.Time
	spool    *spool.Store
	pool     *upstream.Pool
	metrics  *metrics
	gen      atomic.Pointer[generation]
	delivery *delivery // the outbound half: scheduler to bounce (delivery.go)
	auth     authCache
	fails    authFailures
	budget   memBudget // message data buffered by all sessions (budget.go)
	waitc    waitCache // per-profile waiting counts (console Servers)

	mu        sync.Mutex
	listeners []*listener
}

// New builds a Server; nothing is bound or started until Listen and Run.
func New(opts Options) (*Server, error) {
	if opts.Config == nil || opts.Spool == nil {
		return nil, errors.New("relay: Options.Config and Options.Spool are required")
	}
	s := &Server{opts: opts, log: opts.Logger, now: opts.Now, spool: opts.Spool}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.now == nil {
		s.now = time.Now
	}
	s.metrics = newMetrics(opts.Registerer)
	s.metrics.precreate(opts.Config)
	s.pool = upstream.NewPool(upstream.Options{Logger: s.log.With("component", "upstream"),
		Registerer: opts.Registerer, Dialer: opts.Dial, Now: s.now})
	s.precreatePool(opts.Config)
	s.gen.Store(newGeneration(opts.Config))
	s.budget.setLimit(budgetLimit(opts.Config))
	d, err := newDelivery(s)
	if err != nil {
		return nil, err
	}
	s.delivery = d
	if opts.Registerer != nil {
		opts.Registerer.MustRegister(newQueueCollector(opts.Spool, s.now), newPausedCollector(d))
	}
	return s, nil
}

// Listen binds every configured listener. On error nothing stays bound.
func (s *Server) Listen() error {
	cfg := s.gen.Load().cfg
	var bound []*listener
	for i := range cfg.Listeners {
		l, err := s.bind(cfg.Listeners[i])
		if err != nil {
			for _, b := range bound {
				b.Close()
			}
			return err
		}
		bound = append(bound, l)
	}
	s.mu.Lock()
	s.listeners = bound
	s.mu.Unlock()
	return nil
}

// bind opens one listener and its go-smtp server.
func (s *Server) bind(cfg Listener) (*listener, error) {
	nl, err := listen(cfg)
	if err != nil {
		return nil, err
	}
	l := &listener{Listener: nl, srv: s, name: cfg.Name, cfg: cfg, perIP: map[netip.Addr]int{}, conns: map[*conn]struct{}{}}
	l.cfgp.Store(&cfg)
	l.smtp = s.newSMTPServer(l, cfg)
	return l, nil
}

// newSMTPServer configures go-smtp for one listener. Line limits, timeouts
// and the greeting are enforced below it, in the wire layer (smtpwire).
func (s *Server) newSMTPServer(l *listener, cfg Listener) *smtp.Server {
	ss := smtp.NewServer(l)
	ss.Domain = s.gen.Load().cfg.Hostname
	ss.MaxMessageBytes = cfg.MaxMessageSize
	ss.MaxRecipients = 0 // enforced by the session with relayd's 452 4.5.3
	// smtpwire limits command lines to 2000 octets and stops message lines
	// over max_line_length first; this bounds what it cannot see
	// (sessions after STARTTLS). go-smtp counts the LF of the previous line
	// and the CR, hence the slack, so a line of exactly max_line_length
	// passes.
	ss.MaxLineLength = int(cfg.MaxLineLength) + 3
	ss.AllowInsecureAuth = true // the session offers AUTH only over TLS or locally
	ss.EnableSMTPUTF8 = true
	ss.WriteTimeout = time.Minute
	ss.ErrorLog = slogLogger{log: s.log.With("listener", cfg.Name), panics: s.metrics.panics.WithLabelValues("session")}
	if cfg.TLS == "starttls" {
		// go-smtp reads its Server's fields from every session without a
		// lock, so they are set here once and never written again. The
		// certificate follows reloads through this indirection: each
		// handshake takes the listener's current TLS config.
		ss.TLSConfig = &tls.Config{GetConfigForClient: func(*tls.ClientHelloInfo) (*tls.Config, error) {
			return l.config().TLSConfig, nil
		}}
	}
	return ss
}

// Addrs returns the bound listener addresses by listener name (for tests
// and logs).
func (s *Server) Addrs() map[string]net.Addr {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[string]net.Addr{}
	for _, l := range s.listeners {
		out[l.name] = l.Addr()
	}
	return out
}

// Run serves the listeners and runs the scheduler and housekeeping until
// ctx is done. Then it stops accepting (sessions get a short grace to finish
// what they are committing), lets in-flight deliveries finish within drain
// and cancels the rest (an abandoned delivery stays queued), and returns.
// The caller closes the spool afterwards.
func (s *Server) Run(ctx context.Context, drain time.Duration) error {
	s.mu.Lock()
	ls := append([]*listener(nil), s.listeners...)
	s.mu.Unlock()
	if len(ls) == 0 {
		return errors.New("relay: Run before Listen")
	}
	for _, l := range ls {
		go l.serve(ctx)
	}
	dctx, cancelDeliveries := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelDeliveries()
	schedDone := make(chan struct{})
	go func() {
		defer close(schedDone)
		s.delivery.sched.run(ctx, dctx)
	}()
	go s.housekeeping(ctx)
	go s.delivery.watchSpool(ctx)

	<-ctx.Done()
	s.log.Info("shutting down: no new connections")
	deadline := time.Now().Add(drain)
	gctx, cancel := context.WithTimeout(context.Background(), min(drain/2, 5*time.Second))
	for _, l := range ls {
		l.smtp.Shutdown(gctx) // stops accepting; waits for sessions until gctx
	}
	cancel()
	for _, l := range ls {
		l.killAll()
		l.smtp.Close()
	}
	<-schedDone
	if !waitTimeout(&s.delivery.sched.wg, time.Until(deadline)) {
		s.log.Warn("drain time over: abandoning in-flight deliveries; they stay queued")
		cancelDeliveries()
		s.delivery.sched.wg.Wait()
	}
	s.pool.Close()
	return nil
}

// waitTimeout waits for wg at most d and reports whether it finished.
func waitTimeout(wg *sync.WaitGroup, d time.Duration) bool {
	done := make(chan struct{})
	go func() {
		wg.Wait()
		close(done)
	}()
	t := time.NewTimer(max(d, 0))
	defer t.Stop()
	select {
	case <-done:
		return true
	case <-t.C:
		return false
	}
}

// Kick makes the scheduler look at the spool now (after an admin action or,
// in tests, after advancing the clock).
func (s *Server) Kick() { s.delivery.kick() }

// Reload swaps in a new configuration atomically. Listener limits, policy and
// profiles take effect for new sessions and deliveries, certificates for new
// TLS handshakes; a listener whose address, network or TLS mode changed
// needs a restart and is reported. go-smtp's Server fields are not
// written: a raised max_message_size is capped by the one the listener was
// bound with (also the SIZE that EHLO advertises) until a restart.
func (s *Server) Reload(cfg *Config) error {
	old := s.gen.Load().cfg
	var changed []string
	byName := map[string]Listener{}
	for _, l := range cfg.Listeners {
		byName[l.Name] = l
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, l := range s.listeners {
		n, ok := byName[l.name]
		if !ok || n.Address != l.cfg.Address || n.Network != l.cfg.Network || n.TLS != l.cfg.TLS {
			changed = append(changed, l.name)
		}
	}
	if len(changed) > 0 || len(cfg.Listeners) != len(old.Listeners) {
		return fmt.Errorf("relay: listeners %v added, removed or re-addressed: restart relayd to apply", changed)
	}
	for _, l := range s.listeners {
		n := byName[l.name]
		if n.MaxMessageSize != l.config().MaxMessageSize {
			s.log.Warn("max_message_size changed: sessions from now on enforce the new limit, but EHLO "+
				"advertises the old SIZE, and a larger limit takes effect, only after a restart",
				"listener", l.name, "old", l.cfg.MaxMessageSize, "new", n.MaxMessageSize)
		}
		l.cfgp.Store(&n) // never go-smtp's fields: running sessions read them (newSMTPServer)
	}
	s.metrics.precreate(cfg)
	s.budget.setLimit(budgetLimit(cfg))
	s.precreatePool(cfg)
	s.gen.Store(newGeneration(cfg))
	s.delivery.kick()
	return nil
}

// housekeeping prunes the journal records older than journal_retention
// once a minute (spool.Expire).
func (s *Server) housekeeping(ctx context.Context) {
	t := time.NewTicker(time.Minute)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		gen := s.gen.Load()
		if n, err := s.spool.PurgeJournal(s.now(), gen.cfg.JournalRetention); err != nil {
			s.log.Error("journal pruning failed", "err", err)
		} else if n > 0 {
			s.log.Info("old journal records pruned", "count", n)
		}
	}
}

// greeting is the 220 banner (docs/smtp.md).
func (s *Server) greeting() string {
	return "220 " + s.gen.Load().cfg.Hostname + " ESMTP relayd\r\n"
}
