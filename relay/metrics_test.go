package relay

import (
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/relayd/relayd/spool"
)

func TestMetricsAfterTraffic(t *testing.T) {
	sk := newSink(t)
	sk.set(func() {
		sk.onRcpt = func(to string) error {
			if strings.HasPrefix(to, "bad") {
				return errPerm
			}
			return nil
		}
	})
	r := startRelay(t, baseConfig(sk.addr))
	id1 := send(t, r.addr, "app@example.com", []string{"ok@example.org"}, simpleBody)
	id2 := send(t, r.addr, "app@example.com", []string{"bad@example.org"}, simpleBody)
	r.waitState(id1, spool.StateSent)
	r.waitState(id2, spool.StateBounced)
	sk.wait()
	sk.wait() // the DSN

	if got := testutil.ToFloat64(r.srv.metrics.accepted.WithLabelValues("local", "")); got != 2 {
		t.Errorf("accepted = %v, want 2", got)
	}
	if got := testutil.ToFloat64(r.srv.metrics.deliveries.WithLabelValues("sink", "bounced")); got != 1 {
		t.Errorf("bounced = %v, want 1", got)
	}
	r.idle()
	if got := testutil.ToFloat64(r.srv.metrics.deliveries.WithLabelValues("sink", "sent")); got != 2 {
		t.Errorf("sent = %v, want 2 (message and DSN)", got)
	}
	problems, err := testutil.GatherAndLint(r.reg)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("promlint: %s: %s", p.Metric, p.Text)
	}
	n, err := testutil.GatherAndCount(r.reg, "relayd_queue_messages", "relayd_queue_oldest_age_seconds",
		"relayd_spool_bytes", "relayd_smtp_sessions", "relayd_messages_rejected_total",
		"relayd_delivery_duration_seconds", "relayd_upstream_connections_total")
	if err != nil || n == 0 {
		t.Fatalf("gather: %d series, %v", n, err)
	}
	for _, name := range []string{"relayd_queue_messages", "relayd_spool_bytes", "relayd_upstream_connections_total",
		"relayd_delivery_ambiguous_total", "relayd_deliveries_total"} {
		if c, _ := testutil.GatherAndCount(r.reg, name); c == 0 {
			t.Errorf("metric %s missing", name)
		}
	}
}
