package upstream

import (
	"context"
	"crypto/sha256"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// defaultIdleTimeout is how long an idle connection is kept by default.
const defaultIdleTimeout = 30 * time.Second

// ErrClosed is the cause (see Error.Unwrap) of a Send on a closed Pool.
var ErrClosed = errors.New("upstream: pool closed")

// Options configures a Pool. The zero value works: no logs, no metrics,
// net.Dialer, the real clock, 30 s idle timeout.
type Options struct {
	// Logger receives Debug lines per connection and per delivery and a
	// Warn per ambiguous delivery, with the keys profile, host, step, code,
	// err, duration and msg_id. AUTH data is never logged. nil = discard.
	Logger *slog.Logger
	// Registerer gets relayd_upstream_connections_total and
	// relayd_delivery_ambiguous_total (docs/metrics.md). nil = no metrics.
	Registerer prometheus.Registerer
	// Dialer opens the TCP connections; it must honour ctx. nil = net.Dialer.
	Dialer func(ctx context.Context, network, addr string) (net.Conn, error)
	// Now is the clock for durations and idle ages. nil = time.Now.
	Now func() time.Time
	// IdleTimeout is how long an idle pooled connection is kept before it
	// gets QUIT and is closed. 0 = 30 s; negative = never keep one.
	IdleTimeout time.Duration
	// Profiles are profile names whose metric series are created at 0 at
	// once; other profiles get theirs on their first Send.
	Profiles []string
	// Resolver answers the MX and address lookups of type direct profiles
	// (tests inject a map-backed one). nil = a *net.Resolver per profile
	// that asks Target.Resolver, or the system resolver when that is "".
	// A non-nil Resolver overrides every profile's Resolver, and answers
	// the host lookup of Probe's resolve step for smarthost profiles too.
	Resolver Resolver
	// TranscriptMaxSize is the size in octets at which a debug_transcript
	// file is rotated to PATH.1 (see transcript.go). 0 = 10 MiB.
	TranscriptMaxSize int64
}

// Pool delivers envelopes to upstreams over pooled connections. Connections
// are kept per profile, host, credentials and TLS policy and never shared
// across them. A Pool is safe for concurrent use; Send blocks
// while the profile has max_connections busy connections.
type Pool struct {
	log         *slog.Logger
	metrics     *metrics
	dial        func(ctx context.Context, network, addr string) (net.Conn, error)
	now         func() time.Time
	idleTimeout time.Duration
	resolver    Resolver // nil = per profile, see Options.Resolver

	transcriptMax int64         // rotation size of debug transcripts
	connSeq       atomic.Uint64 // numbers connections in transcripts

	mu          sync.Mutex
	closed      bool
	entries     map[poolKey]*entry         // never removed: one small entry per profile version and destination
	tokens      map[tokenKey]*tokenSource  // OAuth2 access tokens, one source per token configuration
	transcripts map[string]*transcriptFile // debug_transcript files by absolute path, shared by profiles
}

// poolKey is everything a connection's session depends on. A reload that
// changes any of it makes new connections; old idle ones are closed when
// their idle timeout passes (closeIdle).
type poolKey struct {
	profile, addr, serverName string // addr: the address dialled (type direct: one per MX address)
	tls                       TLSMode
	verify                    bool
	roots                     *x509.CertPool
	username                  string
	password                  [sha256.Size]byte // a digest, so a printed key shows no secret
	oauth2                    [sha256.Size]byte // digest of the OAuth2 configuration, zero without
	mechs, helo               string
	maxConns                  int
	transcript                string // debug_transcript: turning it on or off takes new connections
}

// entry holds one key's connections.
type entry struct {
	sem  chan struct{} // a token per busy connection (max_connections)
	idle []*client     // idle connections, most recently used last
}

// NewPool returns an empty Pool; connections are opened on demand.
func NewPool(opts Options) *Pool {
	p := &Pool{log: opts.Logger, metrics: newMetrics(opts.Registerer), dial: opts.Dialer, now: opts.Now,
		idleTimeout: opts.IdleTimeout, resolver: opts.Resolver, entries: map[poolKey]*entry{},
		tokens: map[tokenKey]*tokenSource{}, transcripts: map[string]*transcriptFile{},
		transcriptMax: opts.TranscriptMaxSize}
	if p.log == nil {
		p.log = slog.New(slog.DiscardHandler)
	}
	if p.dial == nil {
		p.dial = (&net.Dialer{}).DialContext
	}
	if p.now == nil {
		p.now = time.Now
	}
	if p.idleTimeout == 0 {
		p.idleTimeout = defaultIdleTimeout
	}
	if p.transcriptMax <= 0 {
		p.transcriptMax = defaultTranscriptMaxSize
	}
	for _, name := range opts.Profiles {
		p.metrics.profile(name)
	}
	return p
}

// Precreate creates prof's metric series at 0 (relayd_oauth_refresh_total
// too when it has OAuth2), so that dashboards see them before the first
// delivery. Send calls it; relay calls it for every profile at start and
// reload.
func (p *Pool) Precreate(prof *Target) {
	p.metrics.profile(prof.Name)
	if prof.OAuth2 != nil {
		p.metrics.oauthProfile(prof.Name)
	}
}

// Send delivers env through prof in one transaction and returns the outcome
// per recipient; for a direct profile, in one transaction per
// recipient domain to that domain's MX hosts (see Result). It
// blocks while prof already has MaxConns busy connections (direct: per MX
// address), reuses an idle connection of the same key (RSET first; one
// found dead before MAIL is accepted is replaced by a new one, once), and
// after MaxPerConn messages on a connection sends QUIT. Cancelling ctx
// aborts the wait and closes the connection in use. Send never panics on
// upstream input and never returns nil; prof and env are not modified.
func (p *Pool) Send(ctx context.Context, prof *Target, env *Envelope) *Result {
	start := p.now()
	p.Precreate(prof)
	res := &Result{Rcpt: make([]*Error, len(env.To))}
	w, xerr := prepare(prof, env, res)
	if xerr != nil {
		res.Err = xerr
	} else if w.valid > 0 {
		p.send(ctx, prof, w, res)
	}
	if p.log.Enabled(ctx, slog.LevelDebug) {
		args := []any{"msg_id", env.ID, "profile", prof.Name, "host", res.Host, "duration", p.now().Sub(start)}
		if res.Err != nil {
			args = append(args, "step", res.Err.Step, "code", res.Err.Code, "err", res.Err)
		}
		p.log.Debug("upstream delivery", args...)
	}
	return res
}

func (p *Pool) send(ctx context.Context, prof *Target, w *wire, res *Result) {
	if err := checkProfile(prof); err != nil {
		res.Err = profileError(prof, err)
		return
	}
	if prof.Type == "direct" {
		p.sendDirect(ctx, prof, w, res)
		return
	}
	serverName, addr, _ := smarthostAddr(prof) // checked
	p.sendTo(ctx, prof, dest{serverName: serverName, addr: addr, dial: addr}, w, res)
}

// dest is where one connection goes.
type dest struct {
	serverName string // the name the certificate must carry: the smarthost or the MX host
	addr       string // host:port named in errors, logs and Result.Host
	dial       string // host:port dialled: addr, or the MX host's IP address (type direct)
}

// sendTo runs w on a connection of d's pool entry, waiting for a free one.
func (p *Pool) sendTo(ctx context.Context, prof *Target, d dest, w *wire, res *Result) {
	e, xerr := p.acquire(ctx, prof, newKey(prof, d), d.addr)
	if xerr != nil {
		res.Err = xerr
		return
	}
	defer func() { <-e.sem }()
	p.deliver(ctx, prof, e, d, w, res)
}

func newKey(prof *Target, d dest) poolKey {
	return poolKey{profile: prof.Name, addr: d.dial, serverName: d.serverName, tls: tlsMode(prof),
		verify: prof.TLSVerify, roots: prof.RootCAs, username: prof.Username,
		password: sha256.Sum256([]byte(prof.Password)), oauth2: oauthDigest(prof.OAuth2),
		mechs: strings.Join(prof.AuthMechanisms, ","), helo: prof.Helo, maxConns: maxConns(prof),
		transcript: prof.Transcript}
}

// acquire takes a busy-connection token of key's entry, waiting for one.
func (p *Pool) acquire(ctx context.Context, prof *Target, key poolKey, addr string) (*entry, *Error) {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil, &Error{Profile: prof.Name, Host: addr, Step: StepConnect, Text: "relayd is shutting down",
			Temporary: true, Err: ErrClosed}
	}
	e := p.entries[key]
	if e == nil {
		e = &entry{sem: make(chan struct{}, key.maxConns)}
		p.entries[key] = e
	}
	p.mu.Unlock()
	select {
	case e.sem <- struct{}{}:
		return e, nil
	case <-ctx.Done():
		return nil, &Error{Profile: prof.Name, Host: addr, Step: StepConnect, Temporary: true, Err: ctx.Err(),
			Text: fmt.Sprintf("cancelled while waiting: all max_connections = %d were busy", key.maxConns)}
	}
}

// deliver runs the transaction on an idle connection or a new one, and
// once more on a new one when the idle one turns out dead.
func (p *Pool) deliver(ctx context.Context, prof *Target, e *entry, d dest, w *wire, res *Result) {
	for attempt := 0; ; attempt++ {
		var c *client
		if attempt == 0 {
			c = p.takeIdle(e, prof)
		}
		reused := c != nil
		if c == nil {
			var xerr *Error
			if c, xerr = p.connect(ctx, prof, d); xerr != nil {
				res.Err = xerr
				return
			}
		}
		res.Host = d.addr
		stop := context.AfterFunc(ctx, c.close)
		out := c.transact(ctx, w, reused, res)
		if !stop() {
			out.reuse, c.broken = false, true
		}
		if out.retry && attempt == 0 {
			p.log.Debug("pooled upstream connection is dead, opening a new one", "msg_id", w.env.ID,
				"profile", prof.Name, "host", d.addr, "err", res.Err)
			c.close()
			res.Err = nil
			continue
		}
		if res.Err != nil && res.Err.Ambiguous {
			p.metrics.ambiguousDelivery(prof.Name)
			p.log.Warn("no reply after the final dot: the message is retried and may arrive twice",
				"msg_id", w.env.ID, "profile", prof.Name, "host", d.addr, "err", res.Err)
		}
		p.finish(e, prof, c, out.reuse)
		return
	}
}

// takeIdle returns the most recently used idle connection of e, or nil.
func (p *Pool) takeIdle(e *entry, prof *Target) *client {
	for {
		p.mu.Lock()
		n := len(e.idle)
		if n == 0 {
			p.mu.Unlock()
			return nil
		}
		c := e.idle[n-1]
		e.idle = e.idle[:n-1]
		p.mu.Unlock()
		c.idleTimer.Stop()
		if p.now().Sub(c.idleSince) < p.idleTimeout {
			c.timeout, c.dataTimeout = timeouts(prof) // a reload may have changed them
			return c
		}
		c.quit()
	}
}

// finish pools c when it may carry another message, else ends it: after a
// failed transaction, a broken connection, or MaxPerConn messages.
func (p *Pool) finish(e *entry, prof *Target, c *client, reuse bool) {
	if reuse && !c.broken && c.msgs < maxPerConn(prof) && p.idleTimeout > 0 {
		p.mu.Lock()
		if !p.closed {
			c.idleSince = p.now()
			c.idleTimer = time.AfterFunc(p.idleTimeout, func() { p.closeIdle(e, c) })
			e.idle = append(e.idle, c)
			p.mu.Unlock()
			return
		}
		p.mu.Unlock()
	}
	c.quit()
	p.log.Debug("upstream connection closed", "profile", prof.Name, "host", c.addr, "messages", c.msgs)
}

// closeIdle ends an idle connection whose idle timeout passed, unless a Send
// took it meanwhile.
func (p *Pool) closeIdle(e *entry, c *client) {
	p.mu.Lock()
	i := slices.Index(e.idle, c)
	if i >= 0 {
		e.idle = slices.Delete(e.idle, i, i+1)
	}
	p.mu.Unlock()
	if i >= 0 {
		c.quit()
		p.log.Debug("idle upstream connection closed", "profile", c.profile, "host", c.addr)
	}
}

// Close sends QUIT on all idle connections and closes them, in parallel,
// within the profiles' command timeouts (10 s at most), then closes the
// debug transcript files. Connections busy in a Send are closed when it
// ends (what they say after Close is not transcribed); later Sends fail
// with ErrClosed. It always returns nil.
func (p *Pool) Close() error {
	p.mu.Lock()
	p.closed = true
	var idle []*client
	for _, e := range p.entries {
		idle = append(idle, e.idle...)
		e.idle = nil
	}
	p.mu.Unlock()
	var wg sync.WaitGroup
	for _, c := range idle {
		c.idleTimer.Stop()
		wg.Go(c.quit)
	}
	wg.Wait()
	p.mu.Lock()
	files := make([]*transcriptFile, 0, len(p.transcripts))
	for _, f := range p.transcripts {
		files = append(files, f)
	}
	p.mu.Unlock()
	for _, f := range files {
		f.close()
	}
	return nil
}
