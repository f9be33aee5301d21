package upstream

import (
	"bufio"
	"bytes"
	"net/textproto"
	"testing"
)

// dotWriterReference is what net/textproto's DotWriter sends for body.
func dotWriterReference(body []byte) []byte {
	var out bytes.Buffer
	bw := bufio.NewWriter(&out)
	dw := textproto.NewWriter(bw).DotWriter()
	dw.Write(body)
	dw.Close()
	return out.Bytes()
}

func dotStuffed(body []byte) []byte {
	var out bytes.Buffer
	bw := bufio.NewWriter(&out)
	if err := writeDotStuffed(bw, body); err != nil {
		panic(err)
	}
	return out.Bytes()
}

func TestDotStuff(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"", ".\r\n"},
		{"a\r\n", "a\r\n.\r\n"},
		{"a", "a\r\n.\r\n"},
		{".\r\n", "..\r\n.\r\n"},
		{"a\r\n.b\r\n..\r\n", "a\r\n..b\r\n...\r\n.\r\n"},
		{"a\nb\n", "a\r\nb\r\n.\r\n"},
		{"\n.\n", "\r\n..\r\n.\r\n"},
		{"a\rb\r\n", "a\rb\r\n.\r\n"},
		{"a\r", "a\r\r\n.\r\n"},
		{".", "..\r\n.\r\n"},
	} {
		if got := dotStuffed([]byte(tc.in)); string(got) != tc.want {
			t.Errorf("writeDotStuffed(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

// FuzzDotStuff: for any body, the receiver's un-stuffing (dotUnstuff)
// gives back the body with CRLF line endings, the first line that is a
// lone "." is the last one sent, and for bodies without bare CR (every
// spooled body: relay normalises or refuses them) the octets are exactly
// what net/textproto's DotWriter sends.
func FuzzDotStuff(f *testing.F) {
	for _, s := range []string{"", "a\r\n", ".\r\n.", "a\nb\r.c\r\r\n..\n", "\r\n.\r\n", "x\r"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		got := dotStuffed(body)
		if dec, ok := dotUnstuff(got); !ok || !bytes.Equal(dec, crlfLines(body)) {
			t.Fatalf("body %q: sent %q, which the receiver reads as %q (complete %v)", body, got, dec, ok)
		}
		if len(body) > 0 && !bareCR(body) {
			if want := dotWriterReference(body); !bytes.Equal(got, want) {
				t.Fatalf("body %q: got %q, DotWriter sends %q", body, got, want)
			}
		}
	})
}

// dotUnstuff is the receiving side of RFC 5321 §4.5.2 on CRLF lines: it
// returns the message and whether the lone "." line ended the input.
func dotUnstuff(b []byte) ([]byte, bool) {
	var out []byte
	for len(b) > 0 {
		i := bytes.Index(b, []byte("\r\n"))
		if i < 0 {
			return out, false
		}
		line := b[:i]
		b = b[i+2:]
		if string(line) == "." {
			return out, len(b) == 0
		}
		line = bytes.TrimPrefix(line, []byte("."))
		out = append(append(out, line...), "\r\n"...)
	}
	return out, false
}

// crlfLines is body with every bare LF made CRLF and a final CRLF added
// when missing.
func crlfLines(body []byte) []byte {
	var out []byte
	for i, c := range body {
		if c == '\n' && (i == 0 || body[i-1] != '\r') {
			out = append(out, '\r')
		}
		out = append(out, c)
	}
	if len(out) > 0 && !bytes.HasSuffix(out, []byte("\r\n")) {
		out = append(out, "\r\n"...)
	}
	return out
}

func bareCR(b []byte) bool {
	for i, c := range b {
		if c == '\r' && (i+1 == len(b) || b[i+1] != '\n') {
			return true
		}
	}
	return false
}

func BenchmarkDotStuff(b *testing.B) {
	line := bytes.Repeat([]byte("x"), 76)
	var body []byte
	for len(body) < 100<<10 {
		body = append(append(body, line...), "\r\n"...)
	}
	bw := bufio.NewWriterSize(discard{}, 64<<10)
	b.Run("bulk", func(b *testing.B) {
		b.SetBytes(int64(len(body)))
		for b.Loop() {
			writeDotStuffed(bw, body)
		}
	})
	b.Run("textproto", func(b *testing.B) {
		b.SetBytes(int64(len(body)))
		for b.Loop() {
			dw := textproto.NewWriter(bw).DotWriter()
			dw.Write(body)
			dw.Close()
		}
	})
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }
