package main

import (
	"os"
	"strings"
	"testing"

	"github.com/emersion/go-smtp"
)

// withNotify appends a [notify] section to the config file at path.
func withNotify(t *testing.T, path, notify string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, append(b, []byte("\n[notify]\n"+notify+"\n")...), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func (p *probePeer) envelopes() (mails, rcpts []string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.mails...), append([]string(nil), p.rcpts...)
}

// TestProbeCommandSenderOfTheProfile: without -from, relayd test uses the
// sender the profile's mail will carry ([notify] from here, as for its
// alerts), not the login name: an account that refuses other senders
// (the seeds' "Sender address reject") fails the test, as it will fail
// the mail. -send without -to goes to [notify] admin.
func TestProbeCommandSenderOfTheProfile(t *testing.T) {
	peer := newProbePeer(t)
	cfg := withNotify(t, probeConfig(t, peer.port, peer.caFile, probePass, ""),
		`from = "relayd@example.com"`+"\n"+`admin = "it@example.com"`)
	code, out, errs := runProbe(t, "up", "-config", cfg, "-send")
	if code != 0 {
		t.Fatalf("exit %d:\n%s%s", code, out, errs)
	}
	for _, want := range []string{
		"sender:     relayd@example.com ([notify] from; the profile has no from_address)\n",
		"recipients: it@example.com ([notify] admin, the System Notification Mailbox)\n",
		"The test will be sent to the System Notification Mailbox, it@example.com.\n",
		"  ok   mail      MAIL FROM:<relayd@example.com> SIZE=",
		"  ok   rcpt      RCPT TO:<it@example.com>: 250 ",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	mails, rcpts := peer.envelopes()
	if strings.Join(mails, " ") != "relayd@example.com" || strings.Join(rcpts, " ") != "it@example.com" {
		t.Errorf("the upstream saw MAIL FROM %q, RCPT TO %q", mails, rcpts)
	}
	if msgs := peer.messages(); len(msgs) != 1 || !strings.Contains(msgs[0], "To: <it@example.com>\r\n") {
		t.Errorf("test messages %q", msgs)
	}

	// The account may only send as itself: the test says so now.
	peer.mu.Lock()
	peer.mailErr = &smtp.SMTPError{Code: 553, EnhancedCode: smtp.EnhancedCode{5, 7, 1},
		Message: "Sender address rejected: not owned by user " + probeUser}
	peer.mu.Unlock()
	code, out, errs = runProbe(t, "up", "-config", cfg, "-to", "x@example.org")
	want := "sender address relayd@example.com rejected by 127.0.0.1:"
	if code != 1 || !strings.Contains(out, want) || !strings.Contains(out, "  FAIL mail      553 5.7.1 Sender address rejected") {
		t.Errorf("exit %d, want 1 and %q:\n%s%s", code, want, out, errs)
	}
	if mails, _ := peer.envelopes(); mails[len(mails)-1] != "relayd@example.com" {
		t.Errorf("MAIL FROM %q, want the [notify] from address", mails[len(mails)-1])
	}
}

// TestProbeCommandFromAddress: a profile's from_address is the sender it
// tests with; -from still wins.
func TestProbeCommandFromAddress(t *testing.T) {
	peer := newProbePeer(t)
	cfg := probeConfig(t, peer.port, peer.caFile, probePass, `from_address = "billing@example.com"`+"\n")
	code, out, errs := runProbe(t, "up", "-config", cfg, "-to", "x@example.org")
	if code != 0 || !strings.Contains(out, "sender:     billing@example.com (the profile's from_address)\n") ||
		!strings.Contains(out, "recipients: x@example.org (-to)\n") {
		t.Fatalf("exit %d:\n%s%s", code, out, errs)
	}
	if code, out, errs := runProbe(t, "up", "-config", cfg, "-from", "boss@example.com"); code != 0 ||
		!strings.Contains(out, "sender:     boss@example.com (-from)\n") {
		t.Fatalf("exit %d:\n%s%s", code, out, errs)
	}
	mails, rcpts := peer.envelopes()
	if strings.Join(mails, " ") != "billing@example.com boss@example.com" ||
		strings.Join(rcpts, " ") != "x@example.org boss@example.com" {
		t.Errorf("the upstream saw MAIL FROM %q, RCPT TO %q", mails, rcpts)
	}
}

// TestProbeCommandSendNeedsRecipient: -send with neither -to nor [notify]
// admin is a clear usage error, and nothing is sent.
func TestProbeCommandSendNeedsRecipient(t *testing.T) {
	peer := newProbePeer(t)
	cfg := probeConfig(t, peer.port, peer.caFile, probePass, "")
	code, out, errs := runProbe(t, "up", "-config", cfg, "-send")
	want := "relayd test: the test message needs a recipient: give -to ADDR, or set [notify] admin " +
		"(the System Notification Mailbox)\n"
	if code != 2 || errs != want {
		t.Errorf("exit %d, stderr %q, want 2 and %q:\n%s", code, errs, want, out)
	}
	if mails, _ := peer.envelopes(); len(mails) != 0 || len(peer.messages()) != 0 {
		t.Errorf("something was sent: %q", mails)
	}
}

// TestProbeCommandImplicitTLS: with tls = "implicit" the handshake before
// the banner is the step "tls", not "starttls".
func TestProbeCommandImplicitTLS(t *testing.T) {
	peer := newProbePeerTLS(t, true)
	path := probeConfig(t, peer.port, peer.caFile, probePass, "")
	b, _ := os.ReadFile(path)
	os.WriteFile(path, []byte(strings.Replace(string(b), `tls = "starttls-required"`, `tls = "implicit"`, 1)), 0o600)
	code, out, errs := runProbe(t, "up", "-config", path)
	if code != 0 {
		t.Fatalf("exit %d:\n%s%s", code, out, errs)
	}
	if _, steps := stepLines(t, out); strings.Join(steps, " ") != "resolve connect tls banner ehlo auth quit" {
		t.Errorf("steps %q:\n%s", steps, out)
	}
	if !strings.Contains(out, "  ok   tls       implicit TLS: TLS 1.3 ") {
		t.Errorf("no tls step line:\n%s", out)
	}
}
