package relay

import (
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
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
