package relay

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/relayd/relayd/spool"
)

// The admin API's errors are sentences for the admin who reads them in
// {"error": ...} and in `relayd queue`: they name the
// message and what stands in the way, never the spool's internal wrapping.

// refusals says, per action, why a state does not allow it; %s is the
// message's summary state.
var refusals = map[string]string{
	"hold":    "it cannot be held",
	"release": "it cannot be released (only a held message can)",
	"retry":   "it cannot be retried (only a delayed, ready or deferred message can)",
	"delete":  "it cannot be deleted",
}

// writeSpoolError answers a failed queue operation on message id: 404 for
// an unknown ID, 409 for a state that does not allow action (saying so
// when a delivery attempt is in flight), 503 when the
// disk is full, else 500 (logged with its cause).
func (s *Server) writeSpoolError(w http.ResponseWriter, action, id string, err error) {
	var sending *spool.SendingError
	switch {
	case errors.As(err, &sending):
		writeError(w, http.StatusConflict, sending.Error())
	case errors.Is(err, spool.ErrNotFound):
		writeError(w, http.StatusNotFound, "no message with ID "+id)
	case errors.Is(err, spool.ErrState):
		writeError(w, http.StatusConflict, s.refusal(action, id))
	case errors.Is(err, spool.ErrNoSpace):
		writeError(w, http.StatusServiceUnavailable, fmt.Sprintf(
			"message %s was not changed: the spool's disk is below its free-space reserve ([server] min_free_space); free some space and try again", id))
	default:
		s.internalError(w, action+" message "+id, err)
	}
}

// refusal is the 409 sentence: "message X is cancelled: it cannot be held".
func (s *Server) refusal(action, id string) string {
	why, ok := refusals[action]
	if !ok {
		why = "it does not allow this action"
	}
	m, err := s.spool.Get(id)
	if err != nil {
		return fmt.Sprintf("message %s: %s in its current state", id, why)
	}
	st := s.itemOf(m).State
	if action == "retry" && st == string(spool.StateHeld) {
		why = "it cannot be retried (release it first)"
	}
	return fmt.Sprintf("message %s is %s: %s", id, st, why)
}

// internalError logs err and answers 500 with a sentence that does not
// leak the spool's internals.
func (s *Server) internalError(w http.ResponseWriter, what string, err error) {
	s.log.Error("admin API: could not "+what, "err", err)
	writeError(w, http.StatusInternalServerError, "relayd could not "+what+": the spool failed; relayd's log has the cause")
}
