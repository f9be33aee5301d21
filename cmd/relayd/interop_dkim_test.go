package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-msgauth/dkim"

	"github.com/relayd/relayd/upstream"
)

// TestInteropDKIMThroughPostfix: relayd signs, a real Postfix
// 3.7 relays it on (STARTTLS, SASL), and the signature still verifies at
// the far end, even for a message with a 3000-octet line that Postfix
// would fold had relayd not re-encoded it at acceptance.
func TestInteropDKIMThroughPostfix(t *testing.T) {
	needPostfix(t, true)
	keyPEM, txt, err := upstream.GenerateDKIMKey(upstream.DKIMKeyRSA, 2048)
	if err != nil {
		t.Fatal(err)
	}
	keyFile := filepath.Join(t.TempDir(), "example.com.s1.pem")
	if err := os.WriteFile(keyFile, keyPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	sink := newPlainSink(t)
	pki := newPKI(t, t.TempDir())
	pfPort := freePort(t)
	startPostfix(t, postfixOpts{SMTPPort: pfPort, RelayHost: fmt.Sprintf("[127.0.0.1]:%d", sink.port),
		PKI: pki, SASLUser: e2eUser, SASLPass: e2ePass})
	secret := fmt.Sprintf("password_env = %q\n\n[[dkim]]\ndomain = \"example.com\"\nselector = \"s1\"\nkey_file = %q\n",
		e2ePassEnv, keyFile)
	p := startRelayd(t, e2eConfig(cfgParams{SMTPPort: freePort(t), AdminPort: freePort(t), UpstreamPort: pfPort,
		CAFile: pki.caFile, Secret: secret}))

	rcpt := "dkim@example.net"
	msg := "From: App <app@example.com>\r\nTo: <" + rcpt + ">\r\nSubject: signed through postfix\r\n" +
		"Content-Type: text/html; charset=utf-8\r\n\r\n<p>" + strings.Repeat("long line ", 300) + "</p>\r\n"
	if res, err := sendMail(p.smtpAddr, "app@example.com", []string{rcpt}, msg, 10*time.Second); err != nil {
		t.Fatalf("send: %v (reply %q)", err, res.Reply)
	}
	m := waitForMsg(t, "postfix -> sink", sink.messages, onlyRcpt(rcpt), 60*time.Second)
	verifs, err := dkim.VerifyWithOptions(bytes.NewReader(m.Data), &dkim.VerifyOptions{
		LookupTXT: func(domain string) ([]string, error) {
			if domain != "s1._domainkey.example.com" {
				return nil, fmt.Errorf("unexpected lookup %s", domain)
			}
			return []string{txt}, nil
		}})
	if err != nil || len(verifs) != 1 || verifs[0].Err != nil {
		t.Fatalf("DKIM after Postfix: %+v %v\n%s", verifs, err, m.Data)
	}
	for i, line := range bytes.Split(m.Data, []byte("\r\n")) {
		if len(line) > 998 {
			t.Errorf("line %d is %d octets after Postfix", i, len(line))
		}
	}
}
