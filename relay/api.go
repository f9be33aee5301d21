package relay

import (
	"encoding/json"
	"net/http"
	"time"

	"github.com/relayd/relayd/spool"
)

// QueueItem is a queue item as the admin API shows it (docs/admin-api.md); the
// queue CLI decodes the same type.
type QueueItem struct {
	ID         string           `json:"id"`
	State      string           `json:"state"`
	Created    time.Time        `json:"created"`
	Sender     string           `json:"sender"`
	Team       string           `json:"team"`
	Size       int64            `json:"size"`
	From       string           `json:"from"`    // header From, decoded to UTF-8
	Subject    string           `json:"subject"` // header Subject, decoded to UTF-8
	Recipients []QueueRecipient `json:"recipients"`
}

// QueueRecipient is one recipient of a QueueItem. NextAttempt is nil for
// held and final recipients.
type QueueRecipient struct {
	Address     string     `json:"address"`
	Profile     string     `json:"profile"`
	Rule        string     `json:"rule"`
	State       string     `json:"state"`
	Attempts    int        `json:"attempts"`
	NextAttempt *time.Time `json:"next_attempt"`
	LastError   string     `json:"last_error"`
}

// stateOrder ranks recipient states to give a message one summary state:
// the least advanced one that is still in progress wins.
var stateOrder = map[spool.State]int{spool.StateSending: 0, spool.StateReady: 1, spool.StateDeferred: 2,
	spool.StateDelayed: 3, spool.StateHeld: 4, spool.StateBounced: 5, spool.StateSent: 6, spool.StateCancelled: 7}

// itemOf is a message as the API shows it. A ready recipient whose
// profile is held back by its rate shows when it may go.
func (s *Server) itemOf(m *spool.Message) QueueItem {
	now := s.now()
	it := QueueItem{ID: m.ID, Created: m.Created, Sender: m.Sender, Team: m.Team, Size: m.Size,
		From: m.From, Subject: m.Subject, Recipients: []QueueRecipient{}}
	best := -1
	for _, r := range m.Recipients {
		ar := QueueRecipient{Address: r.Address, Profile: r.Profile, Rule: r.Rule, State: string(r.State),
			Attempts: r.Attempts, LastError: r.LastError}
		state := r.State
		if !r.State.Final() && r.State != spool.StateHeld {
			t := r.NextAttempt
			if p, ok := s.gen.Load().cfg.Profiles[r.Profile]; ok && (r.State == spool.StateReady || r.State == spool.StateDeferred) {
				// Excess over the profile's rate waits in the queue as
				// deferred; nothing is written to the spool
				// for it, so a saturated profile costs no spool writes.
				if w := s.delivery.sched.rates.WaitUntil(r.Profile, p.Rate, now); w.After(t) {
					t, state = w, spool.StateDeferred
					ar.State = string(state)
					if r.State == spool.StateReady || ar.LastError == "" {
						ar.LastError = "rate limit: the profile's rate (" + p.Rate.String() + ") allows the next message at " +
							w.UTC().Format(time.RFC3339)
					}
				}
			}
			ar.NextAttempt = &t
			s.pausedNote(&ar, r, now)
		}
		it.Recipients = append(it.Recipients, ar)
		if o := stateOrder[state]; best < 0 || o < best {
			best, it.State = o, string(state)
		}
	}
	return it
}

// apiRoutes is every route of the admin API (docs/admin-api.md): Handler registers
// exactly these, and APIPatterns lists them, so docs/openapi.yaml's test
// compares the document with what the server really serves.
var apiRoutes = []struct {
	pattern string // http.ServeMux pattern: "METHOD /path"
	handler func(s *Server) http.HandlerFunc
}{
	{"GET /api/v1/queue", func(s *Server) http.HandlerFunc { return s.apiList }},
	{"GET /api/v1/queue/{id}", func(s *Server) http.HandlerFunc { return s.apiShow }},
	{"DELETE /api/v1/queue/{id}", func(s *Server) http.HandlerFunc { return s.apiAction("delete", s.spool.Cancel) }},
	{"POST /api/v1/queue/{id}/hold", func(s *Server) http.HandlerFunc { return s.apiAction("hold", s.spool.Hold) }},
	{"POST /api/v1/queue/{id}/release", func(s *Server) http.HandlerFunc { return s.apiAction("release", s.spool.Release) }},
	{"POST /api/v1/queue/{id}/retry", func(s *Server) http.HandlerFunc { return s.apiAction("retry", s.spool.RetryNow) }},
	{"POST /api/v1/queue/retry", func(s *Server) http.HandlerFunc { return s.apiRetryAll }},
	{"GET /api/v1/profiles", func(s *Server) http.HandlerFunc { return s.apiProfiles }},
	{"POST /api/v1/profiles/{name}/test", func(s *Server) http.HandlerFunc { return s.apiProbe }},
	{"POST /api/v1/profiles/{name}/pause", func(s *Server) http.HandlerFunc { return s.apiProfilePause }},
	{"POST /api/v1/profiles/{name}/resume", func(s *Server) http.HandlerFunc { return s.apiProfileResume }},
	{"GET /api/v1/oauth", func(s *Server) http.HandlerFunc { return s.apiOAuth }},
	{"GET /api/v1/attachments", func(s *Server) http.HandlerFunc { return s.apiAttachments }},
	{"POST /api/v1/attachments/{token}/revoke", func(s *Server) http.HandlerFunc { return s.apiAttachmentRevoke }},
}

// APIPatterns returns the "METHOD /path" patterns Handler serves, in
// registration order. The slice is new on every call.
func APIPatterns() []string {
	out := make([]string, len(apiRoutes))
	for i, r := range apiRoutes {
		out[i] = r.pattern
	}
	return out
}

// Handler returns the admin API (docs/admin-api.md) under /api/v1/. Host, CSRF,
// body limit and authentication checks are the caller's (cmd/relayd wraps
// every route of the admin listener in one chain).
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	for _, r := range apiRoutes {
		mux.HandleFunc(r.pattern, r.handler(s))
	}
	mux.HandleFunc("/api/v1/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, "no such endpoint: "+r.Method+" "+r.URL.Path)
	})
	return mux
}

// stateActive is the list filter for the active queue: every message with
// a recipient not yet sent, bounced or cancelled (no journal).
const stateActive = "active"

// apiList answers GET /api/v1/queue: every message (active queue and
// journal), or with ?state= those with a recipient in that state, or
// ?state=active the active queue only.
func (s *Server) apiList(w http.ResponseWriter, r *http.Request) {
	state := spool.State(r.URL.Query().Get("state"))
	if _, ok := stateOrder[state]; state != "" && state != stateActive && !ok {
		writeError(w, http.StatusBadRequest, "unknown state "+string(state)+
			": use active, delayed, ready, sending, deferred, held, sent, bounced or cancelled")
		return
	}
	items := []QueueItem{}
	add := func(m *spool.Message) bool {
		items = append(items, s.itemOf(m))
		return len(items) < 10000
	}
	var err error
	if state == stateActive {
		err = s.spool.ListActive(add)
	} else {
		err = s.spool.List(state, add)
	}
	if err != nil {
		s.internalError(w, "list the queue", err)
		return
	}
	WriteJSON(w, http.StatusOK, items)
}

func (s *Server) apiShow(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	m, err := s.spool.Get(id)
	if err != nil {
		s.writeSpoolError(w, "show", id, err)
		return
	}
	WriteJSON(w, http.StatusOK, s.itemOf(m))
}

// apiAction wraps one spool admin action: 200 with the item after the
// change, 404 unknown id, 409 a state that does not allow it.
func (s *Server) apiAction(action string, act func(id string) (*spool.Message, error)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		id := r.PathValue("id")
		m, err := act(id)
		if err != nil {
			s.writeSpoolError(w, action, id, err)
			return
		}
		s.log.Info("admin action", "msg_id", id, "action", action, "user", apiUser)
		s.delivery.kick()
		WriteJSON(w, http.StatusOK, s.itemOf(m))
	}
}

func (s *Server) apiRetryAll(w http.ResponseWriter, r *http.Request) {
	n, err := s.spool.RetryAll()
	if err != nil {
		s.internalError(w, "retry the deferred messages", err)
		return
	}
	s.log.Info("admin action", "action", "retry all", "user", apiUser, "messages", n)
	s.delivery.kick()
	WriteJSON(w, http.StatusOK, map[string]int{"retried": n})
}

func (s *Server) apiProfiles(w http.ResponseWriter, r *http.Request) {
	WriteJSON(w, http.StatusOK, s.Profiles())
}

func writeError(w http.ResponseWriter, status int, msg string) {
	WriteJSON(w, status, map[string]string{"error": msg})
}

// WriteJSON answers with status and v as indented JSON
// (application/json): every JSON answer of the admin server goes through
// it, the relay API's and cmd/relayd's /healthz, /readyz and guard errors.
func WriteJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.Encode(v)
}
