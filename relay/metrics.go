package relay

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/relayd/relayd/spool"
)

// metrics are relay's metrics (docs/metrics.md). Queue gauges are read from
// the spool at scrape time (from spool counts, not Inc/Dec).
type metrics struct {
	accepted   *prometheus.CounterVec
	rejected   *prometheus.CounterVec
	deliveries *prometheus.CounterVec
	duration   *prometheus.HistogramVec
	sessions   *prometheus.GaugeVec
	panics     *prometheus.CounterVec
	// quotaPauses counts the pauses quota replies caused (quota.go).
	quotaPauses *prometheus.CounterVec
}

// rejectReasons are the bounded values of relayd_messages_rejected_total's
// reason label (docs/metrics.md).
var rejectReasons = []string{"size", "recipients", "auth", "network", "policy", "syntax",
	"smuggling", "storage", "ratelimit", "timeout"}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		accepted: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "relayd_messages_accepted_total",
			Help: "Messages accepted and committed to the spool."}, []string{"listener", "team"}),
		rejected: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "relayd_messages_rejected_total",
			Help: "Connections, commands and messages refused, by reason."}, []string{"listener", "reason"}),
		deliveries: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "relayd_deliveries_total",
			Help: "Delivery attempt outcomes per recipient."}, []string{"profile", "result"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "relayd_delivery_duration_seconds",
			Help:    "Time of one delivery attempt, connection included.",
			Buckets: prometheus.ExponentialBuckets(0.005, 2.5, 10)}, []string{"profile"}),
		sessions: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "relayd_smtp_sessions",
			Help: "Open SMTP connections."}, []string{"listener"}),
		panics: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "relayd_panics_total",
			Help: "Recovered panics; the work in hand stays queued."}, []string{"component"}),
		quotaPauses: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "relayd_quota_pauses_total",
			Help: "Pauses of a profile after its upstream said the sending quota is exhausted."}, []string{"profile"}),
	}
	if reg != nil {
		reg.MustRegister(m.accepted, m.rejected, m.deliveries, m.duration, m.sessions, m.panics)
		reg.MustRegister(m.quotaPauses)
	}
	return m
}

// precreate sets every known label combination to 0 so dashboards and
// alerts see the series before the first event.
func (m *metrics) precreate(cfg *Config) {
	for _, l := range cfg.Listeners {
		m.sessions.WithLabelValues(l.Name)
		for _, r := range rejectReasons {
			m.rejected.WithLabelValues(l.Name, r)
		}
	}
	for name := range cfg.Profiles {
		for _, r := range []string{"sent", "deferred", "bounced"} {
			m.deliveries.WithLabelValues(name, r)
		}
		m.quotaPauses.WithLabelValues(name)
	}
	for _, c := range []string{"scheduler", "delivery", "session"} {
		m.panics.WithLabelValues(c)
	}
}

// queueCollector exports relayd_queue_messages, relayd_queue_oldest_age_seconds,
// relayd_spool_bytes and relayd_spool_healthy from the spool at scrape time.
type queueCollector struct {
	spool  *spool.Store
	now    func() time.Time
	msgs   *prometheus.Desc
	oldest *prometheus.Desc
	bytes  *prometheus.Desc
	health *prometheus.Desc
}

func newQueueCollector(s *spool.Store, now func() time.Time) *queueCollector {
	return &queueCollector{spool: s, now: now,
		msgs: prometheus.NewDesc("relayd_queue_messages",
			"Messages in the spool with at least one recipient in the state.", []string{"state"}, nil),
		oldest: prometheus.NewDesc("relayd_queue_oldest_age_seconds",
			"Age of the oldest message not yet delivered, bounced or cancelled.", nil, nil),
		bytes: prometheus.NewDesc("relayd_spool_bytes", "Size of the spool on disk.", nil, nil),
		health: prometheus.NewDesc("relayd_spool_healthy",
			"1 while the spool can make writes durable; 0 after a failed fsync or write (new mail gets 452 until a restart).",
			nil, nil),
	}
}

var allStates = []spool.State{spool.StateDelayed, spool.StateReady, spool.StateSending, spool.StateSent,
	spool.StateDeferred, spool.StateBounced, spool.StateHeld, spool.StateCancelled}

// Describe implements prometheus.Collector.
func (q *queueCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- q.msgs
	ch <- q.oldest
	ch <- q.bytes
	ch <- q.health
}

// Collect implements prometheus.Collector.
func (q *queueCollector) Collect(ch chan<- prometheus.Metric) {
	counts := q.spool.Counts()
	for _, st := range allStates {
		ch <- prometheus.MustNewConstMetric(q.msgs, prometheus.GaugeValue, float64(counts[st]), string(st))
	}
	ch <- prometheus.MustNewConstMetric(q.oldest, prometheus.GaugeValue, q.spool.OldestAge(q.now()).Seconds())
	ch <- prometheus.MustNewConstMetric(q.bytes, prometheus.GaugeValue, float64(q.spool.Bytes()))
	healthy := 1.0
	if q.spool.Err() != nil {
		healthy = 0
	}
	ch <- prometheus.MustNewConstMetric(q.health, prometheus.GaugeValue, healthy)
}
