package smtpwire

import (
	"bytes"
	"strings"
	"testing"

	"github.com/relayd/relayd/relay/smtpwire/wiretest"
)

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
		{"a\n.\r\n", "a\n.\r\n", 5, false},    // "." after a bare LF is not the end, and is kept
		{"a\n..b\n", "a\n.b\n", 6, false},     // a line after a bare LF is un-stuffed too
		{"a\r\r\n.\r\nX", "a\r\r\n", 7, true}, // CR CR LF: the second CR and the LF end a line
		{".\rX\r\n", ".\rX\r\n", 5, false},    // "." ended by a bare CR is kept
		{"body\r\n.\r\r\n.\r\nNOOP\r\n", "body\r\n.\r\r\n", 13, true},
		{"a\r.\r\n", "a\r.\r\n", 5, false},
		{".\n", ".\n", 2, false},
		{"x", "x", 1, false},
		{".", "", 1, false}, // held until the next octet
		{".\r", "", 2, false},
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
	for _, s := range []string{".\r\n", "a\r\n..b\r\n.\r\nQUIT\r\n", "a\r\r\n.\r\n", ".\r.\r\n", "\n.\n.\r\n",
		"body\r\n.\r\r\n.\r\nNOOP\r\n", "body\r\n.\rX\r\n.\r\n", "\r\n.\n..\r.\r\r\n.\r\n"} {
		f.Add([]byte(s), uint8(1))
		f.Add([]byte(s), uint8(3))
	}
	f.Fuzz(func(t *testing.T, in []byte, step uint8) {
		wantOut, wantN, wantEnd := wiretest.UnstuffReference(in)
		out, n, end := unstuffSplit(in, max(1, int(step)))
		if !bytes.Equal(out, wantOut) || n != wantN || end != wantEnd {
			t.Fatalf("in %q step %d: got %q %d %v, reference %q %d %v", in, step, out, n, end, wantOut, wantN, wantEnd)
		}
	})
}

// BenchmarkUnstuff: a 100 KiB message of ordinary lines (every seventh
// dot-stuffed), fed in 16 KiB reads as the DATA fast path does.
func BenchmarkUnstuff(b *testing.B) {
	in := []byte(strings.ReplaceAll(wiretest.Lines(100<<10), "\r\n.", "\r\n..") + ".\r\n")
	out := make([]byte, 0, len(in))
	b.SetBytes(int64(len(in)))
	b.ReportAllocs()
	for b.Loop() {
		var u unstuffer
		out = out[:0]
		for rest := in; len(rest) > 0; {
			var n int
			var end bool
			out, n, end = u.feed(out, rest[:min(len(rest), 16<<10)])
			rest = rest[n:]
			if end {
				break
			}
		}
	}
}
