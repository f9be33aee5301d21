package spool

import (
	"errors"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the spool's own metrics; the queue gauges are exported by
// cmd/relayd from Counts, OldestAge and Bytes (gauges from counts, not Inc/Dec).
type metrics struct {
	corrupt  prometheus.Counter
	syncTime prometheus.Histogram
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		corrupt: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "relayd_spool_corrupt_records_total",
			Help: "Spool records that could not be decoded and were skipped.",
		}),
		syncTime: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "relayd_spool_sync_duration_seconds",
			Help:    "Duration of the spool's group fsyncs; the count is the number of fsyncs.",
			Buckets: prometheus.ExponentialBuckets(0.0001, 2, 14), // 0.1 ms .. 0.8 s
		}),
	}
	if reg == nil {
		return m, nil
	}
	var err error
	m.corrupt, err = register(reg, m.corrupt)
	if err != nil {
		return nil, err
	}
	m.syncTime, err = register(reg, m.syncTime)
	return m, err
}

// register registers c, or returns the collector already registered under
// its name (a store reopened on the same registry).
func register[C prometheus.Collector](reg prometheus.Registerer, c C) (C, error) {
	err := reg.Register(c)
	var are prometheus.AlreadyRegisteredError
	if errors.As(err, &are) {
		if existing, ok := are.ExistingCollector.(C); ok {
			return existing, nil
		}
	}
	return c, err
}
