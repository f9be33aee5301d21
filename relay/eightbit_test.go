package relay

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"io"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net/mail"
	"strings"
	"testing"

	"github.com/emersion/go-msgauth/dkim"

	"github.com/relayd/relayd/spool"
	"github.com/relayd/relayd/upstream"
)

const (
	umlautText = "Grüße aus Köln — Rechnung über 100 € = fällig\r\n.Zeile mit Punkt\r\nEnde "
	binaryData = "\xff\xfe\x80\x81 octets \xc3\x28 not UTF-8"
	// eightBitMail: 8-bit text and an 8-bit attachment in a multipart,
	// its header 7-bit.
	eightBitMail = "From: App <app@example.net>\r\nTo: x@example.org\r\nSubject: report\r\nMIME-Version: 1.0\r\n" +
		"Content-Type: multipart/mixed; boundary=\"b1\"\r\nContent-Transfer-Encoding: 8bit\r\n\r\n" +
		"--b1\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n" + umlautText + "\r\n" +
		"--b1\r\nContent-Type: application/octet-stream\r\nContent-Disposition: attachment; filename=\"data.bin\"\r\n" +
		"Content-Transfer-Encoding: 8bit\r\n\r\n" + binaryData + "\r\n--b1--\r\n"
)

// dkimRelay is a relay that signs mail of example.net and relays to addr,
// and the TXT record that verifies its signatures.
func dkimRelay(t *testing.T, addr string) (*testRelay, string) {
	t.Helper()
	pub, priv, _ := ed25519.GenerateKey(rand.Reader)
	txt, err := upstream.DKIMRecord(pub)
	if err != nil {
		t.Fatal(err)
	}
	cfg := baseConfig(addr)
	cfg.DKIM = []upstream.DKIMKey{{Domain: "example.net", Selector: "s1", Signer: priv}}
	return startRelay(t, cfg), txt
}

func verifyDKIM(t *testing.T, data []byte, txt string) {
	t.Helper()
	verifs, err := dkim.VerifyWithOptions(bytes.NewReader(data), &dkim.VerifyOptions{
		LookupTXT: func(string) ([]string, error) { return []string{txt}, nil }})
	if err != nil || len(verifs) != 1 || verifs[0].Err != nil || verifs[0].Domain != "example.net" {
		t.Fatalf("DKIM verification: %+v %v\n%s", verifs, err, data)
	}
}

// TestEightBitReencodedForSevenBitUpstream: an upstream that does not
// offer 8BITMIME gets only 7-bit octets; the re-encoded parts
// decode back to the original text and attachment, and the DKIM signature,
// made after the re-encoding, verifies.
func TestEightBitReencodedForSevenBitUpstream(t *testing.T) {
	rs := newRawSink(t, "PIPELINING", "SIZE 10485760")
	r, txt := dkimRelay(t, rs.addr)
	send(t, r.addr, "app@example.net", []string{"x@example.org"}, eightBitMail)
	m := rs.wait()
	for i, c := range m.Data {
		if c >= 0x80 {
			t.Fatalf("8-bit octet %#x at %d reached an upstream without 8BITMIME:\n%s", c, i, m.Data)
		}
	}
	if strings.Contains(m.Mail, "BODY=") {
		t.Errorf("MAIL line %q", m.Mail)
	}
	verifyDKIM(t, m.Data, txt)

	msg, err := mail.ReadMessage(bytes.NewReader(m.Data))
	if err != nil {
		t.Fatal(err)
	}
	_, params, err := mime.ParseMediaType(msg.Header.Get("Content-Type"))
	if err != nil {
		t.Fatal(err)
	}
	mr := multipart.NewReader(msg.Body, params["boundary"])
	var got []string
	for {
		p, err := mr.NextRawPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		raw, _ := io.ReadAll(p)
		switch cte := p.Header.Get("Content-Transfer-Encoding"); cte {
		case "quoted-printable":
			dec, err := io.ReadAll(quotedprintable.NewReader(bytes.NewReader(raw)))
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, string(dec))
		case "base64":
			dec, err := base64.StdEncoding.DecodeString(strings.ReplaceAll(string(raw), "\r\n", ""))
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, string(dec))
		default:
			t.Errorf("part with Content-Transfer-Encoding %q", cte)
		}
	}
	if len(got) != 2 || got[0] != umlautText || got[1] != binaryData {
		t.Errorf("decoded parts %q, want %q and %q", got, umlautText, binaryData)
	}
}

// TestEightBitUnchangedFor8BITMIME: an upstream that offers 8BITMIME gets
// the body octet for octet, with BODY=8BITMIME, signed.
func TestEightBitUnchangedFor8BITMIME(t *testing.T) {
	rs := newRawSink(t, "8BITMIME", "PIPELINING")
	r, txt := dkimRelay(t, rs.addr)
	send(t, r.addr, "app@example.net", []string{"x@example.org"}, eightBitMail)
	m := rs.wait()
	_, body, _ := strings.Cut(eightBitMail, "\r\n\r\n")
	if !bytes.HasSuffix(m.Data, []byte("\r\n\r\n"+body)) {
		t.Errorf("body changed:\n%s", m.Data)
	}
	if !strings.HasSuffix(m.Mail, " BODY=8BITMIME") {
		t.Errorf("MAIL line %q", m.Mail)
	}
	verifyDKIM(t, m.Data, txt)
}

// TestEightBitHeaderBouncesWithoutSMTPUTF8: a raw UTF-8 Subject cannot be
// re-encoded for an upstream without 8BITMIME or SMTPUTF8: the recipient
// bounces with 5.6.3 and the DSN (itself made 7-bit) reaches the sender;
// the message itself never goes out.
func TestEightBitHeaderBouncesWithoutSMTPUTF8(t *testing.T) {
	rs := newRawSink(t, "PIPELINING")
	r := startRelay(t, baseConfig(rs.addr))
	id := send(t, r.addr, "app@example.com", []string{"x@example.org"},
		"From: app@example.com\r\nTo: x@example.org\r\nSubject: Grüße\r\n\r\nHallo\r\n")
	sm := r.waitState(id, spool.StateBounced)
	if le := sm.Recipients[0].LastError; !strings.Contains(le, "8BITMIME") || !strings.Contains(le, "header field") {
		t.Errorf("last_error %q", le)
	}
	dsn := rs.wait()
	if dsn.Mail != "MAIL FROM:<>" || !bytes.Contains(dsn.Data, []byte("Status: 5.6.3")) {
		t.Fatalf("first message to arrive is not the 5.6.3 DSN: %s\n%s", dsn.Mail, dsn.Data)
	}
	if bytes.ContainsFunc(dsn.Data, func(r rune) bool { return r >= 0x80 }) {
		t.Errorf("the DSN reached the upstream with 8-bit octets:\n%s", dsn.Data)
	}
}
