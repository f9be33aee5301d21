package upstream

import (
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

func TestMetricsLintAndZeroSeries(t *testing.T) {
	reg := prometheus.NewRegistry()
	p := NewPool(Options{Registerer: reg, Profiles: []string{"office365"}})
	defer p.Close()
	problems, err := testutil.GatherAndLint(reg)
	if err != nil {
		t.Fatal(err)
	}
	for _, pr := range problems {
		t.Errorf("lint %s: %s", pr.Metric, pr.Text)
	}
	if n := testutil.CollectAndCount(p.metrics.connections); n != len(connectionResults) {
		t.Errorf("%d connection series, want %d pre-created", n, len(connectionResults))
	}
	if n := testutil.CollectAndCount(p.metrics.ambiguous); n != 1 {
		t.Errorf("%d ambiguous series, want 1", n)
	}
	// A second Pool on the same registry (a reload) shares the counters.
	q := NewPool(Options{Registerer: reg})
	defer q.Close()
	q.metrics.connection("office365", "ok")
	if got := testutil.ToFloat64(p.metrics.connections.WithLabelValues("office365", "ok")); got != 1 {
		t.Errorf("shared counter = %v", got)
	}
}
