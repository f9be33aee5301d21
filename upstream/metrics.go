package upstream

import (
	"errors"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
)

// connectionResults are the result label values of
// relayd_upstream_connections_total (docs/metrics.md).
var connectionResults = []string{"ok", "refused", "timeout", "tls_error", "auth_failed", "error"}

// metrics are upstream's Prometheus counters (docs/metrics.md). Label values come
// only from profile names and fixed result words.
type metrics struct {
	connections *prometheus.CounterVec // profile, result
	ambiguous   *prometheus.CounterVec // profile
	oauth       *prometheus.CounterVec // profile, result
	known       sync.Map               // profile names whose series exist
	knownOAuth  sync.Map               // profile names whose OAuth2 series exist
}

// newMetrics builds the counters and registers them with reg; nil reg
// keeps them unregistered (counted, never exported). Registering twice with
// the same registry (a new Pool after a reload) reuses the first collectors.
func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		connections: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "relayd_upstream_connections_total",
			Help: "Connection attempts to upstreams, by outcome of connect, banner, EHLO, TLS and AUTH.",
		}, []string{"profile", "result"}),
		ambiguous: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "relayd_delivery_ambiguous_total",
			Help: "Deliveries whose connection broke after the final dot before the reply (possible duplicates).",
		}, []string{"profile"}),
		oauth: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "relayd_oauth_refresh_total",
			Help: "OAuth2 access token requests to the token endpoint, by outcome (ok, error).",
		}, []string{"profile", "result"}),
	}
	if reg != nil {
		m.connections = register(reg, m.connections)
		m.ambiguous = register(reg, m.ambiguous)
		m.oauth = register(reg, m.oauth)
	}
	return m
}

func register(reg prometheus.Registerer, c *prometheus.CounterVec) *prometheus.CounterVec {
	if err := reg.Register(c); err != nil {
		var are prometheus.AlreadyRegisteredError
		if errors.As(err, &are) {
			if old, ok := are.ExistingCollector.(*prometheus.CounterVec); ok {
				return old
			}
		}
		panic(err) // a conflicting metric of the same name: a programming error
	}
	return c
}

// profile creates the profile's series at 0, once, so that rate() and
// alerts see them before the first failure.
func (m *metrics) profile(name string) {
	if _, seen := m.known.LoadOrStore(name, true); seen {
		return
	}
	for _, r := range connectionResults {
		m.connections.WithLabelValues(name, r)
	}
	m.ambiguous.WithLabelValues(name)
}

// oauthProfile creates a profile's relayd_oauth_refresh_total series at 0,
// once.
func (m *metrics) oauthProfile(name string) {
	if _, seen := m.knownOAuth.LoadOrStore(name, true); seen {
		return
	}
	m.oauth.WithLabelValues(name, "ok")
	m.oauth.WithLabelValues(name, "error")
}

func (m *metrics) oauthRefresh(profile string, ok bool) {
	result := "error"
	if ok {
		result = "ok"
	}
	m.oauth.WithLabelValues(profile, result).Inc()
}

func (m *metrics) connection(profile, result string) {
	m.connections.WithLabelValues(profile, result).Inc()
}

func (m *metrics) ambiguousDelivery(profile string) {
	m.ambiguous.WithLabelValues(profile).Inc()
}
