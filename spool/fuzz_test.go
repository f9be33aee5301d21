package spool

import (
	"bytes"
	"errors"
	"testing"
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
