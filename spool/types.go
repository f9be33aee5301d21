package spool

import (
	"errors"
	"time"
)

// State is the delivery state of one recipient (docs/admin-api.md, "A queue item").
type State string

// The recipient states. Sent, Bounced and Cancelled are final.
const (
	StateDelayed   State = "delayed"   // send_delay not over yet
	StateReady     State = "ready"     // due, waiting for a delivery slot
	StateSending   State = "sending"   // leased by a delivery attempt
	StateSent      State = "sent"      // accepted by the upstream (final)
	StateDeferred  State = "deferred"  // temporary failure, waits for NextAttempt
	StateBounced   State = "bounced"   // permanent failure or too old (final)
	StateHeld      State = "held"      // held by an admin; never due until released
	StateCancelled State = "cancelled" // deleted by an admin (final)
)

// Final reports whether s is a final state (kept only for journal_retention).
func (s State) Final() bool {
	return s == StateSent || s == StateBounced || s == StateCancelled
}

// Recipient is one envelope recipient of a message and its delivery state.
type Recipient struct {
	Address     string    `json:"address"` // validated envelope address, no angle brackets
	Profile     string    `json:"profile"` // profile chosen by policy
	Rule        string    `json:"rule"`    // the rule that chose it ("route #2", "system default", ...)
	State       State     `json:"state"`
	Attempts    int       `json:"attempts"`     // delivery attempts started so far
	NextAttempt time.Time `json:"next_attempt"` // when it is due (delayed/ready/deferred), lease expiry (sending)
	LastError   string    `json:"last_error,omitempty"`
	HeldFrom    State     `json:"held_from,omitempty"` // state to return to on release
	Updated     time.Time `json:"updated"`             // last state change
}

// Message is the envelope and per-recipient state of one accepted message.
// The body is stored separately (see Store.Body).
type Message struct {
	ID       string    `json:"id"`
	Created  time.Time `json:"created"`
	Sender   string    `json:"sender"` // envelope MAIL FROM; "" is the null sender <>
	Team     string    `json:"team"`
	Listener string    `json:"listener"`
	Size     int64     `json:"size"`               // body octets as stored
	UTF8     bool      `json:"utf8,omitempty"`     // SMTPUTF8 needed (non-ASCII addresses)
	EightBit bool      `json:"eightbit,omitempty"` // body has 8-bit octets
	Warned   bool      `json:"warned,omitempty"`   // "still trying" DSN sent
	DSN      bool      `json:"dsn,omitempty"`      // this message is itself a DSN relayd generated
	// From and Subject are the header fields as a person reads them
	// (decoded to UTF-8 at acceptance), so that a list of the queue never
	// reads bodies.
	From       string      `json:"from,omitempty"`
	Subject    string      `json:"subject,omitempty"`
	Recipients []Recipient `json:"recipients"`
}

// Sentinel errors; test with errors.Is.
var (
	ErrNotFound = errors.New("spool: message not found")
	ErrState    = errors.New("spool: the message's state does not allow this action")
	ErrNoSpace  = errors.New("spool: free disk space below the reserve")
	ErrClosed   = errors.New("spool: closed")
	// ErrCorrupt: a stored envelope cannot be decoded; it is skipped by Due
	// and List, and counted (Store.Corrupt, relayd_spool_corrupt_records_total).
	ErrCorrupt = errors.New("spool: corrupt record")
)
