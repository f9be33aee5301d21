package relay

import (
	"bytes"
	"testing"
)

// unstuffReference is the octet-at-a-time state machine of go-smtp's DATA
// reader, written out from its behaviour: the reference for unstuffer.
func unstuffReference(in []byte) (out []byte, consumed int, end bool) {
	const (
		begin = iota
		dot
		dotCR
		cr
		data
	)
	st := begin
	for i, c := range in {
		switch st {
		case begin:
			if c == '.' {
				st = dot
				continue
			}
			if c == '\r' {
				st = cr
			} else {
				st = data
			}
		case dot:
			if c == '\r' {
				st = dotCR
				continue
			}
			st = data
		case dotCR:
			if c == '\n' {
				return out, i + 1, true
			}
			st = data
		case cr:
			if c == '\n' {
				st = begin
			} else {
				st = data
			}
		case data:
			if c == '\r' {
				st = cr
			}
		}
		out = append(out, c)
	}
	return out, len(in), false
}

// unstuffSplit feeds in to an unstuffer in pieces of size step.
func unstuffSplit(in []byte, step int) ([]byte, int, bool) {
	var u unstuffer
	var out []byte
	total := 0
	for len(in) > 0 {
		piece := in[:min(step, len(in))]
		var n int
		var end bool
		out, n, end = u.feed(out, piece)
		total += n
		if end {
			return out, total, true
		}
		in = in[n:]
	}
	return out, total, false
}

func TestUnstuff(t *testing.T) {
	for _, tc := range []struct {
		in, out string
		n       int
		end     bool
	}{
		{".\r\n", "", 3, true},
		{"a\r\n.\r\nQUIT\r\n", "a\r\n", 6, true},
		{"..a\r\n.\r\n", ".a\r\n", 8, true},
		{"a\n.\r\n", "a\n.\r\n", 5, false},         // bare LF does not start a line
		{"a\r\r\n.\r\n", "a\r\r\n.\r\n", 7, false}, // nor does CR CR LF
		{".\rX\r\n", "X\r\n", 5, false},            // ".\r" at a line start is dropped
		{"a\r.\r\n", "a\r.\r\n", 5, false},
		{"x", "x", 1, false},
	} {
		out, n, end := unstuffSplit([]byte(tc.in), len(tc.in))
		if string(out) != tc.out || n != tc.n || end != tc.end {
			t.Errorf("feed(%q) = %q, %d, %v; want %q, %d, %v", tc.in, out, n, end, tc.out, tc.n, tc.end)
		}
	}
}

// FuzzUnstuff: unstuffer gives exactly the reference's octets, consumed
// count and end, however the input is split into reads.
func FuzzUnstuff(f *testing.F) {
	for _, s := range []string{".\r\n", "a\r\n..b\r\n.\r\nQUIT\r\n", "a\r\r\n.\r\n", ".\r.\r\n", "\n.\n.\r\n"} {
		f.Add([]byte(s), uint8(1))
		f.Add([]byte(s), uint8(3))
	}
	f.Fuzz(func(t *testing.T, in []byte, step uint8) {
		wantOut, wantN, wantEnd := unstuffReference(in)
		out, n, end := unstuffSplit(in, max(1, int(step)))
		if !bytes.Equal(out, wantOut) || n != wantN || end != wantEnd {
			t.Fatalf("in %q step %d: got %q %d %v, reference %q %d %v", in, step, out, n, end, wantOut, wantN, wantEnd)
		}
	})
}
