package message

import (
	"bytes"
	"errors"
	"runtime"
	"strings"
	"testing"
)

// parseAsRead fails unless Parse, given in after off octets of room, gives
// what Read gives for in: the same sentinel error, or the same message.
// It returns Parse's Message and buffer (nil on error).
func parseAsRead(t *testing.T, in []byte, off int, lim Limits) (*Message, []byte) {
	t.Helper()
	want, werr := Read(bytes.NewReader(in), lim)
	buf := append(make([]byte, off, off+len(in)), in...)
	got, gerr := Parse(buf, off, lim)
	if werr != nil || gerr != nil {
		if sentinel(werr) != sentinel(gerr) {
			t.Fatalf("Parse(%q): err %v, Read: %v", trunc(string(in)), gerr, werr)
		}
		return nil, nil
	}
	if !bytes.Equal(got.Bytes(), want.Bytes()) || !bytes.Equal(got.HeaderBytes(), want.HeaderBytes()) {
		t.Fatalf("Parse(%q) = %q, Read: %q", trunc(string(in)), trunc(string(got.Bytes())), trunc(string(want.Bytes())))
	}
	return got, buf
}

// sentinel is the Read sentinel err matches, or err itself.
func sentinel(err error) error {
	for _, e := range []error{ErrTooBig, ErrLineTooLong, ErrHeaderTooBig, ErrBareLF, ErrNUL, ErrMultipleFrom, ErrLoop} {
		if errors.Is(err, e) {
			return e
		}
	}
	return err
}

// sameStorage reports whether b ends where buf ends, in the same array.
func sameStorage(b, buf []byte) bool {
	return len(b) > 0 && len(buf) > 0 && &b[len(b)-1] == &buf[len(buf)-1]
}

// TestParseAsRead runs Read's cases through Parse, and the cases where
// only the chunks Read's bufio.Reader cuts decide which error comes first.
func TestParseAsRead(t *testing.T) {
	long := func(n int, c string) string { return strings.Repeat(c, n) }
	tests := []struct {
		name string
		in   string
		lim  Limits
	}{
		{"clean", sample, Limits{}},
		{"empty", "", Limits{}},
		{"no final newline", "A: 1\r\n\r\nx", Limits{}},
		{"bare LF after clean lines", "A: 1\r\n\r\nx\r\ny\nz\r\n", Limits{}},
		{"bare CR", "A: 1\r\n\r\nx\ry\r\n", Limits{RejectBareLF: true}},
		{"CR at end", "A: 1\r\n\r\nx\r", Limits{}},
		{"only LF", "\n", Limits{}},
		{"no header", "hello\r\nworld\r\n", Limits{}},
		{"header then text", "Subject: a\r\nnot a field\r\nmore\r\n", Limits{}},
		{"two From", "From: a@x\r\nFrom: b@x\r\n\r\nhi\r\n", Limits{}},
		{"header too big", "Subject: " + long(100, "a") + "\r\n\r\nx\r\n", Limits{MaxHeaderBytes: 100}},
		{"line at max", "S: a\r\n\r\n" + long(50, "x") + "\r\n", Limits{MaxLineLength: 50}},
		{"line over max", "S: a\r\n\r\n" + long(51, "x") + "\r\n", Limits{MaxLineLength: 50}},
		{"size at max", "S: a\r\n\r\n" + long(90, "x") + "\r\n", Limits{MaxSize: 100}},
		{"size one over", "S: a\r\n\r\n" + long(91, "x") + "\r\n", Limits{MaxSize: 100}},
		{"NUL, then too big", "S: a\r\n\r\nx\x00\r\n" + long(200, "y"), Limits{MaxSize: 100}},
		{"too big in the NUL's chunk", "S: a\r\n\r\nx\x00" + long(200, "y") + "\r\n", Limits{MaxSize: 100}},
		{"too big, then NUL", long(200, "y") + "\r\n\x00\r\n", Limits{MaxSize: 100}},
		{"NUL in a long line's second chunk", long(20000, "z") + "\x00\r\n", Limits{MaxLineLength: 17000}},
		{"too long before the NUL's chunk", long(40000, "z") + "\x00\r\n", Limits{MaxLineLength: 17000}},
		{"long clean line", long(70000, "z") + "\r\nend\r\n", Limits{MaxLineLength: -1}},
		{"bare LF in a long line's chunk", long(16383, "z") + "\n" + long(20000, "w") + "\r\n", Limits{RejectBareLF: true}},
		{"no limits", long(3<<20, "y"), Limits{MaxSize: -1, MaxLineLength: -1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, off := range []int{0, 7, HeaderRoom} {
				parseAsRead(t, []byte(tt.in), off, tt.lim)
			}
		})
	}
}

// TestParseZeroCopy: a message that needs no change is not copied.
func TestParseZeroCopy(t *testing.T) {
	buf := append(make([]byte, HeaderRoom), sample...)
	m, err := Parse(buf, HeaderRoom, Limits{})
	if err != nil {
		t.Fatal(err)
	}
	if !sameStorage(m.Body(), buf) {
		t.Error("Parse copied a clean message")
	}
	buf = append(make([]byte, HeaderRoom), sample+"bare\nLF\r\n"...)
	if m, err = Parse(buf, HeaderRoom, Limits{}); err != nil || sameStorage(m.Body(), buf) {
		t.Errorf("Parse kept a message it had to change: err %v", err)
	}
	// Nor is a message too big to accept, bare LFs or not.
	for _, line := range []string{"line\r\n", "line\n"} {
		buf = []byte(strings.Repeat(line, 1<<20))
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		_, err = Parse(buf, 0, Limits{MaxSize: 1 << 20})
		runtime.ReadMemStats(&after)
		if !errors.Is(err, ErrTooBig) || after.TotalAlloc-before.TotalAlloc > 1<<20 {
			t.Errorf("%q lines: err %v, %d octets allocated", line, err, after.TotalAlloc-before.TotalAlloc)
		}
	}
}

// TestFlatten: Flatten gives Bytes, in place when there is room, and the
// Message stays usable after it.
func TestFlatten(t *testing.T) {
	received := "from client.test ([127.0.0.1]) by relay.test (relayd) with ESMTP id 0123456789abcdef; " +
		"Tue, 24 Nov 2026 09:00:00 +0000"
	tests := []struct {
		name    string
		in      string
		off     int
		inPlace bool
	}{
		{"room", sample, HeaderRoom, true},
		{"no room", sample, 0, false},
		{"no empty line", "Subject: a\r\nnot a field\r\n", HeaderRoom, true},
		{"no header", "just text\r\n", HeaderRoom, true},
		{"empty body", "Subject: a\r\n\r\n", HeaderRoom, true},
		{"empty", "", HeaderRoom, true},
		{"normalised", "Subject: a\n\nx\ny\n", HeaderRoom, true},
		{"long line re-encoded", "Subject: a\r\n\r\n" + strings.Repeat("x", 1200) + "\r\n", HeaderRoom, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			buf := append(make([]byte, tt.off), tt.in...)
			m, err := Parse(buf, tt.off, Limits{})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := m.FixLongLines(); err != nil {
				t.Fatal(err)
			}
			m.Del("Bcc")
			m.Prepend("Received", received)
			m.Add("Message-ID", "<0123456789abcdef@relay.test>")
			want := m.Bytes()
			got := m.Flatten()
			if !bytes.Equal(got, want) {
				t.Fatalf("Flatten = %q, want %q", got, want)
			}
			if shared := sameStorage(got, m.buf); shared != tt.inPlace {
				t.Errorf("in place = %v, want %v", shared, tt.inPlace)
			}
			if !bytes.Equal(m.Bytes(), want) || m.Get("Received")[0] != received {
				t.Fatalf("Message changed by Flatten: %q", m.Bytes())
			}
			m.Set("Subject", "b")
			if got, want := m.Flatten(), m.Bytes(); !bytes.Equal(got, want) {
				t.Fatalf("second Flatten = %q, want %q", got, want)
			}
		})
	}
}

// TestFlattenAfterRead: Read leaves HeaderRoom for Flatten too.
func TestFlattenAfterRead(t *testing.T) {
	m := read(t, sample, Limits{})
	m.Prepend("Received", "from a by b; Tue, 24 Nov 2026 09:00:00 +0000")
	want := m.Bytes()
	if got := m.Flatten(); !bytes.Equal(got, want) || !sameStorage(got, m.buf) {
		t.Fatalf("Flatten = %q, want %q in place", got, want)
	}
}

func TestHasHighBit(t *testing.T) {
	for n := range 70 {
		b := bytes.Repeat([]byte("a"), n)
		if hasHighBit(b) {
			t.Fatalf("%d ASCII octets: high bit", n)
		}
		for i := range n {
			b[i] = 0x80
			if !hasHighBit(b) {
				t.Fatalf("0x80 at %d of %d not seen", i, n)
			}
			b[i] = 'a'
		}
	}
}
