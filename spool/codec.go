package spool

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"time"
)

// Envelopes are stored as JSON (the struct tags of types.go): it is
// self-describing, tolerates added fields in both directions across
// upgrades, and at a few hundred bytes per message its cost is small next to
// the fsync. decodeMessage validates what the store relies on, so that a
// damaged record is reported as ErrCorrupt instead of misbehaving later.

// encodeMessage returns the stored form of m.
func encodeMessage(m *Message) ([]byte, error) {
	return json.Marshal(m)
}

// decodeMessage parses and validates a stored envelope. It never panics;
// any problem is reported as an error wrapping ErrCorrupt.
func decodeMessage(b []byte) (*Message, error) {
	var m Message
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrCorrupt, err)
	}
	if err := validateMessage(&m); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrCorrupt, err)
	}
	return &m, nil
}

// validateMessage checks the invariants the store relies on: a valid ID, at
// least one recipient, known states.
func validateMessage(m *Message) error {
	if err := checkID(m.ID); err != nil {
		return err
	}
	if len(m.Recipients) == 0 {
		return errors.New("no recipients")
	}
	for i, r := range m.Recipients {
		if stateBit(r.State) == 0 {
			return fmt.Errorf("recipient %d: unknown state %q", i, r.State)
		}
		if r.HeldFrom != "" && stateBit(r.HeldFrom) == 0 {
			return fmt.Errorf("recipient %d: unknown held_from state %q", i, r.HeldFrom)
		}
	}
	return nil
}

// cloneMessage returns a deep copy of m.
func cloneMessage(m *Message) *Message {
	c := *m
	c.Recipients = slices.Clone(m.Recipients)
	return &c
}

// allStates lists the states in the order of their bit in a stateMask.
var allStates = [...]State{StateDelayed, StateReady, StateSending, StateSent,
	StateDeferred, StateBounced, StateHeld, StateCancelled}

// stateMask has bit i set when a message has a recipient in allStates[i].
type stateMask uint8

// stateBit returns the mask bit of s, 0 for an unknown state.
func stateBit(s State) stateMask {
	for i, a := range allStates {
		if a == s {
			return 1 << i
		}
	}
	return 0
}

// noDue marks a message that has no schedulable recipient.
const noDue = math.MaxInt64

// summary is what the indexes need to know about a message.
type summary struct {
	mask    stateMask
	active  bool  // some recipient is not final
	due     int64 // earliest NextAttempt of a schedulable recipient, unix nanos; noDue if none
	created int64 // unix nanos
	updated int64 // latest recipient Updated (Created if none), unix nanos
}

// summarize computes the index summary of m. Recipients in delayed, ready
// and deferred are due at NextAttempt; one in sending is due again when its
// lease (NextAttempt) expires. Held and final recipients are never due.
func summarize(m *Message) summary {
	s := summary{due: noDue, created: nanos(m.Created), updated: nanos(m.Created)}
	for _, r := range m.Recipients {
		s.mask |= stateBit(r.State)
		if !r.State.Final() {
			s.active = true
		}
		switch r.State {
		case StateDelayed, StateReady, StateDeferred, StateSending:
			s.due = min(s.due, nanos(r.NextAttempt))
		}
		if u := nanos(r.Updated); u > s.updated {
			s.updated = u
		}
	}
	return s
}

// dueTime converts an index time back to a time.Time.
func dueTime(n int64) time.Time { return time.Unix(0, n) }
