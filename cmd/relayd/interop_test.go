package main

// Interop with real peers from Debian packages (issue 7): SMTP
// clients (swaks, curl, Python's smtplib, msmtp) submit to the built relayd,
// with and without AUTH against a [[team.user]]; a private Postfix is
// relayd's upstream (STARTTLS and Cyrus SASL) and relays on to a Go sink;
// and a private Postfix stands in front of relayd (relayhost = relayd).
// Locally a missing peer skips the test naming its package; under CI=true it
// fails. Everything talks to 127.0.0.1 only; no peer is ever asked to
// resolve a name (explicit HELO names, IP literals, no DNS in Postfix).

import (
	"bytes"
	"fmt"
	"net"
	"net/mail"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"
)

// The [[team.user]] the AUTH tests log in as.
const (
	interopUser = "crm"
	interopPass = "legacy-app-pw"
)

// interopMsg is a message whose body carries a token unique to the peer.
func interopMsg(peer, rcpt string) (msg, token string) {
	token = "interop-token-" + peer
	msg = fmt.Sprintf("From: App <app@example.com>\r\nTo: <%s>\r\nSubject: interop %s\r\nX-Peer: %s\r\n\r\nHello from %s.\r\n%s\r\n",
		rcpt, peer, peer, peer, token)
	return msg, token
}

// checkArrived asserts what relayd delivered to the e2eUpstream: envelope,
// token, STARTTLS and AUTH on relayd's side, and relayd's Received field.
func checkArrived(t *testing.T, m upMsg, rcpt, token, authUser string) {
	t.Helper()
	if m.From != "app@example.com" || len(m.To) != 1 || m.To[0] != rcpt {
		t.Errorf("envelope from %q to %q, want app@example.com to %s", m.From, m.To, rcpt)
	}
	if !bytes.Contains(m.Data, []byte(token)) {
		t.Errorf("delivered message lacks %q:\n%s", token, m.Data)
	}
	if !m.TLS || m.User != e2eUser {
		t.Errorf("relayd delivered with TLS=%v user=%q, want STARTTLS and AUTH as %s", m.TLS, m.User, e2eUser)
	}
	parsed, err := mail.ReadMessage(bytes.NewReader(m.Data))
	if err != nil {
		t.Fatalf("delivered message does not parse: %v\n%s", err, m.Data)
	}
	recv := parsed.Header["Received"]
	if len(recv) == 0 || !strings.Contains(recv[0], "[127.0.0.1]") || !strings.Contains(recv[0], "by relay.test") {
		t.Errorf("relayd's Received field missing or wrong: %q", recv)
	}
	if authUser != "" && (len(recv) == 0 || !strings.Contains(recv[0], "(authenticated as "+authUser+")")) {
		t.Errorf("Received field does not name the authenticated user %s: %q", authUser, recv)
	}
	if t.Failed() {
		t.Logf("delivered message:\n%s", m.Data)
	}
}

// TestInteropClients: real SMTP clients submit to relayd; every message
// must reach the upstream with its envelope intact.
func TestInteropClients(t *testing.T) {
	hash, err := bcrypt.GenerateFromPassword([]byte(interopPass), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	pki := newPKI(t, t.TempDir())
	up := newUpstream(t, pki)
	up.start()
	cfg := e2eConfig(cfgParams{SMTPPort: freePort(t), AdminPort: freePort(t), UpstreamPort: up.port, CAFile: pki.caFile})
	cfg += fmt.Sprintf("\n[[team]]\nname = \"apps\"\n\n[[team.user]]\nusername = %q\npassword_hash = %q\n", interopUser, hash)
	p := startRelayd(t, cfg)
	_, port, _ := net.SplitHostPort(p.smtpAddr)

	arrived := func(t *testing.T, rcpt string) upMsg {
		t.Helper()
		return waitForMsg(t, "upstream", up.messages, onlyRcpt(rcpt), 30*time.Second)
	}
	swaks := func(t *testing.T, name, rcpt string, extra ...string) (string, string, error) {
		t.Helper()
		bin := interopTool(t, "swaks", "swaks", false)
		t.Logf("peer swaks: %s", peerVersion(t, bin, "--version"))
		_, token := interopMsg(name, rcpt)
		args := append([]string{"--server", p.smtpAddr, "--helo", "client.test", "--from", "app@example.com",
			"--to", rcpt, "--header", "Subject: interop " + name, "--header", "X-Peer: " + name,
			"--body", "Hello from " + name + ".\n" + token + "\n", "--timeout", "30"}, extra...)
		out, err := runPeer(t, "", bin, args...)
		return out, token, err
	}

	t.Run("swaks", func(t *testing.T) {
		rcpt := "swaks@example.net"
		out, token, err := swaks(t, "swaks", rcpt)
		if err != nil {
			t.Fatalf("swaks: %v\n%s", err, out)
		}
		checkArrived(t, arrived(t, rcpt), rcpt, token, "")
	})

	t.Run("curl", func(t *testing.T) {
		bin := interopTool(t, "curl", "curl", false)
		t.Logf("peer curl: %s", peerVersion(t, bin, "--version"))
		rcpt := "curl@example.net"
		msg, token := interopMsg("curl", rcpt)
		file := filepath.Join(t.TempDir(), "msg.eml")
		if err := os.WriteFile(file, []byte(msg), 0o644); err != nil {
			t.Fatal(err)
		}
		out, err := runPeer(t, "", bin, "-sS", "--noproxy", "*", "--max-time", "30",
			"--url", "smtp://127.0.0.1:"+port+"/client.test",
			"--mail-from", "app@example.com", "--mail-rcpt", rcpt, "-T", file)
		if err != nil {
			t.Fatalf("curl: %v\n%s", err, out)
		}
		checkArrived(t, arrived(t, rcpt), rcpt, token, "")
	})

	t.Run("python3-smtplib", func(t *testing.T) {
		bin := interopTool(t, "python3", "python3", true)
		t.Logf("peer python3: %s", peerVersion(t, bin, "--version"))
		rcpt := "python@example.net"
		msg, token := interopMsg("python3-smtplib", rcpt)
		// local_hostname: smtplib would otherwise ask DNS for the FQDN.
		script := `import smtplib, sys
port, frm, to = int(sys.argv[1]), sys.argv[2], sys.argv[3]
with smtplib.SMTP("127.0.0.1", port, local_hostname="client.test", timeout=30) as s:
    refused = s.sendmail(frm, [to], sys.stdin.buffer.read())
    print("refused:", refused)
    if refused:
        sys.exit(1)
`
		out, err := runPeer(t, msg, bin, "-c", script, port, "app@example.com", rcpt)
		if err != nil {
			t.Fatalf("python3 smtplib: %v\n%s", err, out)
		}
		checkArrived(t, arrived(t, rcpt), rcpt, token, "")
	})

	t.Run("msmtp", func(t *testing.T) {
		bin := interopTool(t, "msmtp", "msmtp", false)
		t.Logf("peer msmtp: %s", peerVersion(t, bin, "--version"))
		rcpt := "msmtp@example.net"
		msg, token := interopMsg("msmtp", rcpt)
		out, err := runPeer(t, msg, bin, "-C", "/dev/null", "--host=127.0.0.1", "--port="+port,
			"--domain=client.test", "--auth=off", "--tls=off", "--from=app@example.com", "--", rcpt)
		if err != nil {
			t.Fatalf("msmtp: %v\n%s", err, out)
		}
		checkArrived(t, arrived(t, rcpt), rcpt, token, "")
	})

	for _, mech := range []string{"LOGIN", "PLAIN"} {
		t.Run("swaks-auth-"+mech, func(t *testing.T) {
			rcpt := "auth-" + strings.ToLower(mech) + "@example.net"
			out, token, err := swaks(t, "swaks-auth-"+mech, rcpt,
				"--auth", mech, "--auth-user", interopUser, "--auth-password", interopPass)
			if err != nil {
				t.Fatalf("swaks --auth %s: %v\n%s", mech, err, out)
			}
			if !strings.Contains(out, "235 2.0.0") {
				t.Errorf("swaks --auth %s: no 235 2.0.0 in the transcript:\n%s", mech, out)
			}
			checkArrived(t, arrived(t, rcpt), rcpt, token, interopUser)
		})
	}

	t.Run("swaks-auth-wrong-password", func(t *testing.T) {
		rcpt := "auth-wrong@example.net"
		out, _, err := swaks(t, "swaks-auth-wrong", rcpt,
			"--auth", "LOGIN", "--auth-user", interopUser, "--auth-password", "not-the-password")
		if err == nil || !strings.Contains(out, "535 5.7.8") {
			t.Errorf("swaks with a wrong password: err %v, want a failure with 535 5.7.8:\n%s", err, out)
		}
		// The later subtests' messages prove relayd went on; this one must
		// never arrive.
		for _, m := range up.messages() {
			if onlyRcpt(rcpt)(m) {
				t.Errorf("message of a failed AUTH arrived: %q", m.To)
			}
		}
	})
}

// TestInteropPostfixUpstream: a real Postfix (STARTTLS, Cyrus SASL via
// sasldb, relaying only for authenticated clients) is relayd's smarthost
// and relays on to a Go sink.
func TestInteropPostfixUpstream(t *testing.T) {
	needPostfix(t, true)
	t.Logf("peer postfix: mail_version %s", peerVersion(t, interopTool(t, "postconf", "postfix", false), "-d", "-h", "mail_version"))
	sink := newPlainSink(t)
	pki := newPKI(t, t.TempDir())
	pfPort := freePort(t)
	pf := startPostfix(t, postfixOpts{SMTPPort: pfPort, RelayHost: fmt.Sprintf("[127.0.0.1]:%d", sink.port),
		PKI: pki, SASLUser: e2eUser, SASLPass: e2ePass})
	p := startRelayd(t, e2eConfig(cfgParams{SMTPPort: freePort(t), AdminPort: freePort(t), UpstreamPort: pfPort, CAFile: pki.caFile}))

	rcpt := "alice@example.net"
	msg, token := interopMsg("postfix-upstream", rcpt)
	res, err := sendMail(p.smtpAddr, "app@example.com", []string{rcpt}, msg, 10*time.Second)
	if err != nil {
		t.Fatalf("send to relayd: %v (reply %q)", err, res.Reply)
	}
	m := waitForMsg(t, "postfix -> sink", sink.messages, onlyRcpt(rcpt), 60*time.Second)
	if m.From != "app@example.com" {
		t.Errorf("envelope from %q, want app@example.com", m.From)
	}
	if !bytes.Contains(m.Data, []byte(token)) {
		t.Errorf("message lacks %q:\n%s", token, m.Data)
	}
	parsed, err := mail.ReadMessage(bytes.NewReader(m.Data))
	if err != nil {
		t.Fatalf("message does not parse: %v\n%s", err, m.Data)
	}
	recv := parsed.Header["Received"]
	if len(recv) < 2 {
		t.Fatalf("want Postfix's and relayd's Received fields, got %q", recv)
	}
	byPostfix := recv[0]
	for _, want := range []string{"by postfix.test (Postfix) with ESMTPSA", "Authenticated sender: " + e2eUser, "using TLS"} {
		if !strings.Contains(byPostfix, want) {
			t.Errorf("Postfix's Received lacks %q: %q", want, byPostfix)
		}
	}
	if !strings.Contains(recv[1], "by relay.test") || !strings.Contains(recv[1], res.QueueID) {
		t.Errorf("relayd's Received (queue ID %s) missing: %q", res.QueueID, recv[1])
	}
	if log := pf.Maillog(); !strings.Contains(log, "sasl_method=PLAIN, sasl_username="+e2eUser) &&
		!strings.Contains(log, "sasl_method=LOGIN, sasl_username="+e2eUser) {
		t.Errorf("Postfix did not log a SASL login of %s:\n%s", e2eUser, log)
	}
	if t.Failed() {
		t.Logf("message at the sink:\n%s", m.Data)
	}
}

// TestInteropPostfixInFront: a real Postfix whose relayhost is relayd; the
// message is injected with Postfix's sendmail(1) and must reach relayd's
// upstream with its envelope intact.
func TestInteropPostfixInFront(t *testing.T) {
	needPostfix(t, false)
	interopTool(t, "sendmail", "postfix", false)
	t.Logf("peer postfix: mail_version %s", peerVersion(t, interopTool(t, "postconf", "postfix", false), "-d", "-h", "mail_version"))
	pki := newPKI(t, t.TempDir())
	up := newUpstream(t, pki)
	up.start()
	p := startRelayd(t, e2eConfig(cfgParams{SMTPPort: freePort(t), AdminPort: freePort(t), UpstreamPort: up.port, CAFile: pki.caFile}))
	host, port, _ := net.SplitHostPort(p.smtpAddr)
	pf := startPostfix(t, postfixOpts{RelayHost: fmt.Sprintf("[%s]:%s", host, port)})

	rcpt := "bob@example.net"
	msg, token := interopMsg("postfix-in-front", rcpt)
	if err := pf.Sendmail("app@example.com", rcpt, msg); err != nil {
		t.Fatal(err)
	}
	m := waitForMsg(t, "postfix -> relayd -> upstream", up.messages, onlyRcpt(rcpt), 60*time.Second)
	checkArrived(t, m, rcpt, token, "")
	parsed, err := mail.ReadMessage(bytes.NewReader(m.Data))
	if err != nil {
		t.Fatal(err)
	}
	recv := parsed.Header["Received"]
	if len(recv) < 2 || !strings.Contains(recv[0], "from postfix.test") || !strings.Contains(strings.Join(recv[1:], "\n"), "by postfix.test (Postfix") {
		t.Errorf("want relayd's Received from postfix.test above Postfix's own, got %q", recv)
	}
	want := "relay=127.0.0.1[127.0.0.1]:" + port
	if log := pf.WaitLog(want, 10*time.Second); !strings.Contains(log, want) {
		t.Errorf("Postfix's log does not show delivery to relayd at port %s:\n%s", port, log)
	}
}
