package relay

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"
)

// apiUser is who acts through the admin API in the log and in a pause's
// "by": the holder of the admin token.
const apiUser = "admin"

// ProfileStatus is one profile as GET /api/v1/profiles shows it
// (docs/admin-api.md); the profile CLI and the console use the same type.
type ProfileStatus struct {
	Name        string     `json:"name"`
	Type        string     `json:"type"`
	Description string     `json:"description"`
	Enabled     bool       `json:"enabled"`
	Host        string     `json:"host"`
	Port        int        `json:"port"`
	TLS         string     `json:"tls"`
	Mode        string     `json:"mode"`
	LastResult  string     `json:"last_result"`
	LastAttempt *time.Time `json:"last_attempt"`
	// Paused is true while the profile is paused at run time; PausedUntil
	// is when the pause ends, nil for a pause until resumed (and when not
	// paused). PausedBy is who paused it.
	Paused      bool       `json:"paused"`
	PausedUntil *time.Time `json:"paused_until"`
	PausedBy    string     `json:"paused_by,omitempty"`
}

// Profiles returns every profile of the running configuration with its
// last result and pause state, ordered by name. Safe for concurrent use.
func (s *Server) Profiles() []ProfileStatus {
	gen := s.gen.Load()
	now := s.now()
	out := []ProfileStatus{}
	for name, p := range gen.cfg.Profiles {
		mode := "queue"
		if p.Immediate {
			mode = "immediate"
		}
		pr := ProfileStatus{Name: name, Type: p.Upstream.Type, Description: p.Description, Enabled: p.Enabled,
			Host: p.Upstream.Host, Port: p.Upstream.Port, TLS: string(p.Upstream.TLS), Mode: mode}
		if res, at := s.delivery.health.lastResult(name); res != "" {
			pr.LastResult, pr.LastAttempt = res, &at
		}
		if ps, ok := s.delivery.pauses.get(name); ok && ps.Active(now) {
			pr.Paused, pr.PausedBy = true, ps.By
			if !ps.Until.IsZero() {
				u := ps.Until.UTC()
				pr.PausedUntil = &u
			}
		}
		out = append(out, pr)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// profileStatus is Profiles' entry for name.
func (s *Server) profileStatus(name string) ProfileStatus {
	for _, p := range s.Profiles() {
		if p.Name == name {
			return p
		}
	}
	return ProfileStatus{Name: name}
}

// apiProfilePause answers POST /api/v1/profiles/{name}/pause with an
// optional body {"for": "2h"} (a Go duration, or "d" for days): 200
// with the profile, 400 a bad body, 404 an unknown profile.
func (s *Server) apiProfilePause(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	var req struct {
		For string `json:"for"`
	}
	dec := json.NewDecoder(io.LimitReader(r.Body, 4096))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil && !errors.Is(err, io.EOF) {
		writeError(w, http.StatusBadRequest, `the request body must be empty or JSON like {"for": "2h"}: `+err.Error())
		return
	}
	var d time.Duration
	if strings.TrimSpace(req.For) != "" {
		var ok bool
		if d, ok = parseFor(req.For); !ok {
			writeError(w, http.StatusBadRequest, `"for" must be a positive duration like "90s", "2h" or "1d", not `+
				strconv.Quote(req.For))
			return
		}
	}
	if err := s.PauseProfile(name, d, apiUser); err != nil {
		s.writeProfileError(w, "pause", name, err)
		return
	}
	WriteJSON(w, http.StatusOK, s.profileStatus(name))
}

// apiProfileResume answers POST /api/v1/profiles/{name}/resume: 200 with
// the profile (also when it was not paused), 404 an unknown profile.
func (s *Server) apiProfileResume(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	if err := s.ResumeProfile(name, apiUser); err != nil {
		s.writeProfileError(w, "resume", name, err)
		return
	}
	WriteJSON(w, http.StatusOK, s.profileStatus(name))
}

func (s *Server) writeProfileError(w http.ResponseWriter, action, name string, err error) {
	if errors.Is(err, ErrNoProfile) {
		writeError(w, http.StatusNotFound, "no profile named "+strconv.Quote(name)+" in the running configuration")
		return
	}
	s.internalError(w, action+" profile "+name, err)
}

// parseFor parses the length of a pause: Go duration syntax, or a whole
// number of days like "2d" (as durations in docs/relayd.toml.5.md). It must be positive.
func parseFor(v string) (time.Duration, bool) {
	v = strings.TrimSpace(v)
	if n, ok := strings.CutSuffix(v, "d"); ok {
		days, err := strconv.Atoi(n)
		if err != nil || days <= 0 || days > 100000 {
			return 0, false
		}
		return time.Duration(days) * 24 * time.Hour, true
	}
	d, err := time.ParseDuration(v)
	return d, err == nil && d > 0
}
