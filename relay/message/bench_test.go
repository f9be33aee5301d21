package message

import (
	"bytes"
	"strings"
	"testing"
)

func benchMessage(size int) []byte {
	line := strings.Repeat("The quick brown fox jumps over the lazy dog. ", 2) + "\r\n"
	return []byte(sample + strings.Repeat(line, size/len(line)))
}

func BenchmarkRead5K(b *testing.B)    { benchRead(b, 5<<10) }
func BenchmarkRead100K(b *testing.B)  { benchRead(b, 100<<10) }
func BenchmarkParse5K(b *testing.B)   { benchParse(b, 5<<10) }
func BenchmarkParse100K(b *testing.B) { benchParse(b, 100<<10) }

func benchRead(b *testing.B, size int) {
	msg := benchMessage(size)
	b.SetBytes(int64(len(msg)))
	b.ReportAllocs()
	for b.Loop() {
		m, err := Read(bytes.NewReader(msg), Limits{})
		if err != nil {
			b.Fatal(err)
		}
		if _, err := m.FixLongLines(); err != nil {
			b.Fatal(err)
		}
		m.Prepend("Received", "from localhost by relay; Mon, 1 Jan 2024 00:00:00 +0000")
		_ = m.Bytes()
	}
}

// benchParse is relay's DATA fast path: the message is in a buffer with
// HeaderRoom in front (copied in as lineConn collects it), parsed in place
// and flattened there.
func benchParse(b *testing.B, size int) {
	msg := benchMessage(size)
	buf := make([]byte, HeaderRoom+len(msg))
	b.SetBytes(int64(len(msg)))
	b.ReportAllocs()
	for b.Loop() {
		copy(buf[HeaderRoom:], msg)
		m, err := Parse(buf, HeaderRoom, Limits{})
		if err != nil {
			b.Fatal(err)
		}
		if _, err := m.FixLongLines(); err != nil {
			b.Fatal(err)
		}
		m.Prepend("Received", "from localhost by relay; Mon, 1 Jan 2024 00:00:00 +0000")
		_ = m.Flatten()
	}
}
