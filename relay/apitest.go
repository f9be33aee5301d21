package relay

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"time"

	"github.com/relayd/relayd/upstream"
)

// probeTimeout bounds one admin-triggered connection test.
const probeTimeout = 2 * time.Minute

// apiProbeStep is one step of POST /api/v1/profiles/{name}/test.
type apiProbeStep struct {
	Step       string `json:"step"`
	OK         bool   `json:"ok"`
	Detail     string `json:"detail,omitempty"`
	DurationMS int64  `json:"duration_ms"`
	Diagnosis  string `json:"diagnosis,omitempty"`
}

// apiProfileTest runs `relayd test` through the running daemon: the seeds'
// "Test connect" button. The JSON body may give {"from", "to": [...],
// "send": bool}; without from/to only the connection and AUTH are tested.
// It answers 200 with {"profile", "ok", "steps"} whether or not the test
// passed, 404 for an unknown profile. The admin listener's chain bounds
// the body (413) and refuses cross-site requests before this runs.
func (s *Server) apiProfileTest(w http.ResponseWriter, r *http.Request) {
	rt := s.rt.Load()
	name := r.PathValue("name")
	p, ok := rt.cfg.Profiles[name]
	if !ok {
		writeError(w, http.StatusNotFound, "no profile "+name)
		return
	}
	var req struct {
		From string   `json:"from"`
		To   []string `json:"to"`
		Send bool     `json:"send"`
	}
	if r.ContentLength != 0 {
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
			if _, big := errors.AsType[*http.MaxBytesError](err); big {
				writeError(w, http.StatusRequestEntityTooLarge, "the request body is too large")
				return
			}
			writeError(w, http.StatusBadRequest, `the request body is not JSON like {"from": "a@example.com", "to": ["b@example.org"], "send": false}: `+err.Error())
			return
		}
	}
	ctx, cancel := context.WithTimeout(r.Context(), probeTimeout)
	defer cancel()
	steps := s.pool.Probe(ctx, &p.Upstream, upstream.ProbeOptions{From: req.From, To: req.To,
		Envelope: req.From != "" || len(req.To) > 0, Send: req.Send, Hostname: rt.cfg.Hostname, DKIM: rt.cfg.DKIM})
	out := struct {
		Profile string         `json:"profile"`
		OK      bool           `json:"ok"`
		Steps   []apiProbeStep `json:"steps"`
	}{Profile: name, OK: len(steps) > 0, Steps: []apiProbeStep{}}
	for _, st := range steps {
		as := apiProbeStep{Step: string(st.Step), OK: st.OK, Detail: st.Detail, DurationMS: st.Duration.Milliseconds()}
		if st.Err != nil {
			as.Diagnosis = st.Err.Error()
		}
		out.OK = out.OK && st.OK
		out.Steps = append(out.Steps, as)
	}
	s.log.Info("profile test", "profile", name, "ok", out.OK)
	writeJSON(w, http.StatusOK, out)
}
