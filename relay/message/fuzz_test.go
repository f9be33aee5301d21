package message

import (
	"bytes"
	"errors"
	"testing"
)

// FuzzRead: Read never panics, and what it accepts is CRLF-only, within
// the line limit, consistent in size, and a fixed point of Read.
func FuzzRead(f *testing.F) {
	f.Add([]byte(sample), false)
	f.Add([]byte("A: 1\r\n\r\nx\n.\nMAIL FROM:<e@x>\r\n"), false)
	f.Add([]byte("A: 1\r\n\r\nx\r.\rQUIT\r"), true)
	f.Add([]byte("no header\nat all"), false)
	f.Fuzz(func(t *testing.T, data []byte, reject bool) {
		lim := Limits{MaxSize: 1 << 16, MaxLineLength: 200, MaxHeaderBytes: 4096, MaxReceived: 3, RejectBareLF: reject}
		m, err := Read(bytes.NewReader(data), lim)
		if err != nil {
			if !knownError(err) {
				t.Fatalf("unexpected error %v", err)
			}
			return
		}
		out := m.Bytes()
		if e := crlfError(out); e != "" {
			t.Fatalf("%s in output %q", e, out)
		}
		if n := longestLine(out); n > lim.MaxLineLength {
			t.Fatalf("line of %d octets", n)
		}
		var buf bytes.Buffer
		if n, err := m.WriteTo(&buf); err != nil || n != m.Size() || int64(len(out)) != m.Size() || !bytes.Equal(buf.Bytes(), out) {
			t.Fatalf("Size %d, Bytes %d, WriteTo %d %v", m.Size(), len(out), n, err)
		}
		lim.MaxSize = -1
		m2, err := Read(bytes.NewReader(out), lim)
		if err != nil {
			t.Fatalf("re-reading output: %v", err)
		}
		if !bytes.Equal(m2.Bytes(), out) || !bytes.Equal(m2.HeaderBytes(), m.HeaderBytes()) {
			t.Fatalf("output is not a fixed point:\n%q\n%q", out, m2.Bytes())
		}
	})
}

// FuzzParse: Parse gives what Read gives (message or sentinel error), for
// any room in front, and Flatten after the acceptance edits gives Bytes.
// pad octets are put in the middle of data, for lines longer than Read's
// 16 KiB chunks.
func FuzzParse(f *testing.F) {
	f.Add([]byte(sample), uint16(0), uint8(0), false)
	f.Add([]byte("A: 1\r\n\r\nx\n.\nMAIL FROM:<e@x>\r\n"), uint16(0), uint8(40), false)
	f.Add([]byte("A: 1\r\n\r\nx\r.\rQUIT\r"), uint16(0), uint8(255), true)
	f.Add([]byte("S: a\r\n\r\nx\x00\r\n"), uint16(20000), uint8(9), false)
	f.Add([]byte("S: a\r\n\r\nbare\nLF\r\n"), uint16(40000), uint8(100), true)
	f.Fuzz(func(t *testing.T, data []byte, pad uint16, off uint8, reject bool) {
		if pad > 0 {
			h := len(data) / 2
			data = append(append(append([]byte(nil), data[:h]...), bytes.Repeat([]byte("p"), int(pad))...), data[h:]...)
		}
		lim := Limits{MaxSize: 1 << 16, MaxLineLength: 30000, MaxHeaderBytes: 4096, MaxReceived: 3, RejectBareLF: reject}
		m, _ := parseAsRead(t, data, int(off), lim)
		if m == nil {
			return
		}
		m.Del("Bcc")
		m.Prepend("Received", "from client.test ([127.0.0.1]) by relay.test (relayd) with ESMTP id x; Tue, 24 Nov 2026 09:00:00 +0000")
		want := m.Bytes()
		if got := m.Flatten(); !bytes.Equal(got, want) || !bytes.Equal(m.Bytes(), want) {
			t.Fatalf("Flatten = %q, Bytes %q", got, want)
		}
	})
}

func knownError(err error) bool {
	for _, e := range []error{ErrTooBig, ErrLineTooLong, ErrHeaderTooBig, ErrBareLF, ErrNUL, ErrMultipleFrom, ErrLoop} {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}

// FuzzFixLongLines: after FixLongLines every line is at most 998 octets,
// the output is CRLF-only, and a second call changes nothing.
func FuzzFixLongLines(f *testing.F) {
	f.Add([]byte(altMessage("<p>" + string(bytes.Repeat([]byte("x"), 1200)) + "</p>")))
	f.Add([]byte("Subject: " + string(bytes.Repeat([]byte("ab "), 500)) + "\r\n\r\n" + string(bytes.Repeat([]byte("y"), 1100))))
	f.Add([]byte("Content-Type: multipart/mixed; boundary=q\r\n\r\n--q\r\nContent-Transfer-Encoding: base64\r\n\r\n" +
		string(bytes.Repeat([]byte("QUJD"), 300)) + "\r\n--q--\r\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := Read(bytes.NewReader(data), Limits{MaxSize: -1, MaxLineLength: -1, MaxHeaderBytes: -1, MaxReceived: -1})
		if err != nil {
			return
		}
		if _, err := m.FixLongLines(); err != nil {
			t.Fatal(err)
		}
		out := m.Bytes()
		if e := crlfError(out); e != "" {
			t.Fatalf("%s in output", e)
		}
		if n := longestLine(out); n > maxLine {
			t.Fatalf("line of %d octets after FixLongLines", n)
		}
		changed, err := m.FixLongLines()
		if err != nil || changed || !bytes.Equal(m.Bytes(), out) {
			t.Fatalf("not idempotent: changed %v, err %v", changed, err)
		}
	})
}

// FuzzParseDSN: ParseDSN never panics, and a DSN built from arbitrary
// address and diagnostic text stays well-formed and parses back.
func FuzzParseDSN(f *testing.F) {
	info := dsnInfo()
	f.Add(DSN(info), "user@example.org", "smtp; 550 no", false)
	f.Add([]byte("Content-Type: multipart/report; boundary=x\r\n\r\n--x\r\nContent-Type: message/delivery-status\r\n\r\n"+
		"Reporting-MTA: dns; x\r\n\r\nFinal-Recipient: rfc822; a@b\r\nAction: failed\r\n--x--\r\n"), "jöhn@exämple.de", "4.4.1 timeout\r\n", true)
	f.Fuzz(func(t *testing.T, data []byte, addr, diag string, delayed bool) {
		_, _ = ParseDSN(data)
		info := dsnInfo()
		r := DSNRecipient{Address: addr, Action: "failed", Status: "5.1.1", DiagnosticCode: diag, RemoteMTA: diag}
		if delayed {
			r.Action, r.Status = "delayed", "4.4.1"
		}
		info.Recipients = []DSNRecipient{r}
		info.To = addr
		info.Original = data
		b := DSN(info)
		if e := crlfError(b); e != "" {
			t.Fatalf("%s in DSN", e)
		}
		if n := longestLine(b); n > maxLine {
			t.Fatalf("line of %d octets in DSN", n)
		}
		rs, err := ParseDSN(b)
		if err != nil {
			t.Fatalf("ParseDSN: %v\n%q", err, b)
		}
		if len(rs) != 1 || rs[0].Action != r.Action || rs[0].Status != r.Status {
			t.Fatalf("parsed %+v", rs)
		}
	})
}
