package main

import (
	"net/http"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/relayd/relayd/relay"
	webconsole "github.com/relayd/relayd/relay/console"
)

// adminOwnPatterns are the routes adminMux serves itself; the relay's API
// adds relay.APIPatterns under /api/v1/.
var adminOwnPatterns = []string{"GET /metrics", "GET /healthz", "GET /readyz"}

// adminPatterns is every "METHOD /path" the admin server answers, for
// docs/openapi.yaml's test.
func adminPatterns() []string {
	return append(append([]string{}, adminOwnPatterns...), relay.APIPatterns()...)
}

// adminMux serves the admin HTTP endpoints (docs/admin-api.md): /metrics, /healthz,
// /readyz and the relay's /api/v1/ handler. startAdmin serves it behind
// adminGuard's chain (Host, body limit, CSRF, bearer token).
//
// /readyz answers 503 until ready is set, and while spoolErr (nil: no
// check) returns an error: the spool failed to write or sync, and every new
// message gets 452 until relayd is restarted.
//
// console (nil: [admin] console = false) serves the web console's routes
// (console.Patterns: HTML pages, not part of the API's document).
func adminMux(reg *prometheus.Registry, api http.Handler, console http.Handler, ready *atomic.Bool, spoolErr func() error) http.Handler {
	own := map[string]http.Handler{
		"GET /metrics": promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg}),
		"GET /healthz": http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			relay.WriteJSON(w, http.StatusOK, map[string]string{"status": "ok"})
		}),
		"GET /readyz": http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if !ready.Load() {
				relay.WriteJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "starting"})
				return
			}
			if spoolErr != nil {
				if err := spoolErr(); err != nil {
					relay.WriteJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "spool failing", "error": err.Error()})
					return
				}
			}
			relay.WriteJSON(w, http.StatusOK, map[string]string{"status": "ready"})
		}),
	}
	mux := http.NewServeMux()
	for _, p := range adminOwnPatterns {
		mux.Handle(p, own[p])
	}
	if api != nil {
		mux.Handle("/api/v1/", api)
	}
	if console != nil {
		for _, p := range webconsole.Patterns() {
			mux.Handle(p, console)
		}
	}
	return mux
}
