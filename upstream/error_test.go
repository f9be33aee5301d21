package upstream

import (
	"context"
	"crypto/x509"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden")

// TestDiagnoses pins the wording of every diagnosis (docs/operations.md, "Why doesn't my mail go?") in
// testdata/diagnoses.golden; run with -update after an intended change.
func TestDiagnoses(t *testing.T) {
	const host = "smtp.example.com:587"
	errs := []*Error{
		{Profile: "office365", Host: host, Step: StepConnect, Text: "connection refused", Temporary: true, Err: syscall.ECONNREFUSED},
		{Profile: "office365", Host: host, Step: StepConnect, Text: "timeout", Temporary: true},
		{Profile: "office365", Host: "nxdomain.example:587", Step: StepResolve, Text: "no such host", Temporary: true},
		{Profile: "office365", Step: StepConnect, Text: "invalid port \"x\" in host \"h,x\": fix the profile's host, port, tls or helo", Temporary: true},
		{Profile: "direct", Step: StepResolve, Code: 556, Enhanced: "5.1.10", Text: "example.net publishes a null MX (RFC 7505): the domain accepts no mail", Subject: "example.net"},
		{Profile: "direct", Step: StepResolve, Code: 550, Enhanced: "5.1.2", Text: "example.invalid does not exist or has no MX, A or AAAA record (RFC 5321 §5.1): check the recipient's address", Subject: "example.invalid"},
		{Profile: "direct", Step: StepResolve, Enhanced: "4.4.3", Text: "the MX lookup for example.org at DNS server 127.0.0.1:53 failed (server misbehaving): relayd retries; check the DNS server if it persists", Temporary: true, Subject: "example.org"},
		{Profile: "direct", Step: StepResolve, Code: 550, Enhanced: "5.1.2", Text: "address-literal recipient domains are not delivered by a direct profile: use the domain name, or route the recipient to a smarthost profile", Subject: "[192.0.2.1]"},
		{Profile: "direct", Host: "mx1.example.org:25", Step: StepConnect, Text: "connection refused", Temporary: true, Err: syscall.ECONNREFUSED},
		{Profile: "o365", Host: host, Step: StepAuth, Text: "the OAuth2 token endpoint https://login.example.com/t/oauth2/v2.0/token refused the refresh_token grant: invalid_grant (AADSTS70008: expired): the refresh token was revoked or has expired: run `relayd oauth login o365` to sign in again, which writes a new refresh token to /var/lib/relayd/o365.refresh (queued mail is retried)", Temporary: true, Subject: "system@example.com", Err: ErrOAuth2},
		{Profile: "o365", Host: host, Step: StepAuth, Code: 535, Enhanced: "5.7.3", Text: "Authentication unsuccessful", Temporary: true, Subject: "system@example.com", Err: ErrOAuth2},
		{Profile: "office365", Host: host, Step: StepConnect, Text: "relayd is shutting down", Temporary: true, Err: ErrClosed},
		{Profile: "office365", Host: host, Step: StepConnect, Text: "cancelled while waiting: all max_connections = 2 were busy", Temporary: true, Err: context.Canceled},
		{Profile: "office365", Host: host, Step: StepBanner, Code: 554, Text: "no SMTP service here", Temporary: true},
		{Profile: "office365", Host: host, Step: StepStartTLS, Text: describeTLS(errorsAsUnknownAuthority()), Temporary: true},
		{Profile: "office365", Host: host, Step: StepAuth, Code: 535, Enhanced: "5.7.3", Text: "Authentication unsuccessful", Temporary: true, Subject: "system@example.com"},
		{Profile: "gmail", Host: "smtp.gmail.com:465", Step: StepAuth, Code: 534, Enhanced: "5.7.9", Text: "Application-specific password required", Temporary: true, Subject: "a@gmail.com"},
		{Profile: "office365", Host: host, Step: StepAuth, Text: host + " offers AUTH XOAUTH2, none of the allowed mechanisms (CRAM-MD5 PLAIN LOGIN): change auth_mechanisms", Temporary: true, Subject: "system@example.com"},
		{Profile: "office365", Host: host, Step: StepMail, Code: 550, Enhanced: "5.7.60", Text: "SendAsDenied", Subject: "ceo@example.com"},
		{Profile: "office365", Host: host, Step: StepMail, Code: 452, Enhanced: "4.3.1", Text: "Insufficient system resources", Temporary: true, Subject: "ceo@example.com"},
		{Profile: "office365", Step: StepMail, Enhanced: "5.1.7", Text: "invalid sender address: address contains a control character (CR, LF, NUL, ...)", Subject: `"a\r\nb@x"`},
		{Profile: "office365", Host: host, Step: StepMail, Enhanced: "5.6.7", Text: "the message needs SMTPUTF8 (non-ASCII addresses, RFC 6531) and " + host + " does not offer it", Subject: "jörg@example.com"},
		{Profile: "office365", Host: host, Step: StepRcpt, Code: 550, Enhanced: "5.1.1", Text: "Recipient address rejected: User unknown\nsee https://example.com/help", Subject: "nobody@example.org"},
		{Profile: "office365", Step: StepRcpt, Enhanced: "5.1.3", Text: "invalid recipient address: address has no @domain", Subject: "bob"},
		{Profile: "office365", Host: host, Step: StepData, Code: 451, Enhanced: "4.3.0", Text: "try again later", Temporary: true},
		{Profile: "office365", Host: host, Step: StepDot, Code: 554, Enhanced: "5.7.1", Text: "Message rejected as spam"},
		{Profile: "office365", Host: host, Step: StepDot, Text: "connection closed by the server", Temporary: true, Ambiguous: true},
		{Profile: "office365", Host: host, Step: StepRcpt, Text: "timeout", Temporary: true},
		{Profile: "office365", Host: "smtp.example.com:465", Step: StepBanner, Text: "timeout", Temporary: true},
	}
	var b strings.Builder
	for _, e := range errs {
		b.WriteString(e.Error() + "\n")
	}
	path := filepath.Join("testdata", "diagnoses.golden")
	if *update {
		if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if b.String() != string(want) {
		t.Errorf("diagnoses differ from %s (go test -run TestDiagnoses -update):\n%s", path, b.String())
	}
}

func errorsAsUnknownAuthority() error {
	return errors.Join(errors.New("tls: failed to verify certificate"), x509UnknownAuthority())
}

func TestErrorUnwrap(t *testing.T) {
	e := &Error{Err: context.DeadlineExceeded}
	if !errors.Is(e, context.DeadlineExceeded) {
		t.Error("Unwrap does not expose the cause")
	}
}

func x509UnknownAuthority() error { return x509.UnknownAuthorityError{} }
