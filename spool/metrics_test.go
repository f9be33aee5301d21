package spool

import (
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// testutilSyncCount returns how many group fsyncs s has made.
func testutilSyncCount(s *Store) uint64 {
	return s.gs.Rounds()
}

func TestMetricsLint(t *testing.T) {
	reg := prometheus.NewPedanticRegistry()
	c := newClock()
	dir := t.TempDir()
	s := openTest(t, dir, c, func(o *Options) { o.Registerer = reg })
	mustCommit(t, s, newMsg(StateReady, c.Now(), "a@example.org"), []byte("x"))
	problems, err := testutil.GatherAndLint(reg)
	if err != nil || len(problems) > 0 {
		t.Fatalf("GatherAndLint: %v %v", err, problems)
	}
	if n := testutil.ToFloat64(s.metrics.corrupt); n != 0 {
		t.Errorf("corrupt = %v", n)
	}
	closeTest(t, s)
	// Reopening on the same registry reuses the registered collectors.
	s = openTest(t, dir, c, func(o *Options) { o.Registerer = reg })
	closeTest(t, s)
}
