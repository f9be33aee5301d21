package message

import (
	"bytes"
	"io"
	"mime"
	"mime/multipart"
	"net/mail"
	"strings"
	"testing"
	"time"
)

var (
	t0       = time.Date(2026, 3, 2, 10, 4, 5, 0, time.FixedZone("", 3600))
	original = "Received: from app (127.0.0.1)\r\n\tby relay.example.com; Mon, 2 Mar 2026 09:00:00 +0100\r\n" +
		"From: Billing <billing@example.com>\r\nTo: nobody@example.org, later@example.net\r\n" +
		"Subject: Invoice 42\r\nMessage-ID: <inv42@example.com>\r\n\r\nSecret body\r\n"
)

func dsnInfo() DSNInfo {
	return DSNInfo{
		ReportingMTA: "relay.example.com",
		From:         "Mail Delivery System <MAILER-DAEMON@relay.example.com>",
		To:           "billing@example.com",
		QueueID:      "01JNQ3ZK5X",
		Arrival:      t0.Add(-time.Hour),
		Date:         t0,
		MessageID:    "<dsn.01JNQ3ZK5X@relay.example.com>",
		Original:     []byte(original),
		Recipients: []DSNRecipient{{
			Address:        "nobody@example.org",
			Action:         "failed",
			Status:         "5.1.1",
			RemoteMTA:      "dns; mx.example.org",
			DiagnosticCode: "smtp; 550 5.1.1 <nobody@example.org>: Recipient address rejected: User unknown in virtual mailbox table",
			LastAttempt:    t0.Add(-time.Minute),
		}},
	}
}

func TestDSNGolden(t *testing.T) {
	failed := dsnInfo()
	delayed := dsnInfo()
	delayed.Recipients = []DSNRecipient{{
		Address: "later@example.net", Action: "delayed", Status: "4.4.1",
		DiagnosticCode: "connection to mx.example.net:25 timed out",
		LastAttempt:    t0, WillRetryUntil: t0.Add(5 * 24 * time.Hour),
	}}
	mixed := dsnInfo()
	mixed.Recipients = append(mixed.Recipients, delayed.Recipients[0],
		DSNRecipient{Address: "jöhn+x@exämple.de", Action: "failed", Status: "5.0.0",
			DiagnosticCode: "smtp; 550 nö\r\n550 " + strings.Repeat("very long reason ", 80)})
	mixed.Explanation = "Custom text, ünïcode, and a very long line: " + strings.Repeat("word ", 300)
	for name, info := range map[string]DSNInfo{"failed": failed, "delayed": delayed, "mixed": mixed} {
		t.Run(name, func(t *testing.T) {
			b := DSN(info)
			checkCRLF(t, b)
			if n := longestLine(b); n > maxLine {
				t.Errorf("line of %d octets", n)
			}
			golden(t, "dsn_"+name+".golden", b)
			checkDSNStructure(t, b)
			rs, err := ParseDSN(b)
			if err != nil {
				t.Fatal(err)
			}
			if len(rs) != len(info.Recipients) {
				t.Fatalf("%d recipients parsed, want %d", len(rs), len(info.Recipients))
			}
			for i, r := range rs {
				w := info.Recipients[i]
				if r.Address != w.Address || r.Action != w.Action || r.Status != w.Status {
					t.Errorf("recipient %d = %q %q %q, want %q %q %q", i, r.Address, r.Action, r.Status, w.Address, w.Action, w.Status)
				}
				if !r.LastAttempt.Equal(w.LastAttempt) {
					t.Errorf("LastAttempt = %v, want %v", r.LastAttempt, w.LastAttempt)
				}
				if w.Action == "delayed" && !r.WillRetryUntil.Equal(w.WillRetryUntil) {
					t.Errorf("WillRetryUntil = %v", r.WillRetryUntil)
				}
			}
		})
	}
}

// checkDSNStructure checks RFC 6522 / RFC 3464 structure with the
// standard library's own parsers.
func checkDSNStructure(t *testing.T, b []byte) {
	t.Helper()
	msg, err := mail.ReadMessage(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	if got := msg.Header.Get("Auto-Submitted"); got != "auto-replied" {
		t.Errorf("Auto-Submitted = %q", got)
	}
	if s := msg.Header.Get("Subject"); s != SubjectFailed && s != SubjectDelayed {
		t.Errorf("Subject = %q", s)
	}
	mt, params, err := mime.ParseMediaType(msg.Header.Get("Content-Type"))
	if err != nil || mt != "multipart/report" || params["report-type"] != "delivery-status" {
		t.Fatalf("Content-Type %q %v: %v", mt, params, err)
	}
	mr := multipart.NewReader(msg.Body, params["boundary"])
	var types []string
	for {
		p, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		pt, _, _ := mime.ParseMediaType(p.Header.Get("Content-Type"))
		types = append(types, pt)
		content, err := io.ReadAll(p)
		if err != nil {
			t.Fatal(err)
		}
		if pt == "text/rfc822-headers" && bytes.Contains(content, []byte("Secret body")) {
			t.Error("original body included")
		}
	}
	want := "text/plain message/delivery-status text/rfc822-headers"
	if strings.Join(types, " ") != want {
		t.Errorf("parts %q, want %q", types, want)
	}
}

func TestDSNEdgeCases(t *testing.T) {
	info := dsnInfo()
	info.Original = nil
	info.Date = time.Time{}
	info.From = "x\r\nBcc: evil@x"
	b := DSN(info)
	checkCRLF(t, b)
	if bytes.Contains(b, []byte("\r\nBcc:")) {
		t.Error("header injection through From")
	}
	if bytes.Contains(b, []byte("text/rfc822-headers")) {
		t.Error("headers part without Original")
	}
	msg, err := mail.ReadMessage(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := msg.Header.Date(); err != nil {
		t.Errorf("Date: %v", err)
	}
	// Original with bare LF, NUL and an over-long header line.
	info = dsnInfo()
	info.Original = []byte("Subject: " + strings.Repeat("s ", 800) + "\nX-N: a\x00b\r\rbody")
	b = DSN(info)
	checkCRLF(t, b)
	if n := longestLine(b); n > maxLine {
		t.Errorf("line of %d octets", n)
	}
	if !bytes.Contains(b, []byte("X-N: ab\r\n")) || bytes.Contains(b, []byte("\r\nbody")) {
		t.Errorf("original header part wrong:\n%s", b)
	}
}

func TestParseDSNErrors(t *testing.T) {
	for _, in := range []string{
		"",
		"Subject: x\r\n\r\nbody\r\n",
		"Content-Type: multipart/mixed; boundary=x\r\n\r\n--x\r\n\r\nhi\r\n--x--\r\n",
		"Content-Type: multipart/report; boundary=x\r\n\r\n--x\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; x\r\n\r\n--x--\r\n",
		"Content-Type: multipart/report; boundary=x\r\n\r\n--x\r\nContent-Type: message/delivery-status\r\n\r\n bad\r\n",
	} {
		if rs, err := ParseDSN([]byte(in)); err == nil {
			t.Errorf("ParseDSN(%q) = %v, nil error", in, rs)
		}
	}
}
