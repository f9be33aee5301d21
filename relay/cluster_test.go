package relay

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/relayd/relayd/cluster"
	"github.com/relayd/relayd/cluster/redistest"
	"github.com/relayd/relayd/spool"
)

// Two relay.Servers with their own spools share a Redis, as two
// relayd on two hosts do. cmd/relayd wires the same pieces (cluster.go);
// the adapter below is its clusterRates.

type testRates struct{ c *cluster.Cluster }

func (tr testRates) conv(rs Rates) []cluster.Window {
	out := make([]cluster.Window, len(rs))
	for i, r := range rs {
		out[i] = cluster.Window{N: r.N, Per: r.Per}
	}
	return out
}

func (tr testRates) Allow(p string, rs Rates, now time.Time) (bool, time.Time) {
	return tr.c.Allow(p, tr.conv(rs), now)
}

func (tr testRates) WaitUntil(p string, rs Rates, now time.Time) time.Time {
	return tr.c.WaitUntil(p, tr.conv(rs), now)
}

type clusterHost struct {
	*testRelay
	cl     *cluster.Cluster
	clReg  *prometheus.Registry
	alerts atomic.Int32
}

// startClusterRelay starts a relay on its own spool whose rate windows and
// pauses go through Redis at url; clock is shared by the hosts (their
// clocks agree, as with NTP).
func startClusterRelay(t *testing.T, cfg *Config, clock *fakeClock, url, host string) *clusterHost {
	t.Helper()
	store, err := spool.Open(spool.Options{Dir: t.TempDir(), Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	h := &clusterHost{clReg: prometheus.NewRegistry()}
	cl, err := cluster.New(cluster.Options{URL: url, Host: host, Registerer: h.clReg,
		HealthEvery: 20 * time.Millisecond, Timeout: 300 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	srv, err := New(Options{Config: cfg, Spool: store, Registerer: reg, Now: clock.Now,
		RateLimiter: testRates{cl}, PauseSharer: cl})
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Listen(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cl.Start(ctx, cluster.Handlers{
		Down: func(error) { h.alerts.Add(1) },
		Pause: func(p cluster.Pause) {
			var err error
			if p.Resumed {
				err = srv.ApplySharedResume(p.Profile, p.By+" on "+p.Host)
			} else {
				err = srv.ApplySharedPause(p.Profile, p.Until, p.By+" on "+p.Host)
			}
			if err != nil && !errors.Is(err, ErrNoProfile) {
				t.Errorf("apply a shared pause: %v", err)
			}
		},
	})
	r := &testRelay{t: t, srv: srv, store: store, clock: clock, reg: reg, addr: srv.Addrs()["local"].String(),
		cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(r.done)
		srv.Run(ctx, 5*time.Second)
	}()
	t.Cleanup(func() { r.stop(); cl.Close() })
	h.testRelay, h.cl = r, cl
	return h
}

func (h *clusterHost) up() float64 {
	v, err := testutil.GatherAndCount(h.clReg, "relayd_cluster_up")
	if err != nil || v != 1 {
		h.t.Fatalf("relayd_cluster_up series: %d (%v)", v, err)
	}
	mfs, _ := h.clReg.Gather()
	return mfs[0].GetMetric()[0].GetGauge().GetValue()
}

func twoHosts(t *testing.T) (*clusterHost, *clusterHost, *sink, *fakeClock, *redistest.Server) {
	t.Helper()
	rs := redistest.Start(t, "")
	sk := newSink(t)
	clock := newClock()
	mk := func() *Config {
		cfg := baseConfig(sk.addr)
		cfg.Profiles["sink"].Rate = Rates{{N: 3, Per: time.Minute}}
		return cfg
	}
	return startClusterRelay(t, mk(), clock, rs.URL(), "host-a"), startClusterRelay(t, mk(), clock, rs.URL(), "host-b"), sk, clock, rs
}

// delivered waits until both hosts are idle and returns how many messages
// the shared upstream got in all.
func delivered(sk *sink, hosts ...*clusterHost) int {
	for range 2 {
		for _, h := range hosts {
			h.idle()
		}
	}
	sk.mu.Lock()
	defer sk.mu.Unlock()
	return len(sk.all)
}

func sendN(t *testing.T, h *clusterHost, n int) {
	t.Helper()
	for range n {
		send(t, h.addr, "app@example.com", []string{"x@example.org"}, simpleBody)
	}
}

// TestClusterRateAcrossHosts: `rate = "3/m"` on both hosts, 8 messages (4
// through each): at most 3 reach the upstream in the window, in total; the
// rest wait in the queues and go as the window slides (injected clock: the
// window is keyed by the time relay passes in, not Redis TIME).
func TestClusterRateAcrossHosts(t *testing.T) {
	a, b, sk, clock, _ := twoHosts(t)
	sendN(t, a, 4)
	sendN(t, b, 4)
	if n := delivered(sk, a, b); n != 3 {
		t.Fatalf("delivered %d in the first minute by two hosts, want 3", n)
	}
	clock.Advance(time.Minute)
	a.srv.Kick()
	b.srv.Kick()
	if n := delivered(sk, a, b); n != 6 {
		t.Fatalf("delivered %d after one minute, want 6", n)
	}
	clock.Advance(time.Minute)
	a.srv.Kick()
	b.srv.Kick()
	if n := delivered(sk, a, b); n != 8 {
		t.Fatalf("delivered %d after two minutes, want all 8", n)
	}
}

// TestClusterPauseStopsOtherHost: a pause set through host a (as the API
// and CLI do) stops host b's deliveries of the same profile; a's resume
// lets b deliver.
func TestClusterPauseStopsOtherHost(t *testing.T) {
	a, b, sk, _, _ := twoHosts(t)
	if err := a.srv.PauseProfile("sink", 0, "admin"); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "b sees a's pause", func() bool { _, ok := b.srv.delivery.paused("sink", b.clock.Now()); return ok })
	if p := b.srv.Profiles()[0]; !p.Paused || p.PausedBy != "admin on host-a" {
		t.Errorf("b's profile: paused %v by %q, want by admin on host-a", p.Paused, p.PausedBy)
	}
	sendN(t, b, 2)
	if n := delivered(sk, a, b); n != 0 {
		t.Fatalf("b delivered %d through a profile paused on a", n)
	}
	if err := a.srv.ResumeProfile("sink", "admin"); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "b sees a's resume", func() bool { _, ok := b.srv.delivery.paused("sink", b.clock.Now()); return !ok })
	sk.wait()
	sk.wait()
}

// TestClusterRedisDownAndBack: with Redis stopped both hosts keep
// delivering, each counting its own window, relayd_cluster_up is 0 and the
// outage is reported once per host; when Redis is back (on its own: no
// restart of relay) the hosts count together again.
func TestClusterRedisDownAndBack(t *testing.T) {
	a, b, sk, clock, rs := twoHosts(t)
	if a.up() != 1 || b.up() != 1 {
		t.Fatal("relayd_cluster_up is not 1 at the start")
	}
	rs.Stop()
	for _, h := range []*clusterHost{a, b} {
		waitUntil(t, "relayd_cluster_up 0", func() bool { return h.up() == 0 })
	}
	sendN(t, a, 4)
	sendN(t, b, 4)
	if n := delivered(sk, a, b); n != 6 {
		t.Fatalf("with Redis down the hosts delivered %d, want 3 each (local counting)", n)
	}
	if a.alerts.Load() != 1 || b.alerts.Load() != 1 {
		t.Errorf("outage reported %d and %d times, want once per host", a.alerts.Load(), b.alerts.Load())
	}
	rs.Start()
	for _, h := range []*clusterHost{a, b} {
		waitUntil(t, "relayd_cluster_up 1", func() bool { return h.up() == 1 })
	}
	clock.Advance(time.Hour) // the queued 2 go now, counted in Redis
	sendN(t, a, 3)
	sendN(t, b, 3)
	if n := delivered(sk, a, b); n != 6+3 {
		t.Fatalf("after Redis came back %d more were delivered in one minute, want 3 (shared again)", n-6)
	}
}

func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("not within 10s: %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestAlertAdmin: an alert that is no profile's fault (the cluster's Redis
// is unreachable) goes to [notify] admin through the alerts' profile.
func TestAlertAdmin(t *testing.T) {
	cfg, sa, sb := twoUpstreams(t)
	cfg.Notify.Admin, cfg.Notify.Profile = "admin@example.net", "b"
	r := startRelay(t, cfg)
	r.srv.AlertAdmin("the cluster's Redis is unreachable", "relayd cannot reach the Redis of [cluster].\r\n")
	m := sb.wait()
	if strings.Join(m.To, ",") != "admin@example.net" || !strings.Contains(string(m.Data), "Subject: [relayd] the cluster's Redis is unreachable") {
		t.Errorf("alert to %v:\n%s", m.To, m.Data)
	}
	sa.none(r)
}
