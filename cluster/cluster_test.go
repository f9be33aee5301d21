package cluster

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/relayd/relayd/cluster/redistest"
)

var t0 = time.Date(2026, 11, 24, 9, 0, 0, 0, time.UTC)

type lockedBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuf) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuf) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

type node struct {
	c      *Cluster
	reg    *prometheus.Registry
	log    *lockedBuf
	downs  atomic.Int32
	ups    atomic.Int32
	pauses chan Pause
}

func newNode(t *testing.T, url, password, host string) *node {
	t.Helper()
	n := &node{reg: prometheus.NewRegistry(), log: &lockedBuf{}, pauses: make(chan Pause, 16)}
	c, err := New(Options{URL: url, Password: password, Host: host, Registerer: n.reg,
		Logger:      slog.New(slog.NewTextHandler(n.log, &slog.HandlerOptions{Level: slog.LevelDebug})),
		HealthEvery: 20 * time.Millisecond, Timeout: 300 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	c.Start(ctx, Handlers{
		Down:  func(error) { n.downs.Add(1) },
		Up:    func() { n.ups.Add(1) },
		Pause: func(p Pause) { n.pauses <- p },
	})
	t.Cleanup(func() { cancel(); c.Close(); <-c.done })
	n.c = c
	return n
}

func (n *node) gauge() float64 { return testutil.ToFloat64(n.c.up) }

// waitFor polls cond for at most 10 s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("not within 10s: %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

var perMinute3 = []Window{{N: 3, Per: time.Minute}}

// TestWindowSharedAtomically: two relayd (Clusters) hammer one profile's
// "3/m" window from 8 goroutines at the same instant: exactly 3 are
// allowed in total (the Lua script leaves no lost update), the refused
// learn when the window opens, and it opens then (the time is the one
// passed in, not Redis TIME).
func TestWindowSharedAtomically(t *testing.T) {
	rs := redistest.Start(t, "")
	a, b := newNode(t, rs.URL(), "", "a"), newNode(t, rs.URL(), "", "b")
	var allowed atomic.Int32
	var wg sync.WaitGroup
	for i := range 8 {
		n := a
		if i%2 == 1 {
			n = b
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			if ok, next := n.c.Allow("o365", perMinute3, t0.Add(time.Duration(i)*time.Millisecond)); ok {
				allowed.Add(1)
			} else if next.Before(t0.Add(time.Minute)) || next.After(t0.Add(time.Minute+10*time.Millisecond)) {
				t.Errorf("refused until %v, want about %v", next, t0.Add(time.Minute))
			}
		}()
	}
	wg.Wait()
	if got := allowed.Load(); got != 3 {
		t.Fatalf("allowed %d of 8 across two hosts in one minute, want 3", got)
	}
	if w := b.c.WaitUntil("o365", perMinute3, t0.Add(time.Second)); w.IsZero() && a.c.WaitUntil("o365", perMinute3, t0.Add(time.Second)).IsZero() {
		t.Error("WaitUntil on both hosts is zero after refusals")
	}
	if ok, _ := a.c.Allow("o365", perMinute3, t0.Add(30*time.Second)); ok {
		t.Error("allowed within the same minute")
	}
	if ok, _ := b.c.Allow("o365", perMinute3, t0.Add(time.Minute+10*time.Millisecond)); !ok {
		t.Error("not allowed once the window slid past the first deliveries")
	}
	if ok, _ := a.c.Allow("other", perMinute3, t0); !ok {
		t.Error("another profile shares the window")
	}
}

// TestPauseSharedAcrossHosts: a pause set on a reaches b at once (publish)
// and a relayd that starts later finds it (key with a TTL to the pause's
// end); a resume reaches b too; a's own messages do not come back to it.
func TestPauseSharedAcrossHosts(t *testing.T) {
	rs := redistest.Start(t, "")
	a, b := newNode(t, rs.URL(), "", "host-a"), newNode(t, rs.URL(), "", "host-b")
	until := t0.Add(time.Hour)
	a.c.SharePause("o365", until, "admin", t0)
	select {
	case p := <-b.pauses:
		if p.Profile != "o365" || !p.Until.Equal(until) || p.By != "admin" || p.Host != "host-a" || p.Resumed {
			t.Errorf("b got %+v", p)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the pause did not reach b")
	}
	c := newNode(t, rs.URL(), "", "host-c")
	select {
	case p := <-c.pauses:
		if p.Profile != "o365" || !p.Until.Equal(until) {
			t.Errorf("c caught up with %+v", p)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("a relayd started later did not find the pause")
	}
	a.c.ShareResume("o365", "alice")
	select {
	case p := <-b.pauses:
		if !p.Resumed || p.Profile != "o365" {
			t.Errorf("b got %+v, want the resume", p)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the resume did not reach b")
	}
	select {
	case p := <-a.pauses:
		t.Errorf("a got its own message back: %+v", p)
	default:
	}
}

// TestRedisDownCountsLocallyAndComesBack: with Redis stopped each host
// keeps allowing by its own count, relayd_cluster_up is 0 and Down is
// called once; when Redis is back the hosts reconnect by themselves, Up is
// called, and the count is shared again.
func TestRedisDownCountsLocallyAndComesBack(t *testing.T) {
	rs := redistest.Start(t, "")
	a, b := newNode(t, rs.URL(), "", "a"), newNode(t, rs.URL(), "", "b")
	if a.gauge() != 1 || b.gauge() != 1 {
		t.Fatalf("relayd_cluster_up = %v, %v at the start, want 1", a.gauge(), b.gauge())
	}
	rs.Stop()
	for _, n := range []*node{a, b} {
		waitFor(t, "relayd_cluster_up 0 after Redis stopped", func() bool { return n.gauge() == 0 })
	}
	// Down, local counting: each host allows its own 3.
	for _, n := range []*node{a, b} {
		got := 0
		for i := range 5 {
			if ok, _ := n.c.Allow("o365", perMinute3, t0.Add(time.Duration(i)*time.Second)); ok {
				got++
			}
		}
		if got != 3 {
			t.Errorf("with Redis down a host allowed %d of 5, want its own 3", got)
		}
	}
	for i := 0; i < 5; i++ { // more failed health checks: still one Down each
		a.c.check(context.Background())
	}
	if a.downs.Load() != 1 || b.downs.Load() != 1 {
		t.Errorf("Down called %d and %d times, want once each", a.downs.Load(), b.downs.Load())
	}
	if !strings.Contains(a.log.String(), "unreachable") {
		t.Errorf("no log line about the outage:\n%s", a.log)
	}
	rs.Start()
	for _, n := range []*node{a, b} {
		waitFor(t, "relayd_cluster_up 1 after Redis came back", func() bool { return n.gauge() == 1 })
	}
	if a.ups.Load() != 1 || b.ups.Load() != 1 {
		t.Errorf("Up called %d and %d times, want once each", a.ups.Load(), b.ups.Load())
	}
	later := t0.Add(time.Hour)
	allowed := 0
	for i := range 8 {
		n := []*node{a, b}[i%2]
		if ok, _ := n.c.Allow("o365", perMinute3, later.Add(time.Duration(i)*time.Second)); ok {
			allowed++
		}
	}
	if allowed != 3 {
		t.Errorf("after Redis came back the hosts allowed %d of 8 together, want 3 (shared again)", allowed)
	}
}

// TestNoPasswordInLogsOrErrors: the Redis password (from the file or the
// URL) appears in no log line and no error, whether it is right or wrong.
func TestNoPasswordInLogsOrErrors(t *testing.T) {
	const secret = "s3cret-Redis-pw"
	rs := redistest.Start(t, secret)
	good := newNode(t, rs.URL(), secret, "good")
	waitFor(t, "up with the right password", func() bool { return good.gauge() == 1 })
	badURL := "redis://:" + secret + "-wrong@" + rs.Addr() + "/0"
	bad := newNode(t, badURL, "", "bad")
	waitFor(t, "down with a wrong password", func() bool { return bad.downs.Load() == 1 })
	var downErr error
	bad.c.h.Down = func(err error) { downErr = err }
	bad.c.mu.Lock()
	bad.c.state = stateUp
	bad.c.mu.Unlock()
	bad.c.check(context.Background())
	if downErr == nil || strings.Contains(downErr.Error(), secret) {
		t.Errorf("Down error %v: want one without the password", downErr)
	}
	if err := CheckURL("redis//:" + secret + "@x"); err == nil || strings.Contains(err.Error(), secret) {
		t.Errorf("CheckURL error %v: want one without the password", err)
	}
	if _, err := New(Options{URL: "http://:" + secret + "@127.0.0.1:1/0"}); err == nil || strings.Contains(err.Error(), secret) {
		t.Errorf("New error %v: want one without the password", err)
	}
	for name, n := range map[string]*node{"good": good, "bad": bad} {
		if strings.Contains(n.log.String(), secret) {
			t.Errorf("%s's log holds the password:\n%s", name, n.log)
		}
	}
	if !strings.Contains(bad.log.String(), "unreachable") {
		t.Errorf("bad's log does not say Redis is unreachable:\n%s", bad.log)
	}
}

// TestPauseDuringOutageSharedWhenBack: a pause set while Redis is down
// holds on its host and reaches the others once Redis is back.
func TestPauseDuringOutageSharedWhenBack(t *testing.T) {
	rs := redistest.Start(t, "")
	a, b := newNode(t, rs.URL(), "", "host-a"), newNode(t, rs.URL(), "", "host-b")
	rs.Stop()
	waitFor(t, "a sees the outage", func() bool { return a.gauge() == 0 })
	a.c.SharePause("o365", time.Time{}, "admin", t0)
	rs.Start()
	select {
	case p := <-b.pauses:
		if p.Profile != "o365" || !p.Until.IsZero() || p.Host != "host-a" {
			t.Errorf("b got %+v", p)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the pause set during the outage did not reach b")
	}
}
