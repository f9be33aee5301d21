package relay

import (
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/relayd/relayd/spool"
)

// holdReplies makes sk hold its reply to the final dot of every DATA until
// the returned release is called: entered receives the DATA's number once
// the sink has the whole message and waits. release is also run at cleanup,
// so a failing test does not leave the sink blocked.
func holdReplies(t *testing.T, sk *sink) (entered chan int, release func()) {
	t.Helper()
	entered, gate := make(chan int, 16), make(chan struct{})
	var once sync.Once
	release = func() { once.Do(func() { close(gate) }) }
	sk.set(func() {
		sk.onData = func(n int) error {
			entered <- n
			<-gate
			return nil
		}
	})
	t.Cleanup(release)
	return entered, release
}

// waitEntered waits until the sink holds a DATA's reply.
func waitEntered(t *testing.T, entered chan int) {
	t.Helper()
	select {
	case <-entered:
	case <-time.After(10 * time.Second):
		t.Fatal("the upstream never received the message")
	}
}

// api calls the admin API handler and returns the status and body.
func (r *testRelay) api(method, path string) (int, string) {
	rec := httptest.NewRecorder()
	r.srv.Handler().ServeHTTP(rec, httptest.NewRequest(method, path, nil))
	return rec.Code, rec.Body.String()
}

// settle waits until a whole scheduler pass began after a kick (bounded:
// 10 s), whether or not deliveries are still running.
func (r *testRelay) settle() {
	r.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	p0 := r.srv.sched.passes.Load()
	for i := int64(1); i <= 2; i++ {
		r.srv.Kick()
		for r.srv.sched.passes.Load() < p0+i {
			if time.Now().After(deadline) {
				r.t.Fatal("the scheduler made no pass within 10s")
			}
			time.Sleep(time.Millisecond)
		}
	}
}

// TestLeaseExpiryDuringSlowAttemptStartsNoSecond: the clock passes the
// lease of an attempt that is still waiting for the upstream's reply; no
// second attempt of the recipient starts, and the upstream gets the message
// once.
func TestLeaseExpiryDuringSlowAttemptStartsNoSecond(t *testing.T) {
	sk := newSink(t)
	entered, release := holdReplies(t, sk)
	r := startRelay(t, baseConfig(sk.addr))
	id := send(t, r.addr, "app@example.com", []string{"x@example.org"}, simpleBody)
	waitEntered(t, entered)

	r.clock.Advance(time.Hour) // far past the lease (4×5s + 10s + 5m)
	r.settle()
	m, err := r.store.Get(id)
	if err != nil || m.Recipients[0].State != spool.StateSending || m.Recipients[0].Attempts != 1 {
		t.Errorf("after the lease ran out: %+v %v, want the one attempt still sending", m, err)
	}
	release()
	sk.wait()
	m = r.waitState(id, spool.StateSent)
	sk.none(r)
	if n := sk.conns.Load(); n != 1 || m.Recipients[0].Attempts != 1 {
		t.Errorf("%d upstream connections, %d attempts; want 1 and 1", n, m.Recipients[0].Attempts)
	}
}
