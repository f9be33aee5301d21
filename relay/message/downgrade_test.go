package message

import (
	"bytes"
	"encoding/base64"
	"errors"
	"io"
	"mime"
	"mime/multipart"
	"strings"
	"testing"
)

// downgrade reads s, runs Downgrade and checks what every result must be:
// 7-bit, CRLF only, no line over 998, a fixed point of Downgrade.
func downgrade(t *testing.T, s string) (*Message, bool) {
	t.Helper()
	m := read(t, s, Limits{})
	changed, err := m.Downgrade()
	if err != nil {
		t.Fatalf("Downgrade: %v", err)
	}
	out := m.Bytes()
	if hasHighBit(out) || m.EightBit() {
		t.Errorf("8-bit octets after Downgrade:\n%s", out)
	}
	checkCRLF(t, out)
	if n := longestLine(out); n > maxLine {
		t.Errorf("line of %d octets after Downgrade", n)
	}
	again, err := m.Downgrade()
	if err != nil || again || !bytes.Equal(out, m.Bytes()) {
		t.Errorf("second Downgrade changed = %v, err = %v", again, err)
	}
	return m, changed
}

const utf8Text = "Grüße aus Köln, 東京 — naïve café = 100%\r\nSecond line \r\n"

func TestDowngradeSevenBitUnchanged(t *testing.T) {
	m, changed := downgrade(t, sample)
	if changed || string(m.Bytes()) != sample {
		t.Errorf("changed = %v; message %q", changed, m.Bytes())
	}
}

func TestDowngradePlainText(t *testing.T) {
	m, changed := downgrade(t, "From: a@example.com\r\nSubject: hi\r\n\r\n"+utf8Text)
	if !changed {
		t.Fatal("not changed")
	}
	for name, want := range map[string]string{"MIME-Version": "1.0", "Content-Type": "text/plain; charset=utf-8",
		"Content-Transfer-Encoding": "quoted-printable"} {
		if got := m.Get(name); len(got) != 1 || got[0] != want {
			t.Errorf("%s: %q, want %q", name, got, want)
		}
	}
	if got := qpDecode(t, m.Body()); string(got) != utf8Text {
		t.Errorf("decoded %q, want %q", got, utf8Text)
	}
}

// TestDowngradeMultipart: only the 8-bit leaves change (text as
// quoted-printable, others as base64), the 7-bit part and the boundaries
// stay byte-identical, the multipart's 8bit label becomes 7bit, and every
// part decodes to its original octets.
func TestDowngradeMultipart(t *testing.T) {
	bin := "\x89PNG\r\n\x1a\x00\xff\xfe binary\r\n"
	ascii := "Content-Type: text/plain; charset=us-ascii\r\n\r\nplain ascii part\r\n"
	in := "From: a@example.com\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"b1\"\r\n" +
		"Content-Transfer-Encoding: 8bit\r\n\r\npreamble ü\r\n" +
		"--b1\r\n" + ascii +
		"--b1\r\nContent-Type: text/html; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n<p>" + utf8Text + "</p>\r\n" +
		"--b1\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: binary\r\n\r\n" + bin +
		"--b1\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\nraw é in qp=3D\r\n" +
		"--b1\r\nContent-Type: image/gif\r\nContent-Transfer-Encoding: base64\r\n\r\nR0lG\xc3\xa9ODlh\r\n" +
		"--b1--\r\nepilogue ß\r\n"
	in = strings.ReplaceAll(in, "\x00", "") // Read refuses NUL
	bin = strings.ReplaceAll(bin, "\x00", "")
	m, _ := downgrade(t, in)
	out := m.Bytes()
	if got := m.Get("Content-Transfer-Encoding"); len(got) != 1 || got[0] != "7bit" {
		t.Errorf("multipart Content-Transfer-Encoding %q, want 7bit", got)
	}
	if !bytes.Contains(out, []byte("--b1\r\n"+ascii+"--b1\r\n")) || !bytes.Contains(out, []byte("preamble ??\r\n")) ||
		!bytes.Contains(out, []byte("epilogue ??\r\n")) {
		t.Errorf("7-bit part, preamble or epilogue not as expected:\n%s", out)
	}
	_, params, _ := mime.ParseMediaType(m.Get("Content-Type")[0])
	mr := multipart.NewReader(bytes.NewReader(m.Body()), params["boundary"])
	want := []struct{ cte, decoded string }{
		{"", "plain ascii part"},
		{"quoted-printable", "<p>" + utf8Text + "</p>"},
		{"base64", bin[:len(bin)-2]},
		{"quoted-printable", "raw é in qp="},
		{"base64", "GIF89a"},
	}
	for i, w := range want {
		p, err := mr.NextRawPart()
		if err != nil {
			t.Fatalf("part %d: %v", i, err)
		}
		raw, _ := io.ReadAll(p)
		if got := p.Header.Get("Content-Transfer-Encoding"); got != w.cte && !(w.cte == "" && got == "") {
			t.Errorf("part %d: Content-Transfer-Encoding %q, want %q", i, got, w.cte)
		}
		var dec []byte
		switch w.cte {
		case "quoted-printable":
			dec = qpDecode(t, raw)
		case "base64":
			dec, err = base64.StdEncoding.DecodeString(strings.ReplaceAll(string(raw), "\r\n", ""))
			if err != nil {
				t.Fatalf("part %d: base64: %v", i, err)
			}
		default:
			dec = raw
		}
		if string(dec) != w.decoded {
			t.Errorf("part %d decoded %q, want %q", i, dec, w.decoded)
		}
	}
}

func TestDowngradeMessageGlobal(t *testing.T) {
	inner := "From: jörg@bücher.example\r\nSubject: Grüße\r\n\r\n" + utf8Text
	in := "From: a@example.com\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=x\r\n\r\n" +
		"--x\r\nContent-Type: message/global\r\n\r\n" + inner + "--x--\r\n"
	m, _ := downgrade(t, in)
	_, params, _ := mime.ParseMediaType(m.Get("Content-Type")[0])
	p, err := multipart.NewReader(bytes.NewReader(m.Body()), params["boundary"]).NextRawPart()
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := io.ReadAll(p)
	dec, err := base64.StdEncoding.DecodeString(strings.ReplaceAll(string(raw), "\r\n", ""))
	if p.Header.Get("Content-Transfer-Encoding") != "base64" || err != nil || string(dec) != strings.TrimSuffix(inner, "\r\n") {
		t.Errorf("message/global part: %q %v %q", p.Header.Get("Content-Transfer-Encoding"), err, dec)
	}
}

// TestDowngradeImpossible: 8-bit header fields, a signed multipart and a
// multipart without its boundary cannot be made 7-bit without changing
// what the reader sees (a 5.6.3 bounce).
func TestDowngradeImpossible(t *testing.T) {
	for name, c := range map[string]struct {
		in   string
		want error
	}{
		"subject": {"From: a@example.com\r\nSubject: Grüße\r\n\r\nbody\r\n", ErrEightBitHeader},
		"part header": {"From: a@example.com\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=x\r\n\r\n" +
			"--x\r\nContent-Type: application/pdf\r\nContent-Disposition: attachment; filename=\"Bücher.pdf\"\r\n\r\n%PDF\r\n--x--\r\n",
			ErrEightBitHeader},
		"rfc822 header": {"From: a@example.com\r\nMIME-Version: 1.0\r\nContent-Type: message/rfc822\r\n\r\n" +
			"Subject: Grüße\r\n\r\nx\r\n", ErrEightBitHeader},
		"signed": {"From: a@example.com\r\nMIME-Version: 1.0\r\nContent-Type: multipart/signed; boundary=s; protocol=\"application/pgp-signature\"\r\n\r\n" +
			"--s\r\nContent-Type: text/plain\r\nContent-Transfer-Encoding: 8bit\r\n\r\nGrüße\r\n--s\r\nContent-Type: application/pgp-signature\r\n\r\nsig\r\n--s--\r\n",
			ErrNotDowngradable},
		"no boundary": {"From: a@example.com\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=x\r\n\r\nGrüße\r\n",
			ErrNotDowngradable},
	} {
		m := read(t, c.in, Limits{})
		if _, err := m.Downgrade(); !errors.Is(err, c.want) {
			t.Errorf("%s: Downgrade error %v, want %v", name, err, c.want)
		}
	}
}

// FuzzDowngrade: Downgrade never panics, and what it returns without an
// error is 7-bit, CRLF-only, within 998 octets per line where the input
// was, and a fixed point.
func FuzzDowngrade(f *testing.F) {
	f.Add([]byte("From: a@example.com\r\n\r\n" + utf8Text))
	f.Add([]byte("Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: image/png\r\n\r\n\xff\xfe\r\n--b--\r\n"))
	f.Add([]byte("Content-Type: message/rfc822\r\nContent-Transfer-Encoding: 8bit\r\n\r\nA: b\r\n\r\n\xe9\r\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := Read(bytes.NewReader(data), Limits{MaxSize: 1 << 16, MaxLineLength: 900, MaxHeaderBytes: 4096, MaxReceived: 3})
		if err != nil {
			return
		}
		if _, err := m.Downgrade(); err != nil {
			if !errors.Is(err, ErrEightBitHeader) && !errors.Is(err, ErrNotDowngradable) {
				t.Fatalf("unexpected error %v", err)
			}
			return
		}
		out := m.Bytes()
		if hasHighBit(out) {
			t.Fatalf("8-bit output %q", out)
		}
		if e := crlfError(out); e != "" && crlfError(data) == "" {
			t.Fatalf("%s in output %q", e, out)
		}
		if n := longestLine(out); n > maxLine {
			t.Fatalf("line of %d octets", n)
		}
		if again, err := m.Downgrade(); err != nil || again || !bytes.Equal(out, m.Bytes()) {
			t.Fatalf("second Downgrade changed = %v, err = %v", again, err)
		}
	})
}
