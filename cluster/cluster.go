// Package cluster holds what several relayd, one per host, share through
// Redis (docs/operations.md, "Running several relayd"): the sliding rate windows of profiles of the same name
// and the run-time pauses of those profiles. It holds no mail: each relayd
// keeps its own spool and queue, so the cluster has no shared queue and no
// single point of failure; when Redis is unreachable every relayd goes on
// delivering, counting its windows alone, and shared counting resumes when
// Redis is back.
//
// In relayd's data flow it sits beside relay's scheduler:
//
//	relay scheduler -> RateLimiter (Cluster.Allow)   -> Redis (Lua script)
//	relay pauses    -> PauseSharer (Cluster.SharePause) -> Redis (key + PUBLISH) -> other relayd
//
// The package is a leaf: it imports no other relayd package. relay takes it
// through its RateLimiter and PauseSharer interfaces, and cmd/relayd wires
// it. The client is github.com/redis/go-redis/v9, which reconnects by
// itself; a health check on a ticker notices an outage and the return.
//
// Times are the caller's (an injected clock in tests), never Redis TIME:
// a window's entries are scored with the time relay passes in. The hosts'
// clocks should agree (NTP) for the windows to mean the same thing.
//
// No secret leaves the package: the Redis password is never logged or
// put in an error, and URLs are shown without their user information.
package cluster

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"
)

// Options configure a Cluster. URL is required; the rest have defaults.
type Options struct {
	URL      string // redis://[user[:password]@]host:port/db, or rediss:// for TLS
	Password string // overrides the URL's password ([cluster] redis_password_file)
	// Host names this relayd in shared pauses ("paused by admin on HOST").
	Host       string
	Logger     *slog.Logger          // nil = discard
	Registerer prometheus.Registerer // relayd_cluster_up; nil = not registered
	// HealthEvery is how often Redis is pinged; default 5s.
	HealthEvery time.Duration
	// Timeout bounds one Redis command (the scheduler waits for it); default 500ms.
	Timeout time.Duration
}

// Handlers are told what happens in the cluster. Each may be nil. They are
// called from the Cluster's goroutines and from its callers.
type Handlers struct {
	// Down is called once per outage: Redis became unreachable (err says
	// why, without secrets). Up is called when it is back.
	Down func(err error)
	Up   func()
	// Pause is called for a pause set or ended on another relayd.
	Pause func(Pause)
}

// Pause is one pause shared between relayd.
type Pause struct {
	Profile string    `json:"profile"`
	Until   time.Time `json:"until"`   // zero: until resumed
	By      string    `json:"by"`      // who paused or resumed it
	Host    string    `json:"host"`    // the relayd it was set on
	Resumed bool      `json:"resumed"` // the pause ended (resume)
}

// Cluster is the shared state of one relayd in a cluster. Its methods are
// safe for concurrent use.
type Cluster struct {
	opts  Options
	log   *slog.Logger
	rdb   *redis.Client
	addr  string // host:port, for messages
	id    string // unique per process: members of windows, origin of pauses
	local localWindows
	up    prometheus.Gauge

	mu       sync.Mutex
	state    int // stateUnknown, stateUp, stateDown
	h        Handlers
	blocked  map[string]time.Time // profile and windows (localKey) → when they open, as Redis said
	pending  map[string]pendingShare
	seq      uint64
	runCtx   context.Context
	stopOnce sync.Once
	done     chan struct{}
}

const (
	stateUnknown = iota
	stateUp
	stateDown
)

// Key names. The profile is in braces, a Redis Cluster hash tag, so that
// one script touches keys of one slot.
const (
	keyPrefix    = "relayd:"
	pauseChannel = keyPrefix + "pauses"
)

func rateKey(profile string, w Window) string {
	return fmt.Sprintf("%srate:{%s}:%d/%d", keyPrefix, profile, w.N, w.Per.Milliseconds())
}

func pauseKey(profile string) string { return keyPrefix + "pause:" + profile }

// CheckURL reports whether s is a Redis URL relayd can use. The error
// never quotes s (it may hold a password).
func CheckURL(s string) error {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "redis" && u.Scheme != "rediss") || u.Host == "" {
		return errors.New(`is not a Redis URL: write it as "redis://HOST:6379/0" (rediss:// for TLS)`)
	}
	if _, err := redis.ParseURL(s); err != nil {
		return fmt.Errorf("is not a Redis URL relayd can use (redis://%s...): check the port and the database number", u.Host)
	}
	return nil
}

// New prepares a Cluster; nothing is contacted until Start.
func New(opts Options) (*Cluster, error) {
	if err := CheckURL(opts.URL); err != nil {
		return nil, fmt.Errorf("[cluster] redis %v", err)
	}
	ro, _ := redis.ParseURL(opts.URL)
	if opts.Password != "" {
		ro.Password = opts.Password
	}
	if opts.HealthEvery <= 0 {
		opts.HealthEvery = 5 * time.Second
	}
	if opts.Timeout <= 0 {
		opts.Timeout = 500 * time.Millisecond
	}
	ro.DialTimeout, ro.ReadTimeout, ro.WriteTimeout = opts.Timeout, opts.Timeout, opts.Timeout
	ro.MaxRetries = 0 // the scheduler must not wait for retries; the next pass asks again
	ro.PoolSize = 8
	ro.DisableIdentity = true
	quietOnce.Do(func() { redis.SetLogger(quiet{}) })
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	c := &Cluster{opts: opts, log: log.With("component", "cluster"), rdb: redis.NewClient(ro), addr: ro.Addr,
		id: opts.Host + "/" + hex.EncodeToString(b), blocked: map[string]time.Time{}, done: make(chan struct{})}
	c.up = prometheus.NewGauge(prometheus.GaugeOpts{Name: "relayd_cluster_up",
		Help: "1 while the cluster's Redis answers, else 0 (rate windows are then counted on this host only)."})
	if opts.Registerer != nil {
		opts.Registerer.MustRegister(c.up)
	}
	return c, nil
}

// Addr is the Redis host:port, for messages (never a password).
func (c *Cluster) Addr() string { return c.addr }

// Up reports whether Redis answered the last command or health check.
func (c *Cluster) Up() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.state == stateUp
}

// Start checks Redis once, then runs the health ticker and the pause
// subscription until ctx ends or Close. h is told about outages and
// remote pauses.
func (c *Cluster) Start(ctx context.Context, h Handlers) {
	c.mu.Lock()
	c.h = h
	c.runCtx = ctx
	c.mu.Unlock()
	// Subscribed (confirmed) before the pauses in force are read, so that
	// none set in between is missed. When Redis is down, the subscription
	// is made by go-redis when it is back.
	sub := c.rdb.Subscribe(ctx, pauseChannel)
	sctx, cancel := context.WithTimeout(ctx, c.opts.Timeout)
	_, _ = sub.Receive(sctx)
	cancel()
	c.check(ctx)
	go c.run(ctx, sub)
}

// Close stops the Cluster's goroutines and closes its connections.
func (c *Cluster) Close() error {
	var err error
	c.stopOnce.Do(func() { err = c.rdb.Close() })
	return err
}

// run follows Redis's health and the pauses of the others. Every health
// check that finds Redis up also reads the pauses in force, so a message
// missed while the subscription was being made again (after an outage) is
// made up for within HealthEvery.
func (c *Cluster) run(ctx context.Context, sub *redis.PubSub) {
	defer close(c.done)
	defer sub.Close()
	msgs := sub.Channel(redis.WithChannelHealthCheckInterval(c.opts.HealthEvery))
	tick := time.NewTicker(c.opts.HealthEvery)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
			if c.check(ctx) {
				c.catchUp(ctx)
			}
		case m, ok := <-msgs:
			if !ok {
				return
			}
			c.received(m.Payload)
		}
	}
}

// check pings Redis and follows its state; it reports whether Redis was
// up and already known to be (ok caught up on a change).
func (c *Cluster) check(ctx context.Context) bool {
	cctx, cancel := context.WithTimeout(ctx, c.opts.Timeout)
	defer cancel()
	if err := c.rdb.Ping(cctx).Err(); err != nil {
		if ctx.Err() == nil {
			c.fail(err)
		}
		return false
	}
	return !c.ok()
}

// fail records a failed command: the first of an outage logs and calls
// Handlers.Down.
func (c *Cluster) fail(err error) {
	c.mu.Lock()
	was := c.state
	c.state = stateDown
	h := c.h
	c.mu.Unlock()
	c.up.Set(0)
	if was == stateDown {
		return
	}
	e := c.plain(err)
	c.log.Error("the cluster's Redis is unreachable or refuses relayd (check [cluster] redis and redis_password_file): "+
		"rate windows are counted on this host only and pauses are not shared until it is back",
		"host", c.addr, "err", e)
	if h.Down != nil {
		h.Down(e)
	}
}

// ok records a command that worked: the first after an outage (or the
// start) logs, catches up with the pauses set meanwhile, and calls
// Handlers.Up after an outage. It reports whether the state changed.
func (c *Cluster) ok() bool {
	c.mu.Lock()
	was := c.state
	c.state = stateUp
	h := c.h
	ctx := c.runCtx
	c.mu.Unlock()
	c.up.Set(1)
	if was == stateUp {
		return false
	}
	if was == stateDown {
		c.log.Info("the cluster's Redis is back: rate windows and pauses are shared again", "host", c.addr)
		if h.Up != nil {
			h.Up()
		}
	} else {
		c.log.Info("cluster: sharing rate windows and pauses through Redis", "host", c.addr)
	}
	c.flushPending()
	if ctx != nil {
		c.catchUp(ctx)
	}
	return true
}

// plain is err as a sentence naming Redis's address; go-redis errors name
// no password, but a URL could hold one, so only the address is used.
func (c *Cluster) plain(err error) error {
	return fmt.Errorf("the Redis server at %s: %s", c.addr, redactErr(err, c.opts))
}

// redactErr is err's text with any password of opts replaced.
func redactErr(err error, opts Options) string {
	s := err.Error()
	for _, secret := range []string{opts.Password, urlPassword(opts.URL)} {
		if secret != "" {
			s = replaceAll(s, secret, "[redacted]")
		}
	}
	return s
}

func urlPassword(s string) string {
	u, err := url.Parse(s)
	if err != nil || u.User == nil {
		return ""
	}
	p, _ := u.User.Password()
	return p
}

// quiet drops go-redis's internal log lines (it has one logger per
// process): they would bypass slog, and relayd logs each outage itself.
type quiet struct{}

// Printf implements go-redis's internal logger interface.
func (quiet) Printf(context.Context, string, ...any) {}

var quietOnce sync.Once
