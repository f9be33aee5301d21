package relay

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/relayd/relayd/upstream"
)

// probeTimeout bounds one admin-triggered connection test.
const probeTimeout = 2 * time.Minute

// TestRequest is what a connection test of a profile asks for: the flags of
// `relayd test` or the JSON body of POST /api/v1/profiles/{name}/test.
// Empty fields take the defaults of PlanTest.
type TestRequest struct {
	From string   // envelope sender; "" = the sender the profile will use
	To   []string // recipients; "" = [notify] admin
	Send bool     // send a real test message
	// FromHint and ToHint name, in error messages, how the caller gives a
	// sender or a recipient ("-from ADDR", `"from"`); "" = "a sender" /
	// "a recipient".
	FromHint, ToHint string
}

// TestPlan is how a connection test runs: the probe's options, and where
// its envelope came from, so that the admin sees what was tested.
type TestPlan struct {
	Options upstream.ProbeOptions
	// FromSource says where Options.From came from: "given", "the profile's
	// from_address", "[notify] from; the profile has no from_address", or
	// "" when there is no sender.
	FromSource string
	// ToSource says where Options.To came from: "given", "[notify] admin,
	// the System Notification Mailbox", "the sender", or "".
	ToSource string
}

// PlanTest works out the envelope of a connection test of prof, for
// `relayd test` and the admin API alike (one implementation). The sender is
// the one the profile will use: req.From, else its from_address, else
// [notify] from — never the login name, which says nothing about whether
// the account may send as the sender its mail carries. The recipients are
// req.To, else [notify] admin (the seeds' "The test will be sent to the
// System Notification Mailbox"), else, for a test without a message, the
// sender. MAIL and RCPT are tested when a sender, a recipient or a message
// is asked for. The error is a sentence for the admin.
func PlanTest(cfg *Config, prof *Profile, req TestRequest) (TestPlan, error) {
	fromHint, toHint := req.FromHint, req.ToHint
	if fromHint == "" {
		fromHint = "a sender"
	}
	if toHint == "" {
		toHint = "a recipient"
	}
	var pl TestPlan
	from := strings.TrimSpace(req.From)
	switch {
	case from != "":
		pl.FromSource = "given"
	case prof.Rewrite.FromAddress != "":
		from, pl.FromSource = prof.Rewrite.FromAddress, "the profile's from_address"
	case cfg.Notify.From != "":
		from, pl.FromSource = cfg.Notify.From, "[notify] from; the profile has no from_address"
	}
	envelope := req.From != "" || len(req.To) > 0 || req.Send
	to := req.To
	switch {
	case len(to) > 0:
		pl.ToSource = "given"
	case cfg.Notify.Admin != "":
		to, pl.ToSource = []string{cfg.Notify.Admin}, "[notify] admin, the System Notification Mailbox"
	case !req.Send && prof.Upstream.Type != "direct" && from != "":
		to, pl.ToSource = []string{from}, "the sender"
	}
	switch {
	case envelope && from == "":
		return pl, errors.New("there is no sender to test with: the profile has no from_address and " +
			"[notify] from is not set; give " + fromHint)
	case req.Send && len(to) == 0:
		return pl, errors.New("the test message needs a recipient: give " + toHint +
			", or set [notify] admin (the System Notification Mailbox)")
	case prof.Upstream.Type == "direct" && len(to) == 0:
		return pl, errors.New("a direct profile is tested against the MX hosts of a recipient's domain: give " +
			toHint + ", or set [notify] admin")
	}
	pl.Options = upstream.ProbeOptions{From: from, To: to, Envelope: envelope, Send: req.Send,
		Hostname: cfg.Hostname, DKIM: cfg.DKIM}
	return pl, nil
}

// apiProbeStep is one step of POST /api/v1/profiles/{name}/test.
type apiProbeStep struct {
	Step       string `json:"step"`
	OK         bool   `json:"ok"`
	Detail     string `json:"detail,omitempty"`
	DurationMS int64  `json:"duration_ms"`
	Diagnosis  string `json:"diagnosis,omitempty"`
}

// apiProbe is the admin API's profile probe: `relayd test` through the
// running daemon, the seeds' "Test connect" and "Send test email" buttons.
// The JSON body may give {"from", "to": [...], "send": bool}; the envelope
// is PlanTest's (without from/to/send only the connection and AUTH are
// tested; a test message goes to [notify] admin unless "to" says
// otherwise). It answers 200 with {"profile", "ok", "from", "to", "steps"}
// whether or not the probe passed, 400 for an envelope that cannot be
// tested, 404 for an unknown profile.
func (s *Server) apiProbe(w http.ResponseWriter, r *http.Request) {
	gen := s.gen.Load()
	name := r.PathValue("name")
	p, ok := gen.cfg.Profiles[name]
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
	plan, err := PlanTest(gen.cfg, p, TestRequest{From: req.From, To: req.To, Send: req.Send,
		FromHint: `"from"`, ToHint: `"to"`})
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), probeTimeout)
	defer cancel()
	steps := s.pool.Probe(ctx, &p.Upstream, plan.Options)
	out := struct {
		Profile    string         `json:"profile"`
		OK         bool           `json:"ok"`
		From       string         `json:"from,omitempty"`
		FromSource string         `json:"from_source,omitempty"`
		To         []string       `json:"to,omitempty"`
		ToSource   string         `json:"to_source,omitempty"`
		Steps      []apiProbeStep `json:"steps"`
	}{Profile: name, OK: len(steps) > 0, Steps: []apiProbeStep{}}
	if plan.Options.Envelope {
		out.From, out.FromSource, out.To, out.ToSource = plan.Options.From, plan.FromSource, plan.Options.To, plan.ToSource
	}
	for _, st := range steps {
		as := apiProbeStep{Step: string(st.Step), OK: st.OK, Detail: st.Detail, DurationMS: st.Duration.Milliseconds()}
		if st.Err != nil {
			as.Diagnosis = st.Err.Error()
		}
		out.OK = out.OK && st.OK
		out.Steps = append(out.Steps, as)
	}
	s.log.Info("profile test", "profile", name, "ok", out.OK)
	WriteJSON(w, http.StatusOK, out)
}
