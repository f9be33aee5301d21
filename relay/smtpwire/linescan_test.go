package smtpwire

import "testing"

// scanReference is the octet-at-a-time rule lineScan implements.
func scanReference(s *lineScan, b []byte, limit int64) int {
	for i, ch := range b {
		if (ch == '\n' && !s.prevCR) || (s.prevCR && ch != '\n') {
			s.bareEOL = true
		}
		s.prevCR = ch == '\r'
		if ch == '\n' {
			s.lineLen = 0
			continue
		}
		if s.lineLen++; limit > 0 && s.lineLen > limit {
			return i
		}
	}
	return len(b)
}

func TestLineScan(t *testing.T) {
	for _, tc := range []struct {
		in    string
		limit int64
		n     int
		bare  bool
	}{
		{"ab\r\ncd\r\n", 0, 8, false},
		{"ab\ncd\r\n", 0, 7, true},
		{"ab\rcd\r\n", 0, 7, true},
		{"abcd\r\n", 5, 6, false}, // 4 octets + CR = 5: within
		{"abcde\r\n", 5, 5, false},
		{"abcdefgh", 3, 3, false},
		{"\r\r\n", 0, 3, true},
	} {
		var s lineScan
		if n := s.scan([]byte(tc.in), tc.limit); n != tc.n || s.bareEOL != tc.bare {
			t.Errorf("scan(%q, %d) = %d, bare %v; want %d, %v", tc.in, tc.limit, n, s.bareEOL, tc.n, tc.bare)
		}
	}
}

// FuzzLineScan: lineScan and the octet-at-a-time rule agree on the count,
// the line length and both flags, from any state and for any split.
func FuzzLineScan(f *testing.F) {
	f.Add([]byte("ab\r\ncd\n\r\rx\r"), uint8(3), uint8(0), uint8(5))
	f.Add([]byte("\r\n.\r\n"), uint8(0), uint8(1), uint8(2))
	f.Fuzz(func(t *testing.T, b []byte, limit, state, step uint8) {
		start := lineScan{lineLen: int64(state >> 2), prevCR: state&1 != 0, bareEOL: state&2 != 0}
		got, want := start, start
		for rest := b; len(rest) > 0; {
			piece := rest[:min(len(rest), max(1, int(step)))]
			n, m := got.scan(piece, int64(limit)), scanReference(&want, piece, int64(limit))
			if n != m || got != want {
				t.Fatalf("%q from %+v, limit %d, piece %q: scan %d %+v, reference %d %+v",
					b, start, limit, piece, n, got, m, want)
			}
			if n < len(piece) {
				break
			}
			rest = rest[len(piece):]
		}
	})
}

func BenchmarkLineScan(b *testing.B) {
	var body []byte
	for len(body) < 100<<10 {
		body = append(body, "0123456789012345678901234567890123456789012345678901234567890123456789012345\r\n"...)
	}
	b.Run("lines", func(b *testing.B) {
		b.SetBytes(int64(len(body)))
		for b.Loop() {
			var s lineScan
			s.scan(body, 1<<20)
		}
	})
	b.Run("octets", func(b *testing.B) {
		b.SetBytes(int64(len(body)))
		for b.Loop() {
			var s lineScan
			scanReference(&s, body, 1<<20)
		}
	})
}
