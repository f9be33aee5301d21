package relay

import (
	goruntime "runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/relayd/relayd/relay/message"
	"github.com/relayd/relayd/relay/smtpwire"
	"github.com/relayd/relayd/relay/smtpwire/wiretest"
)

// waitSessionsGone waits (bounded: 5 s) until the listener has no open
// session, so whatever those sessions were going to commit is committed.
func waitSessionsGone(t *testing.T, r *testRelay) {
	t.Helper()
	g := r.srv.metrics.sessions.WithLabelValues("local")
	for deadline := time.Now().Add(5 * time.Second); testutil.ToFloat64(g) != 0; {
		if time.Now().After(deadline) {
			t.Fatalf("%v sessions still open 5 s after the client left", testutil.ToFloat64(g))
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// spoolEmpty fails unless the spool holds no message in any state.
func spoolEmpty(t *testing.T, r *testRelay) {
	t.Helper()
	for st, n := range r.store.Counts() {
		if n != 0 {
			t.Errorf("spool holds %d messages in state %s, want none", n, st)
		}
	}
}

// TestBDATCutShortIsNotSpooled: "BDAT 100 LAST", 50 octets, then the
// client closes the connection (no half-close, no reply read). Nothing is
// spooled and nothing reaches the upstream (issue 14.1; before the fix
// the 50 octets were committed and delivered).
func TestBDATCutShortIsNotSpooled(t *testing.T) {
	sk := newSink(t)
	r := startRelay(t, baseConfig(sk.addr))
	c := dialRaw(t, r.addr)
	c.greet()
	for _, cmd := range []string{"MAIL FROM:<app@example.com>\r\n", "RCPT TO:<someone@example.org>\r\n"} {
		if got := c.cmd(cmd); !strings.HasPrefix(got, "250") {
			t.Fatalf("%q: %q", cmd, got)
		}
	}
	c.write("BDAT 100 LAST\r\nSubject: cut\r\n\r\n" + strings.Repeat("c", 50-len("Subject: cut\r\n\r\n")))
	c.c.Close()
	waitSessionsGone(t, r)
	spoolEmpty(t, r)
	sk.none(r)
}

// TestMailSizeOverLimitIsCounted: MAIL FROM with SIZE= over
// max_message_size is refused with 552 5.3.4 and counted in
// relayd_messages_rejected_total{reason="size"} (issue 14.7; go-smtp
// refused it itself, uncounted), and nothing is queued.
func TestMailSizeOverLimitIsCounted(t *testing.T) {
	sk := newSink(t)
	cfg := baseConfig(sk.addr)
	cfg.Listeners[0].MaxMessageSize = 1000
	r := startRelay(t, cfg)
	size := r.srv.metrics.rejected.WithLabelValues("local", "size")
	c := dialRaw(t, r.addr)
	c.greet()
	if got := c.cmd("MAIL FROM:<a@example.com> SIZE=1001\r\n"); !strings.HasPrefix(got, "552 5.3.4 ") {
		t.Fatalf("MAIL with SIZE=1001 over 1000: %q, want 552 5.3.4", got)
	}
	if got := testutil.ToFloat64(size); got != 1 {
		t.Errorf("relayd_messages_rejected_total{reason=\"size\"} = %v, want 1", got)
	}
	if got := c.cmd("MAIL FROM:<a@example.com> SIZE=1000\r\n"); !strings.HasPrefix(got, "250 ") {
		t.Fatalf("MAIL with SIZE=1000: %q, want 250", got)
	}
	if got := testutil.ToFloat64(size); got != 1 {
		t.Errorf("after a MAIL within the limit: relayd_messages_rejected_total{reason=\"size\"} = %v, want 1", got)
	}
	c.cmd("QUIT\r\n")
	spoolEmpty(t, r)
	sk.none(r)
}

// TestMessageBufferBudget: eight clients send 4 MiB messages at once to a
// relay whose budget for buffered message data holds three and a half of
// them (issue 14.8). Every client sends its whole message before any
// sends its end-of-data line, so no session can give its buffer back
// early: at most three fit, the others must be refused. Each reply is 250
// or 452 4.3.1; the budget never went over its cap; the live heap grew by
// less than the cap plus slack; only
// the 250 messages are spooled and delivered; and once the clients are
// gone no budget is held.
func TestMessageBufferBudget(t *testing.T) {
	const clients, fit = 8, 3
	sk := newSink(t)
	cfg := baseConfig(sk.addr)
	cfg.Listeners[0].MaxMessageSize = 8 << 20
	plain := "Subject: big\r\n\r\n" + wiretest.Lines(4<<20)
	body := strings.ReplaceAll(plain, "\r\n.", "\r\n..")
	// With SIZE= declared, a session's buffer is exactly this large.
	perMsg := int64(message.HeaderRoom + len(body) + smtpwire.ReadSize)
	cfg.MaxBufferedBytes = fit*perMsg + perMsg/2
	r := startRelay(t, cfg)

	goruntime.GC()
	var ms goruntime.MemStats
	goruntime.ReadMemStats(&ms)
	base := ms.HeapAlloc

	conns := make([]*raw, clients)
	for i := range conns {
		c := dialRaw(t, r.addr)
		c.greet()
		for _, cmd := range []string{"MAIL FROM:<app@example.com> SIZE=" + strconv.Itoa(len(body)) + "\r\n",
			"RCPT TO:<someone@example.org>\r\n"} {
			if got := c.cmd(cmd); !strings.HasPrefix(got, "250") {
				t.Fatalf("client %d: %q: %q", i, cmd, got)
			}
		}
		if got := c.cmd("DATA\r\n"); !strings.HasPrefix(got, "354") {
			t.Fatalf("client %d: DATA: %q", i, got)
		}
		conns[i] = c
	}
	done := make(chan struct{})
	for _, c := range conns {
		go func() {
			defer func() { done <- struct{}{} }()
			c.c.Write([]byte(body)) // an error shows in the reply below
		}()
	}
	for range conns {
		<-done
	}
	// The sessions read on; those that cannot get budget are refused as
	// they do (bounded wait: there is no event to wait for).
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		if _, _, refused := r.srv.budget.stats(); refused >= clients-fit {
			break
		}
		if time.Now().After(deadline) {
			used, _, refused := r.srv.budget.stats()
			t.Fatalf("20 s after the messages were sent: %d sessions refused, want at least %d (budget used %d of %d)",
				refused, clients-fit, used, cfg.MaxBufferedBytes)
		}
	}
	goruntime.GC()
	goruntime.ReadMemStats(&ms)
	grown := int64(ms.HeapAlloc) - int64(base)

	var queued, refused int
	for i, c := range conns {
		switch got := c.cmd(".\r\n"); {
		case strings.HasPrefix(got, "250 2.0.0 Ok: queued as "):
			queued++
		case strings.HasPrefix(got, "452 4.3.1 "):
			refused++
		default:
			t.Errorf("client %d: %q, want 250 2.0.0 or 452 4.3.1", i, got)
		}
		c.cmd("QUIT\r\n")
		c.c.Close()
	}
	if queued < 1 || queued > fit || queued+refused != clients {
		t.Errorf("%d queued and %d refused, want 1 to %d queued and the rest refused", queued, refused, fit)
	}
	_, peak, _ := r.srv.budget.stats()
	if peak > cfg.MaxBufferedBytes {
		t.Errorf("budget peak %d octets, over the cap of %d", peak, cfg.MaxBufferedBytes)
	}
	if slack := int64(8 << 20); grown > cfg.MaxBufferedBytes+slack {
		t.Errorf("live heap grew by %d octets with every message in, want at most the cap %d plus %d",
			grown, cfg.MaxBufferedBytes, slack)
	}
	t.Logf("budget cap %d, peak %d; live heap grew by %d after the refusals; %d queued, %d refused", cfg.MaxBufferedBytes, peak, grown,
		queued, refused)
	for range queued {
		if m := sk.wait(); !strings.HasSuffix(string(m.Data), plain[len("Subject: big\r\n"):]) {
			t.Errorf("sink got %d octets, not ending with the %d-octet body sent", len(m.Data), len(plain))
		}
	}
	sk.none(r)
	waitSessionsGone(t, r)
	if used, _, _ := r.srv.budget.stats(); used != 0 {
		t.Errorf("%d octets of budget still held after every session ended", used)
	}
}
