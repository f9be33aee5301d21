package attachments

import "github.com/prometheus/client_golang/prometheus"

// Download results of relayd_attachment_downloads_total (docs/metrics.md).
const (
	resultOK       = "ok"
	resultExpired  = "expired" // expired or revoked: 410
	resultNotFound = "not_found"
)

type metrics struct {
	downloads *prometheus.CounterVec
	linked    *prometheus.CounterVec
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		downloads: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "relayd_attachment_downloads_total",
			Help: "Requests to the attachment download server, by result (ok, expired, not_found)."}, []string{"result"}),
		linked: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "relayd_attachments_linked_total",
			Help: "Attachments replaced by a download link, by the profile whose rule linked them."}, []string{"profile"}),
	}
	for _, r := range []string{resultOK, resultExpired, resultNotFound} {
		m.downloads.WithLabelValues(r)
	}
	if reg != nil {
		reg.MustRegister(m.downloads, m.linked)
	}
	return m
}

// Linked counts n attachments linked for profile.
func (s *Store) Linked(profile string, n int) {
	s.metrics.linked.WithLabelValues(profile).Add(float64(n))
}

// LinkedCounter is relayd_attachments_linked_total{profile} (for tests).
func (s *Store) LinkedCounter(profile string) prometheus.Counter {
	return s.metrics.linked.WithLabelValues(profile)
}
