package main

import (
	"crypto/subtle"
	"encoding/json"
	"net/http"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/relayd/relayd/relay"
)

// adminOwnPatterns are the routes adminMux serves itself; the relay's API
// adds relay.APIPatterns under /api/v1/.
var adminOwnPatterns = []string{"GET /metrics", "GET /healthz", "GET /readyz"}

// adminPatterns is every "METHOD /path" the admin server answers, for
// docs/openapi.yaml's test.
func adminPatterns() []string {
	return append(append([]string{}, adminOwnPatterns...), relay.APIPatterns()...)
}

// adminMux serves SPEC §9's admin HTTP endpoints: /metrics, /healthz,
// /readyz and the relay's /api/v1/ handler. When token is set every request
// needs "Authorization: Bearer <token>" (required for a non-loopback listen).
func adminMux(reg *prometheus.Registry, api http.Handler, ready *atomic.Bool, token string) http.Handler {
	own := map[string]http.Handler{
		"GET /metrics": promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg}),
		"GET /healthz": http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
		}),
		"GET /readyz": http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if !ready.Load() {
				writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "starting"})
				return
			}
			writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
		}),
	}
	mux := http.NewServeMux()
	for _, p := range adminOwnPatterns {
		mux.Handle(p, own[p])
	}
	if api != nil {
		mux.Handle("/api/v1/", api)
	}
	if token == "" {
		return mux
	}
	want := []byte("Bearer " + token)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got := []byte(r.Header.Get("Authorization"))
		if subtle.ConstantTimeCompare(got, want) != 1 {
			writeJSON(w, http.StatusUnauthorized, map[string]string{"error": "missing or wrong bearer token"})
			return
		}
		mux.ServeHTTP(w, r)
	})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}
