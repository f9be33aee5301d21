package main

import (
	"encoding/json"
	"net/http"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// adminMux serves SPEC §9's admin HTTP endpoints: /metrics, /healthz,
// /readyz and the relay's /api/v1/ handler. startAdmin serves it behind
// adminGuard's chain (Host, body limit, CSRF, bearer token).
//
// /readyz answers 503 until ready is set, and while spoolErr (nil: no
// check) returns an error: the spool failed to write or sync, and every new
// message gets 452 until relayd is restarted.
func adminMux(reg *prometheus.Registry, api http.Handler, ready *atomic.Bool, spoolErr func() error) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg}))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		if !ready.Load() {
			writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "starting"})
			return
		}
		if spoolErr != nil {
			if err := spoolErr(); err != nil {
				writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "spool failing", "error": err.Error()})
				return
			}
		}
		writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
	})
	if api != nil {
		mux.Handle("/api/v1/", api)
	}
	return mux
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}
