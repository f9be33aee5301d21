package sendmail

import (
	"bytes"
	"reflect"
	"strings"
	"testing"
	"testing/iotest"
)

func TestReadMessage(t *testing.T) {
	for _, tc := range []struct {
		name, in   string
		ignoreDots bool
		want       string
	}{
		{"bare LF", "a: b\n\nbody\n", false, "a: b\r\n\r\nbody\r\n"},
		{"CRLF kept", "a: b\r\n\r\nbody\r\n", false, "a: b\r\n\r\nbody\r\n"},
		{"no final newline", "a: b\n\nbody", false, "a: b\r\n\r\nbody\r\n"},
		{"lone dot ends", "a: b\n\none\n.\ntwo\n", false, "a: b\r\n\r\none\r\n"},
		{"lone dot CRLF ends", "a: b\r\n\r\none\r\n.\r\ntwo\r\n", false, "a: b\r\n\r\none\r\n"},
		{"lone dot at EOF", "a: b\n\none\n.", false, "a: b\r\n\r\none\r\n"},
		{"-i keeps the dot", "a: b\n\none\n.\ntwo\n", true, "a: b\r\n\r\none\r\n.\r\ntwo\r\n"},
		{"dots are data", "a: b\n\n..\n.x\n", false, "a: b\r\n\r\n..\r\n.x\r\n"},
		{"bare CR stays", "a: b\n\nx\ry\n", false, "a: b\r\n\r\nx\ry\r\n"},
		{"empty", "", false, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ReadMessage(iotest.OneByteReader(strings.NewReader(tc.in)), tc.ignoreDots)
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tc.want {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
}

// TestReadMessageLongLine: a line longer than the read buffer, with its
// CRLF split across two reads, still ends in one CRLF.
func TestReadMessageLongLine(t *testing.T) {
	line := strings.Repeat("x", 64<<10-1) // with the CR, exactly one buffer
	got, err := ReadMessage(strings.NewReader("s: x\r\n\r\n"+line+"\r\nend\r\n"), false)
	if err != nil {
		t.Fatal(err)
	}
	if want := "s: x\r\n\r\n" + line + "\r\nend\r\n"; string(got) != want {
		t.Errorf("long line mangled: %d octets, want %d; tail %q", len(got), len(want), got[len(got)-20:])
	}
}

func TestScanHeader(t *testing.T) {
	msg := "From: App <app@x>\r\nTo: a@x,\r\n  B <b@y>\r\nCc: c@z\r\nBcc: hidden@h,\r\n\tother@h\r\nSubject: s\r\nbcc: second@h\r\n\r\nTo: not@header\r\nBcc: body@x\r\n"
	h, out := ScanHeader([]byte(msg), true)
	if want := []string{"a@x", "b@y", "c@z", "hidden@h", "other@h", "second@h"}; !reflect.DeepEqual(h.Recipients, want) || !h.HasFrom {
		t.Errorf("header: %+v, want recipients %q and a From", h, want)
	}
	want := "From: App <app@x>\r\nTo: a@x,\r\n  B <b@y>\r\nCc: c@z\r\nSubject: s\r\n\r\nTo: not@header\r\nBcc: body@x\r\n"
	if string(out) != want {
		t.Errorf("Bcc not removed exactly:\n got %q\nwant %q", out, want)
	}
	if _, same := ScanHeader([]byte(msg), false); !bytes.Equal(same, []byte(msg)) {
		t.Error("without removeBcc the message must stay as it is")
	}
	// No header section: the first line is not a field.
	h, out = ScanHeader([]byte("just text\r\nTo: a@x\r\n"), true)
	if len(h.Recipients) != 0 || h.HasFrom || string(out) != "just text\r\nTo: a@x\r\n" {
		t.Errorf("no header: %+v %q", h, out)
	}
	h, out = ScanHeader([]byte(" folded first\r\nTo: a@x\r\n"), true)
	if len(h.Recipients) != 0 || string(out) != " folded first\r\nTo: a@x\r\n" {
		t.Errorf("continuation first: %+v %q", h, out)
	}
}

func TestAddFrom(t *testing.T) {
	for _, tc := range []struct{ name, sender, want string }{
		{"", "u@h", "From: u@h\r\n"},
		{"CronDaemon", "root@h", "From: CronDaemon <root@h>\r\n"},
		{"Billing App", "a@h", "From: Billing App <a@h>\r\n"},
		{"Doe, John", "j@h", "From: \"Doe, John\" <j@h>\r\n"},
		{"Jörg", "j@h", "From: =?utf-8?q?J=C3=B6rg?= <j@h>\r\n"},
		{"", "", "From: MAILER-DAEMON\r\n"},
	} {
		if got := string(AddFrom([]byte("S: x\r\n"), tc.name, tc.sender)); got != tc.want+"S: x\r\n" {
			t.Errorf("AddFrom(%q, %q) = %q, want %q", tc.name, tc.sender, got, tc.want)
		}
	}
}
