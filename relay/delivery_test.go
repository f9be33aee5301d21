package relay

import (
	"strings"
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

// settle waits until a whole scheduler pass began after a kick (bounded:
// 10 s), whether or not deliveries are still running.
func (r *testRelay) settle() {
	r.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	p0 := r.srv.delivery.sched.passes.Load()
	for i := int64(1); i <= 2; i++ {
		r.srv.Kick()
		for r.srv.delivery.sched.passes.Load() < p0+i {
			if time.Now().After(deadline) {
				r.t.Fatal("the scheduler made no pass within 10s")
			}
			time.Sleep(time.Millisecond)
		}
	}
}

// TestAdminActionDuringSendingIsRefused: while the upstream holds its reply
// to the final dot, hold and delete answer 409 and change nothing; the
// attempt's outcome (sent) lands, and the message reaches the upstream once.
func TestAdminActionDuringSendingIsRefused(t *testing.T) {
	for _, tc := range []struct{ name, method, suffix string }{
		{"hold", "POST", "/hold"},
		{"delete", "DELETE", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sk := newSink(t)
			entered, release := holdReplies(t, sk)
			r := startRelay(t, baseConfig(sk.addr))
			id := send(t, r.addr, "app@example.com", []string{"x@example.org"}, simpleBody)
			waitEntered(t, entered)

			code, body := r.api(tc.method, "/api/v1/queue/"+id+tc.suffix)
			if code != 409 || !strings.Contains(body, "being delivered") {
				t.Errorf("%s during sending: %d %s, want 409 saying the message is being delivered", tc.name, code, body)
			}
			if m, err := r.store.Get(id); err != nil || m.Recipients[0].State != spool.StateSending {
				t.Errorf("after the refused %s: %+v %v, want the recipient still sending", tc.name, m, err)
			}
			release()
			sk.wait()
			m := r.waitState(id, spool.StateSent)
			if m.Recipients[0].Attempts != 1 {
				t.Errorf("attempts %d, want 1", m.Recipients[0].Attempts)
			}
			// Every recipient is final now: nothing to hold, release or delete.
			for _, a := range []struct{ method, suffix string }{{"POST", "/hold"}, {"POST", "/release"}, {"DELETE", ""}} {
				if code, body := r.api(a.method, "/api/v1/queue/"+id+a.suffix); code != 409 {
					t.Errorf("%s %s after sent: %d %s, want 409", a.method, a.suffix, code, body)
				}
			}
			r.advance(time.Hour)
			sk.none(r)
			if m := r.waitState(id, spool.StateSent); m.Recipients[0].Attempts != 1 {
				t.Errorf("attempts %d after an hour, want 1", m.Recipients[0].Attempts)
			}
		})
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
