package spool

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"testing"
	"time"
)

// FuzzDecodeMessage checks that the envelope decoder never panics, reports
// every failure as ErrCorrupt, and that what it accepts survives a
// re-encoding unchanged.
func FuzzDecodeMessage(f *testing.F) {
	m := newMsg(StateDeferred, newClock().Now(), "a@example.org", "b@example.org")
	m.Recipients[1].State, m.Recipients[1].HeldFrom = StateHeld, StateSending
	good, err := encodeMessage(m)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(good)
	f.Add([]byte(`{"id":"A","recipients":[{"state":"sent"}]}`))
	f.Add([]byte(`{"id":"A","recipients":[]}`))
	f.Add([]byte("\x00\xff"))
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := decodeMessage(data)
		if err != nil {
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("error %v does not wrap ErrCorrupt", err)
			}
			return
		}
		enc, err := encodeMessage(m)
		if err != nil {
			t.Fatalf("encode after decode: %v", err)
		}
		m2, err := decodeMessage(enc)
		if err != nil {
			t.Fatalf("decode of re-encoded %q: %v", enc, err)
		}
		enc2, _ := encodeMessage(m2)
		if !bytes.Equal(enc, enc2) {
			t.Fatalf("round trip changed %q to %q", enc, enc2)
		}
		summarize(m) // must not panic on anything the decoder accepts
	})
}

// TestEnvelopeCodec: every field survives the binary form (times as
// instants, in UTC), and envelopes that earlier versions stored as JSON
// still decode to the same message.
func TestEnvelopeCodec(t *testing.T) {
	at := time.Date(2026, 3, 1, 12, 0, 0, 123456789, time.FixedZone("CET", 3600))
	m := &Message{ID: NewID(), Created: at, Sender: "app@example.com", Team: "sales", Listener: "submission",
		Size: 5120, UTF8: true, EightBit: true, Warned: true, DSN: true,
		From: "Jörg Müller <joerg@example.com>", Subject: "Angebot für März",
		Recipients: []Recipient{
			{Address: "a@example.org", Profile: "gmail", Rule: "route #2", State: StateDeferred, Attempts: 3,
				NextAttempt: at.Add(time.Minute), LastError: "451 4.7.0 try later", Updated: at},
			{Address: "b@example.org", Profile: "o365", Rule: "system default", State: StateHeld,
				HeldFrom: StateSending, Updated: at},
			{Address: "c@example.org", State: StateSent}, // zero times
		}}
	enc, err := encodeMessage(m)
	if err != nil {
		t.Fatal(err)
	}
	legacy, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	for name, b := range map[string][]byte{"binary": enc, "json": legacy} {
		got, err := decodeMessage(b)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if !sameMessage(got, m) {
			t.Errorf("%s: decoded %+v, want %+v", name, got, m)
		}
	}
	if len(enc) >= len(legacy)/2 {
		t.Errorf("binary envelope %d octets, JSON %d", len(enc), len(legacy))
	}
	if _, err := decodeMessage(append([]byte{0x03}, enc[1:]...)); !errors.Is(err, ErrCorrupt) {
		t.Errorf("unknown version: %v, want ErrCorrupt", err)
	}
}

// v1Envelope is an envelope as the version before from/subject wrote it
// (encodeMessage of that version, printed in hex).
const v1Envelope = "0111303132333435363738394142434445464780a9a19a0d959aef3a0f617070406578616d706c652e636f6d0573616c65730a7375626d697373696f6e805002010d61406578616d706c652e6f726705676d61696c08726f7574652023320506f8a9a19a0d959aef3a1334353120342e372e3020747279206c617465720080a9a19a0d959aef3a"

// TestEnvelopeV1StillReads: a spool written before envelopes carried from
// and subject still reads (both empty), and is rewritten with them.
func TestEnvelopeV1StillReads(t *testing.T) {
	b, err := hex.DecodeString(v1Envelope)
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 3, 1, 12, 0, 0, 123456789, time.UTC)
	want := &Message{ID: "0123456789ABCDEFG", Created: at, Sender: "app@example.com", Team: "sales", Listener: "submission",
		Size: 5120, EightBit: true,
		Recipients: []Recipient{{Address: "a@example.org", Profile: "gmail", Rule: "route #2", State: StateDeferred, Attempts: 3,
			NextAttempt: at.Add(time.Minute), LastError: "451 4.7.0 try later", Updated: at}}}
	got, err := decodeMessage(b)
	if err != nil {
		t.Fatal(err)
	}
	if !sameMessage(got, want) {
		t.Fatalf("decoded %+v, want %+v", got, want)
	}
	got.Subject = "now with a subject"
	enc, err := encodeMessage(got)
	if err != nil {
		t.Fatal(err)
	}
	if again, err := decodeMessage(enc); err != nil || enc[0] != envelopeV2 || again.Subject != got.Subject {
		t.Fatalf("rewritten: %+v %v", again, err)
	}
}

// sameMessage compares messages with times as instants.
func sameMessage(a, b *Message) bool {
	if a.ID != b.ID || !a.Created.Equal(b.Created) || a.Sender != b.Sender || a.Team != b.Team ||
		a.Listener != b.Listener || a.Size != b.Size || a.UTF8 != b.UTF8 || a.EightBit != b.EightBit ||
		a.Warned != b.Warned || a.DSN != b.DSN || a.From != b.From || a.Subject != b.Subject ||
		len(a.Recipients) != len(b.Recipients) {
		return false
	}
	for i, x := range a.Recipients {
		y := b.Recipients[i]
		if x.Address != y.Address || x.Profile != y.Profile || x.Rule != y.Rule || x.State != y.State ||
			x.Attempts != y.Attempts || !x.NextAttempt.Equal(y.NextAttempt) || x.LastError != y.LastError ||
			x.HeldFrom != y.HeldFrom || !x.Updated.Equal(y.Updated) {
			return false
		}
	}
	return true
}
