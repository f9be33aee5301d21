package message

import (
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"
)

func TestReadSentinels(t *testing.T) {
	received := strings.Repeat("Received: from x by y; Mon, 1 Jan 2024 00:00:00 +0000\r\n", 101)
	tests := []struct {
		name string
		in   string
		lim  Limits
		want error
	}{
		{"nul in body", "Subject: a\r\n\r\nx\x00y\r\n", Limits{}, ErrNUL},
		{"nul in header", "Sub\x00ject: a\r\n\r\nx\r\n", Limits{}, ErrNUL},
		{"two From", "From: a@x\r\nFrom: b@x\r\n\r\nhi\r\n", Limits{}, ErrMultipleFrom},
		{"two from any case", "from: a@x\r\nFROM: b@x\r\n\r\nhi\r\n", Limits{}, ErrMultipleFrom},
		{"101 Received", received + "\r\nhi\r\n", Limits{}, ErrLoop},
		{"100 Received ok", received[len(received)/101:] + "\r\nhi\r\n", Limits{}, nil},
		{"3 Received, limit 2", received[:3*len(received)/101] + "\r\n", Limits{MaxReceived: 2}, ErrLoop},
		{"header over limit", "Subject: " + strings.Repeat("a", 100) + "\r\n\r\nx\r\n", Limits{MaxHeaderBytes: 100}, ErrHeaderTooBig},
		{"header at limit", "Subject: " + strings.Repeat("a", 87) + "\r\n\r\nx\r\n", Limits{MaxHeaderBytes: 100}, nil},
		{"line over max", "S: a\r\n\r\n" + strings.Repeat("x", 51) + "\r\n", Limits{MaxLineLength: 50}, ErrLineTooLong},
		{"line at max", "S: a\r\n\r\n" + strings.Repeat("x", 50) + "\r\n", Limits{MaxLineLength: 50}, nil},
		{"header line over max", "S: " + strings.Repeat("x", 48) + "\r\n\r\n", Limits{MaxLineLength: 50}, ErrLineTooLong},
		{"last line over max", "S: a\r\n\r\n" + strings.Repeat("x", 51), Limits{MaxLineLength: 50}, ErrLineTooLong},
		{"size exactly at max", "S: a\r\n\r\n" + strings.Repeat("x", 92), Limits{MaxSize: 100}, nil},
		{"size one over", "S: a\r\n\r\n" + strings.Repeat("x", 93), Limits{MaxSize: 100}, ErrTooBig},
		{"size counts bare LF as received", "S: a\n\n" + strings.Repeat("x", 94), Limits{MaxSize: 100}, nil},
		{"bare LF rejected", "S: a\r\n\r\nx\ny\r\n", Limits{RejectBareLF: true}, ErrBareLF},
		{"bare CR rejected", "S: a\r\n\r\nx\ry\r\n", Limits{RejectBareLF: true}, ErrBareLF},
		{"no limits", strings.Repeat("y", 3<<20), Limits{MaxSize: -1, MaxLineLength: -1}, nil},
		{"default line limit", strings.Repeat("y", 1<<20+1), Limits{}, ErrLineTooLong},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := Read(strings.NewReader(tt.in), tt.lim)
			if !errors.Is(err, tt.want) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
			if err == nil {
				checkCRLF(t, m.Bytes())
			}
		})
	}
}

// TestReadLineEndings puts bare LF and bare CR everywhere SMTP smuggling
// tries them (go-smtp has already removed the dot-stuffing).
func TestReadLineEndings(t *testing.T) {
	tests := []struct{ name, in, body string }{
		{"crlf only", "A: 1\r\n\r\nx\r\n", "x\r\n"},
		{"lf at start", "\nA: 1\r\n", "A: 1\r\n"},
		{"cr at start", "\rA: 1\r\n", "A: 1\r\n"},
		{"lf header", "A: 1\nB: 2\n\nx\n", "x\r\n"},
		{"cr header", "A: 1\rB: 2\r\rx\r", "x\r\n"},
		{"lf middle", "A: 1\r\n\r\nx\ny\r\n", "x\r\ny\r\n"},
		{"cr middle", "A: 1\r\n\r\nx\ry\r\n", "x\r\ny\r\n"},
		{"lf dot lf", "A: 1\r\n\r\nx\n.\nMAIL FROM:<e@x>\r\n", "x\r\n.\r\nMAIL FROM:<e@x>\r\n"},
		{"crlf dot lf", "A: 1\r\n\r\nx\r\n.\nRCPT TO:<v@x>\r\n", "x\r\n.\r\nRCPT TO:<v@x>\r\n"},
		{"lf dot crlf", "A: 1\r\n\r\nx\n.\r\nDATA\r\n", "x\r\n.\r\nDATA\r\n"},
		{"cr dot cr", "A: 1\r\n\r\nx\r.\rQUIT\r\n", "x\r\n.\r\nQUIT\r\n"},
		{"dot before lf", "A: 1\r\n\r\nx.\ny\r\n", "x.\r\ny\r\n"},
		{"dot after cr", "A: 1\r\n\r\nx\r.y\r\n", "x\r\n.y\r\n"},
		{"cr cr lf", "A: 1\r\n\r\nx\r\r\ny\r\n", "x\r\n\r\ny\r\n"},
		{"lf cr", "A: 1\r\n\r\nx\n\ry\r\n", "x\r\n\r\ny\r\n"},
		{"lf at end", "A: 1\r\n\r\nx\n", "x\r\n"},
		{"cr at end", "A: 1\r\n\r\nx\r", "x\r\n"},
		{"no final newline", "A: 1\r\n\r\nx", "x\r\n"},
		{"only lf", "\n", ""},
		{"only cr", "\r", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := read(t, tt.in, Limits{})
			out := m.Bytes()
			checkCRLF(t, out)
			if got := string(m.Body()); got != tt.body {
				t.Errorf("body = %q, want %q", got, tt.body)
			}
			if int64(len(out)) != m.Size() {
				t.Errorf("Size() = %d, len(Bytes()) = %d", m.Size(), len(out))
			}
			_, err := Read(strings.NewReader(tt.in), Limits{RejectBareLF: true})
			bare := strings.ReplaceAll(tt.in, "\r\n", "") != strings.NewReplacer("\r", "", "\n", "").Replace(strings.ReplaceAll(tt.in, "\r\n", ""))
			if bare && !errors.Is(err, ErrBareLF) {
				t.Errorf("RejectBareLF: err = %v, want ErrBareLF", err)
			}
			if !bare && err != nil {
				t.Errorf("RejectBareLF: err = %v, want nil", err)
			}
		})
	}
}

// TestReadSmallChunks feeds octet by octet so a CRLF pair is split across
// reads, and through a line longer than bufio's buffer.
func TestReadSmallChunks(t *testing.T) {
	in := "A: 1\r\n\r\nx\r\n" + strings.Repeat("y", 70000) + "\r\nz\r"
	m, err := Read(iotest.OneByteReader(strings.NewReader(in)), Limits{RejectBareLF: false})
	if err != nil {
		t.Fatal(err)
	}
	want := "x\r\n" + strings.Repeat("y", 70000) + "\r\nz\r\n"
	if string(m.Body()) != want {
		t.Errorf("body differs")
	}
	_, err = Read(iotest.OneByteReader(strings.NewReader("A: 1\r\n\r\nx\r\ny\r\n")), Limits{RejectBareLF: true})
	if err != nil {
		t.Errorf("CRLF split across reads: %v", err)
	}
}

func TestReadNoHeader(t *testing.T) {
	tests := []struct{ name, in, header, body string }{
		{"plain text", "hello world\r\nbye\r\n", "\r\n", "hello world\r\nbye\r\n"},
		{"empty", "", "\r\n", ""},
		{"starts empty", "\r\nbody\r\n", "\r\n", "body\r\n"},
		{"starts with space", " x: y\r\n", "\r\n", " x: y\r\n"},
		{"header then text", "Subject: a\r\nnot a field\r\nmore\r\n", "Subject: a\r\n\r\n", "not a field\r\nmore\r\n"},
		{"header only", "Subject: a\r\n", "Subject: a\r\n\r\n", ""},
		{"obs colon", "Subject : a\r\n\r\nb\r\n", "Subject : a\r\n\r\n", "b\r\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := read(t, tt.in, Limits{})
			if got := string(m.HeaderBytes()); got != tt.header {
				t.Errorf("header = %q, want %q", got, tt.header)
			}
			if got := string(m.Body()); got != tt.body {
				t.Errorf("body = %q, want %q", got, tt.body)
			}
			checkCRLF(t, m.Bytes())
		})
	}
}

var errBoom = errors.New("boom")

func TestReadReaderErrors(t *testing.T) {
	r := io.MultiReader(strings.NewReader("A: 1\r\n\r\nx"), iotest.ErrReader(errBoom))
	if _, err := Read(r, Limits{}); !errors.Is(err, errBoom) {
		t.Errorf("err = %v, want wrapped errBoom", err)
	}
	r = iotest.TimeoutReader(strings.NewReader("A: 1\r\n\r\nx"))
	if _, err := Read(iotest.OneByteReader(r), Limits{}); !errors.Is(err, iotest.ErrTimeout) {
		t.Errorf("err = %v, want wrapped ErrTimeout", err)
	}
}

// TestReadStopsEarly checks that an over-size message is not read to the
// end: go-smtp discards the rest itself.
func TestReadStopsEarly(t *testing.T) {
	r := strings.NewReader(strings.Repeat("x\r\n", 1<<20))
	if _, err := Read(r, Limits{MaxSize: 1000}); !errors.Is(err, ErrTooBig) {
		t.Fatalf("err = %v", err)
	}
	if r.Len() == 0 {
		t.Error("reader was drained")
	}
}
