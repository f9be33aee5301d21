package sendmail

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

// FuzzParseArgs: any command line (arguments separated by NUL) parses or
// is a one-line usage error; never a panic, never an empty recipient.
func FuzzParseArgs(f *testing.F) {
	for _, seed := range []string{
		"-t\x00-i", "-FCronDaemon\x00-i\x00-odi\x00-oem\x00-oi\x00-t\x00-f\x00root",
		"-bs", "-bp", "-f", "-X\x00a@x", "--\x00-a@x", "-config\x00/x", "a@x, B <b@y>", "-ti\x00-r<a@x>",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, line string) {
		o, err := ParseArgs(strings.Split(line, "\x00"))
		if err != nil {
			var se *Error
			if !errors.As(err, &se) || se.Code != ExitUsage || strings.ContainsAny(se.Msg, "\r\n") {
				t.Fatalf("error %#v: want a one-line usage error", err)
			}
			return
		}
		for _, r := range o.Recipients {
			if strings.TrimSpace(r) == "" {
				t.Fatalf("empty recipient from %q", line)
			}
		}
	})
}

// FuzzScanHeader: -t extraction. Removing Bcc: only ever removes octets of
// the header section, the result has no Bcc: left (scanning it again
// removes nothing), and its recipients are those found before minus Bcc's.
func FuzzScanHeader(f *testing.F) {
	for _, seed := range []string{
		"To: a@x\r\nCc: b@y\r\nBcc: c@z\r\n\r\nbody\r\n",
		"From: App <app@x>\r\nTo: a@x,\r\n B <b@y>\r\nBcc: h@x,\r\n\tother@h\r\nSubject: s\r\n\r\nBcc: body@x\r\n",
		"To: \"Doe, John\" <j@x>, undisclosed-recipients:;\r\n\r\n",
		"no header\r\nTo: a@x\r\n", " folded\r\n", "Bcc: a@x", "bcc:\r\n\r\n", "To: =?utf-8?q?J=C3=B6rg?= <jo@x>\r\n\r\n",
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, msg []byte) {
		h, out := ScanHeader(msg, true)
		if len(out) > len(msg) {
			t.Fatalf("output longer than input")
		}
		h2, again := ScanHeader(out, true)
		if !bytes.Equal(again, out) {
			t.Fatalf("a Bcc: field survived:\n%q\n%q", out, again)
		}
		if len(h2.Recipients) > len(h.Recipients) || h2.HasFrom != h.HasFrom {
			t.Fatalf("recipients after removal %q not a subset of %q", h2.Recipients, h.Recipients)
		}
		if _, same := ScanHeader(msg, false); !bytes.Equal(same, msg) {
			t.Fatal("without removeBcc the message changed")
		}
	})
}

// FuzzReadMessage: whatever standard input holds, the message has CRLF
// line endings only (no bare LF) and ends with CRLF.
func FuzzReadMessage(f *testing.F) {
	for _, seed := range []string{"a: b\n\nx\n.\ny\n", "a\r\n.\r\n", "x", ".", "\r\n\r", "a\rb\n"} {
		f.Add([]byte(seed), false)
	}
	f.Fuzz(func(t *testing.T, in []byte, ignoreDots bool) {
		out, err := ReadMessage(bytes.NewReader(in), ignoreDots)
		if err != nil {
			t.Fatal(err)
		}
		if len(out) > 0 && !bytes.HasSuffix(out, []byte("\r\n")) {
			t.Fatalf("no final CRLF: %q", out)
		}
		if bytes.Contains(bytes.ReplaceAll(out, []byte("\r\n"), nil), []byte("\n")) {
			t.Fatalf("bare LF left: %q", out)
		}
		if ignoreDots && len(out) < len(bytes.ReplaceAll(in, []byte("\r\n"), []byte("\n"))) {
			t.Fatalf("with -i nothing may be dropped: %q -> %q", in, out)
		}
	})
}
