package spool

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"time"
)

// Envelopes are stored in a compact binary form (envelopeV2, below): the
// scheduler, every lease and every result read and rewrite one, and Open
// decodes every queued one, so JSON's cost showed (5 % of the CPU per
// message, 60 % of Open with 100,000 queued). Spools written by earlier
// versions hold JSON envelopes; decodeMessage still reads those (a JSON
// envelope starts with '{'), and they are rewritten in the binary form at
// their next change. decodeMessage validates what the store relies on, so
// that a damaged record is reported as ErrCorrupt instead of misbehaving
// later. A later format gets the next version octet; a version this code
// does not know is ErrCorrupt (a downgrade cannot read newer spools).

// envelopeV1 is the first octet of a binary envelope. The rest, in order:
// id, created, sender, team, listener (strings and times as putString and
// putTime write them), size (varint), flags (uvarint: utf8 1, eightbit 2,
// warned 4, dsn 8), the recipient count (uvarint) and each recipient:
// address, profile, rule, state (stateCode), attempts (varint),
// next_attempt, last_error, held_from (stateCode, 0 for none), updated.
const envelopeV1 = 0x01

// envelopeV2 is what encodeMessage writes: envelopeV1's layout followed by
// the header fields from and subject (strings). V1 envelopes of earlier
// versions are still read (From and Subject empty).
const envelopeV2 = 0x02

// encodeMessage returns the stored form of m.
func encodeMessage(m *Message) ([]byte, error) {
	b := make([]byte, 0, 128+96*len(m.Recipients))
	b = append(b, envelopeV2)
	b = putString(b, m.ID)
	b = putTime(b, m.Created)
	b = putString(b, m.Sender)
	b = putString(b, m.Team)
	b = putString(b, m.Listener)
	b = binary.AppendVarint(b, m.Size)
	var flags uint64
	for i, f := range []bool{m.UTF8, m.EightBit, m.Warned, m.DSN} {
		if f {
			flags |= 1 << i
		}
	}
	b = binary.AppendUvarint(b, flags)
	b = binary.AppendUvarint(b, uint64(len(m.Recipients)))
	for i := range m.Recipients {
		r := &m.Recipients[i]
		st, held := stateCode(r.State), stateCode(r.HeldFrom)
		if st == 0 || (held == 0 && r.HeldFrom != "") {
			return nil, fmt.Errorf("recipient %d: unknown state %q / %q", i, r.State, r.HeldFrom)
		}
		b = putString(b, r.Address)
		b = putString(b, r.Profile)
		b = putString(b, r.Rule)
		b = append(b, st)
		b = binary.AppendVarint(b, int64(r.Attempts))
		b = putTime(b, r.NextAttempt)
		b = putString(b, r.LastError)
		b = append(b, held)
		b = putTime(b, r.Updated)
	}
	b = putString(b, m.From)
	b = putString(b, m.Subject)
	return b, nil
}

// decodeMessage parses and validates a stored envelope. It never panics;
// any problem is reported as an error wrapping ErrCorrupt.
func decodeMessage(b []byte) (*Message, error) {
	var m *Message
	var err error
	switch {
	case len(b) > 0 && (b[0] == envelopeV1 || b[0] == envelopeV2):
		m, err = decodeBinary(b[1:], b[0])
	case len(b) > 0 && b[0] == '{':
		m = new(Message)
		err = json.Unmarshal(b, m)
	default:
		err = errors.New("unknown envelope format")
	}
	if err == nil {
		err = validateMessage(m)
	}
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrCorrupt, err)
	}
	return m, nil
}

// decodeBinary decodes a binary envelope after its version octet.
func decodeBinary(b []byte, version byte) (*Message, error) {
	d := decoder{b: b}
	m := &Message{ID: d.string(), Created: d.time(), Sender: d.string(), Team: d.string(),
		Listener: d.string(), Size: d.varint()}
	flags := d.uvarint()
	m.UTF8, m.EightBit, m.Warned, m.DSN = flags&1 != 0, flags&2 != 0, flags&4 != 0, flags&8 != 0
	n := d.uvarint()
	if n > uint64(len(d.b)) { // every recipient takes several octets
		return nil, errors.New("recipient count beyond the record")
	}
	m.Recipients = make([]Recipient, 0, n)
	for range n {
		r := Recipient{Address: d.string(), Profile: d.string(), Rule: d.string(), State: d.state(),
			Attempts: int(d.varint()), NextAttempt: d.time(), LastError: d.string(), HeldFrom: d.state(),
			Updated: d.time()}
		if d.err != nil {
			break
		}
		m.Recipients = append(m.Recipients, r)
	}
	if version >= envelopeV2 {
		m.From, m.Subject = d.string(), d.string()
	}
	if d.err == nil && len(d.b) > 0 {
		d.err = errors.New("trailing octets")
	}
	return m, d.err
}

// stateCode is the octet a state is stored as: 1 + its index in allStates,
// 0 for the empty state (held_from of a recipient that is not held) or an
// unknown one.
func stateCode(s State) byte {
	for i, a := range allStates {
		if a == s {
			return byte(i + 1)
		}
	}
	return 0
}

func putString(b []byte, s string) []byte {
	return append(binary.AppendUvarint(b, uint64(len(s))), s...)
}

// putTime stores t as seconds and nanoseconds since the Unix epoch (the
// zero time included); the location is not kept: decoded times are UTC.
func putTime(b []byte, t time.Time) []byte {
	return binary.AppendUvarint(binary.AppendVarint(b, t.Unix()), uint64(t.Nanosecond()))
}

// decoder reads a binary envelope; the first problem sticks in err and
// every later read returns zero values.
type decoder struct {
	b   []byte
	err error
}

func (d *decoder) fail(what string) {
	if d.err == nil {
		d.err = errors.New("truncated or malformed " + what)
	}
	d.b = nil
}

func (d *decoder) uvarint() uint64 {
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.fail("number")
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) varint() int64 {
	v, n := binary.Varint(d.b)
	if n <= 0 {
		d.fail("number")
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) string() string {
	n := d.uvarint()
	if n > uint64(len(d.b)) {
		d.fail("string")
		return ""
	}
	s := string(d.b[:n])
	d.b = d.b[n:]
	return s
}

func (d *decoder) time() time.Time {
	sec, nsec := d.varint(), d.uvarint()
	if nsec >= 1e9 {
		d.fail("time")
		return time.Time{}
	}
	return time.Unix(sec, int64(nsec)).UTC()
}

func (d *decoder) state() State {
	if len(d.b) == 0 {
		d.fail("state")
		return ""
	}
	c := d.b[0]
	d.b = d.b[1:]
	if c == 0 {
		return ""
	}
	if int(c) > len(allStates) {
		d.fail("state")
		return ""
	}
	return allStates[c-1]
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
