package message

import (
	"bytes"
	"strings"
	"testing"
)

const sample = "Received: from a\r\n\tby b; Mon, 1 Jan 2024 00:00:00 +0000\r\n" +
	"From: Alice <alice@example.com>\r\n" +
	"To: bob@example.org,\r\n    carol@example.org\r\n" +
	"Subject: folded\r\n subject \r\n" +
	"X-Odd:no-space \r\n" +
	"Bcc: hidden@example.net\r\n" +
	"\r\n" +
	"Body line\r\n"

func TestGetUnfolds(t *testing.T) {
	m := read(t, sample, Limits{})
	tests := []struct {
		name string
		want []string
	}{
		{"to", []string{"bob@example.org,    carol@example.org"}},
		{"SUBJECT", []string{"folded subject"}},
		{"Received", []string{"from a\tby b; Mon, 1 Jan 2024 00:00:00 +0000"}},
		{"x-odd", []string{"no-space"}},
		{"Cc", nil},
	}
	for _, tt := range tests {
		got := m.Get(tt.name)
		if strings.Join(got, "|") != strings.Join(tt.want, "|") || len(got) != len(tt.want) {
			t.Errorf("Get(%q) = %q, want %q", tt.name, got, tt.want)
		}
	}
	if !m.Has("bcc") || m.Has("Cc") {
		t.Error("Has is wrong")
	}
}

func TestHeaderEdits(t *testing.T) {
	tests := []struct {
		name string
		edit func(m *Message)
		want string // the expected message; "" fields stand for sample's
	}{
		{"untouched", func(*Message) {}, sample},
		{"del bcc", func(m *Message) { m.Del("BCC") },
			strings.Replace(sample, "Bcc: hidden@example.net\r\n", "", 1)},
		{"del missing", func(m *Message) { m.Del("Cc") }, sample},
		{"add", func(m *Message) { m.Add("Message-ID", "<1@x>") },
			strings.Replace(sample, "\r\n\r\n", "\r\nMessage-ID: <1@x>\r\n\r\n", 1)},
		{"prepend", func(m *Message) { m.Prepend("Received", "from c by d") },
			"Received: from c by d\r\n" + sample},
		{"set replaces in place", func(m *Message) { m.Set("to", "dave@example.org") },
			strings.Replace(sample, "To: bob@example.org,\r\n    carol@example.org\r\n", "to: dave@example.org\r\n", 1)},
		{"set missing appends", func(m *Message) { m.Set("Reply-To", "r@x") },
			strings.Replace(sample, "\r\n\r\n", "\r\nReply-To: r@x\r\n\r\n", 1)},
		{"injection stripped", func(m *Message) { m.Add("X-A", "a\r\nBcc: evil@x\r\n\r\nbody") },
			strings.Replace(sample, "\r\n\r\n", "\r\nX-A: a Bcc: evil@x body\r\n\r\n", 1)},
		{"fold kept as space", func(m *Message) { m.Add("X-B", "a\r\n b\nc\x00") },
			strings.Replace(sample, "\r\n\r\n", "\r\nX-B: a b c\r\n\r\n", 1)},
		{"invalid names ignored", func(m *Message) {
			m.Add("Bad Name", "x")
			m.Add("", "x")
			m.Prepend("a:b", "x")
			m.Set("Subj\x80", "x")
		}, sample},
		{"apply edits", func(m *Message) {
			m.ApplyEdits([]Edit{
				{Op: EditDelete, Name: "bcc"},
				{Op: EditSet, Name: "Subject", Value: "new"},
				{Op: EditAdd, Name: "X-Team", Value: "sales"},
				{Op: EditOp(99), Name: "From"},
			})
		}, strings.Replace(strings.NewReplacer("Subject: folded\r\n subject \r\n", "Subject: new\r\n",
			"Bcc: hidden@example.net\r\n", "").Replace(sample), "\r\n\r\n", "\r\nX-Team: sales\r\n\r\n", 1)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := read(t, sample, Limits{})
			tt.edit(m)
			got := m.Bytes()
			if string(got) != tt.want {
				t.Errorf("got\n%q\nwant\n%q", got, tt.want)
			}
			checkCRLF(t, got)
			var buf bytes.Buffer
			n, err := m.WriteTo(&buf)
			if err != nil || n != m.Size() || !bytes.Equal(buf.Bytes(), got) {
				t.Errorf("WriteTo = %d, %v; Size %d; equal %v", n, err, m.Size(), bytes.Equal(buf.Bytes(), got))
			}
		})
	}
}

func TestAddFolds(t *testing.T) {
	m := read(t, "\r\n", Limits{})
	words := strings.Repeat("word ", 40)
	m.Add("References", words)
	long := strings.Repeat("x", 1500)
	m.Add("X-Long", "a "+long+" b")
	m.Add("X-Unbreakable", long)
	out := m.Bytes()
	checkCRLF(t, out)
	for _, l := range strings.Split(string(m.HeaderBytes()), "\r\n") {
		if len(l) > maxLine {
			t.Errorf("line of %d octets", len(l))
		}
		if strings.Trim(l, " \t") == "" && l != "" {
			t.Errorf("whitespace-only line %q", l)
		}
	}
	if got := m.Get("References")[0]; got != strings.TrimSpace(words) {
		t.Errorf("References unfolds to %q", got)
	}
	// The 1500-octet word must be broken once, with one added space.
	if got := m.Get("X-Long")[0]; got != "a "+long[:997]+" "+long[997:]+" b" {
		t.Errorf("X-Long unfolds to %q", trunc(got))
	}
	// 1500 octets without whitespace: broken at 998 with one space.
	if got := m.Get("X-Unbreakable")[0]; strings.ReplaceAll(got, " ", "") != long {
		t.Errorf("X-Unbreakable unfolds to %q", trunc(got))
	}
	for _, l := range strings.Split(string(m.HeaderBytes()), "\r\n") {
		if strings.HasPrefix(l, "References") && len(l) > softLine {
			t.Errorf("first References line has %d octets", len(l))
		}
	}
}

func TestEightBit(t *testing.T) {
	if read(t, sample, Limits{}).EightBit() {
		t.Error("ASCII message reported 8-bit")
	}
	if !read(t, "Subject: café\r\n\r\nx\r\n", Limits{}).EightBit() {
		t.Error("8-bit header not seen")
	}
	if !read(t, "Subject: x\r\n\r\ncafé\r\n", Limits{}).EightBit() {
		t.Error("8-bit body not seen")
	}
}
