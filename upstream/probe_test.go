package upstream

import (
	"context"
	"encoding/base64"
	"fmt"
	"net"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-smtp"
)

// stepNames is "resolve connect ..." with "!" before a failed step.
func stepNames(steps []ProbeStep) string {
	names := make([]string, len(steps))
	for i, s := range steps {
		names[i] = string(s.Step)
		if !s.OK {
			names[i] = "!" + names[i]
		}
	}
	return strings.Join(names, " ")
}

// lastErr is the failed last step's error, failing the test if it worked.
func lastErr(t *testing.T, steps []ProbeStep) *Error {
	t.Helper()
	if len(steps) == 0 || steps[len(steps)-1].OK || steps[len(steps)-1].Err == nil {
		t.Fatalf("probe did not fail: %s", stepNames(steps))
	}
	for _, s := range steps[:len(steps)-1] {
		if !s.OK {
			t.Fatalf("a step before the last failed: %s", stepNames(steps))
		}
	}
	return steps[len(steps)-1].Err
}

// noSecret fails when the password or its base64 forms show in a step.
func noSecret(t *testing.T, steps []ProbeStep) {
	t.Helper()
	plain := base64.StdEncoding.EncodeToString([]byte("\x00" + testUser + "\x00" + testPass))
	for _, s := range steps {
		text := s.Detail
		if s.Err != nil {
			text += s.Err.Error()
		}
		for _, secret := range []string{testPass, base64.StdEncoding.EncodeToString([]byte(testPass)), plain} {
			if strings.Contains(text, secret) {
				t.Errorf("step %s shows a secret: %q", s.Step, text)
			}
		}
	}
}

func TestProbeSend(t *testing.T) {
	s := newTestServer(t, serverConfig{tls: "starttls", mechs: []string{"PLAIN"}})
	p, _ := newTestPool(t, Options{})
	prof := s.profile("sub")
	prof.TLS, prof.Username, prof.Password = TLSStartTLSRequired, testUser, testPass
	var progress []ProbeStep
	steps := p.Probe(context.Background(), prof, ProbeOptions{From: testUser, To: []string{"bob@example.org"},
		Send: true, Hostname: "relay.test", Progress: func(s ProbeStep) { progress = append(progress, s) }})
	want := "resolve connect banner ehlo starttls auth mail rcpt data dot quit"
	if got := stepNames(steps); got != want {
		t.Fatalf("steps %q, want %q: %+v", got, want, steps)
	}
	if len(progress) != len(steps) || progress[3].Detail != steps[3].Detail {
		t.Errorf("Progress saw %d steps, Probe returned %d", len(progress), len(steps))
	}
	byStep := map[Step]string{}
	for _, st := range steps {
		byStep[st.Step] = st.Detail
	}
	for step, want := range map[Step]string{
		StepResolve:  "127.0.0.1 is an IP address",
		StepConnect:  fmt.Sprintf("127.0.0.1:%d", s.port),
		StepBanner:   "220 server.test",
		StepEHLO:     "EHLO client.test: ",
		StepStartTLS: `; certificate "relayd test" issued by "relayd test", expires `,
		StepAuth:     "PLAIN as " + testUser,
		StepMail:     "MAIL FROM:<" + testUser + ">",
		StepRcpt:     "RCPT TO:<bob@example.org>: 250",
		StepData:     "354",
		StepDot:      "250",
		StepQuit:     "221",
	} {
		if !strings.Contains(byStep[step], want) {
			t.Errorf("step %s detail %q, want it to contain %q", step, byStep[step], want)
		}
	}
	if d := byStep[StepStartTLS]; !strings.HasPrefix(d, "TLS 1.3 TLS_") || !strings.HasSuffix(d, "(in 0 days: renew soon); verified") {
		t.Errorf("starttls detail %q", d)
	}
	noSecret(t, steps)
	txs := s.transactions()
	if len(txs) != 1 || !txs[0].TLS || txs[0].User != testUser {
		t.Fatalf("transactions %+v", txs)
	}
	for _, h := range []string{"Subject: relayd test message from relay.test\r\n", "From: <" + testUser + ">\r\n",
		"To: <bob@example.org>\r\n", "Date: ", "Message-ID: <"} {
		if !strings.Contains(txs[0].Body, h) {
			t.Errorf("test message lacks %q:\n%s", h, txs[0].Body)
		}
	}
	if got := connCount(p, "sub", "ok"); got != 0 {
		t.Errorf("a probe counted in relayd_upstream_connections_total: %v", got)
	}
}

func TestProbeEnvelopeOnly(t *testing.T) {
	s := newTestServer(t, serverConfig{})
	p, _ := newTestPool(t, Options{})
	steps := p.Probe(context.Background(), s.profile("plain"), ProbeOptions{From: "a@example.com",
		To: []string{"b@example.org", "c@example.org"}, Envelope: true})
	if got, want := stepNames(steps), "resolve connect banner ehlo starttls auth mail rcpt rcpt rset quit"; got != want {
		t.Fatalf("steps %q, want %q", got, want)
	}
	if d := steps[4].Detail; d != `not used (tls = "none"): plain text` {
		t.Errorf("starttls detail %q", d)
	}
	if d := steps[5].Detail; d != "not used (no username)" {
		t.Errorf("auth detail %q", d)
	}
	if n := len(s.transactions()); n != 0 {
		t.Errorf("%d messages sent without Send", n)
	}
	if !strings.Contains(s.transcript(), "RSET\r\nQUIT\r\n") {
		t.Errorf("no RSET then QUIT in %q", s.transcript())
	}
}

func TestProbeFailures(t *testing.T) {
	closed, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closedPort := closed.Addr().(*net.TCPAddr).Port
	closed.Close()

	s := newTestServer(t, serverConfig{tls: "implicit", mechs: []string{"PLAIN", "LOGIN"}})
	p, _ := newTestPool(t, Options{})
	for _, tc := range []struct {
		name  string
		setup func(prof *Target)
		mail  error
		rcpt  error
		steps string
		diag  string
	}{
		{name: "refused", setup: func(prof *Target) { prof.Port = closedPort },
			steps: "resolve !connect",
			diag:  fmt.Sprintf("could not connect to 127.0.0.1:%d (connection refused): the host is not a mail server or the port is closed or firewalled", closedPort)},
		{name: "wrong password", setup: func(prof *Target) { prof.Password = "wrong" },
			steps: "resolve connect tls banner ehlo !auth",
			diag:  fmt.Sprintf("authentication failed for %s at 127.0.0.1:%d: wrong username or password", testUser, s.port)},
		{name: "plain text to a TLS port", setup: func(prof *Target) { prof.TLS, prof.Timeout = TLSStartTLSRequired, 200*time.Millisecond },
			steps: "resolve connect !banner", diag: `set tls = "implicit"`},
		{name: "sender", mail: smtpErr(553, smtp.EnhancedCode{5, 7, 1}, "Sender not owned"),
			steps: "resolve connect tls banner ehlo auth !mail",
			diag: fmt.Sprintf("sender address x@example.com rejected by 127.0.0.1:%d: this account may not send as "+
				"x@example.com; set from_address or use the account's own address", s.port)},
		{name: "recipient", rcpt: smtpErr(550, smtp.EnhancedCode{5, 1, 1}, "No such user"),
			steps: "resolve connect tls banner ehlo auth mail !rcpt",
			diag:  "recipient nobody@example.org rejected by"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s.set(func(s *testServer) {
				s.mailErr = tc.mail
				s.rcptErr["nobody@example.org"] = tc.rcpt
			})
			prof := s.profile("p")
			prof.TLS, prof.Username, prof.Password = TLSImplicit, testUser, testPass
			if tc.setup != nil {
				tc.setup(prof)
			}
			steps := p.Probe(context.Background(), prof, ProbeOptions{From: "x@example.com",
				To: []string{"nobody@example.org"}, Envelope: true})
			e := lastErr(t, steps)
			if got := stepNames(steps); got != tc.steps {
				t.Errorf("steps %q, want %q", got, tc.steps)
			}
			if !strings.Contains(e.Error(), tc.diag) {
				t.Errorf("diagnosis %q, want %q", e, tc.diag)
			}
			noSecret(t, steps)
		})
	}
}

func TestProbeDirect(t *testing.T) {
	f := newMXFixture(t)
	good := newTestServer(t, serverConfig{})
	f.r.mx["example.org."] = []*net.MX{mx(10, "a.mx.test."), mx(20, "b.mx.test.")}
	f.host("a.mx.test", "192.0.2.1", 0) // refused
	f.host("b.mx.test", "192.0.2.2", good.port)
	steps := f.p.Probe(context.Background(), directProfile("direct"), ProbeOptions{From: "a@example.com",
		To: []string{"x@example.org"}, Send: true})
	if got, want := stepNames(steps), "resolve connect banner ehlo starttls auth mail rcpt data dot quit"; got != want {
		t.Fatalf("steps %q, want %q: %+v", got, want, steps)
	}
	if d := steps[0].Detail; d != "example.org MX: a.mx.test (192.0.2.1), b.mx.test (192.0.2.2)" {
		t.Errorf("resolve detail %q", d)
	}
	if d := steps[1].Detail; d != "b.mx.test:25 (192.0.2.2); after a.mx.test:25 (192.0.2.1): connection refused" {
		t.Errorf("connect detail %q", d)
	}
	if n := len(good.transactions()); n != 1 {
		t.Errorf("%d messages arrived", n)
	}

	f.r.mx["null.test."] = []*net.MX{mx(0, ".")}
	steps = f.p.Probe(context.Background(), directProfile("direct"), ProbeOptions{To: []string{"x@null.test"}})
	if e := lastErr(t, steps); e.Step != StepResolve || !strings.Contains(e.Error(), "null MX") {
		t.Errorf("null MX: %v", e)
	}
	steps = f.p.Probe(context.Background(), directProfile("direct"), ProbeOptions{})
	if e := lastErr(t, steps); !strings.Contains(e.Error(), "give a recipient address") {
		t.Errorf("no recipient: %v", e)
	}
	steps = f.p.Probe(context.Background(), directProfile("direct"), ProbeOptions{To: []string{"a@x.test", "b@y.test"}})
	if e := lastErr(t, steps); !strings.Contains(e.Error(), "several domains") {
		t.Errorf("two domains: %v", e)
	}
}

func TestProbeResolveHost(t *testing.T) {
	f := newMXFixture(t)
	s := newTestServer(t, serverConfig{})
	f.host("smtp.example.test", "192.0.2.7", 0)
	f.d.route("smtp.example.test", s.port) // the dialer gets the name, as net.Dialer would
	prof := s.profile("smart")
	prof.Host, prof.Port = "smtp.example.test", 0
	steps := f.p.Probe(context.Background(), prof, ProbeOptions{})
	if got, want := stepNames(steps), "resolve connect banner ehlo starttls auth quit"; got != want {
		t.Fatalf("steps %q, want %q: %+v", got, want, steps)
	}
	if d := steps[0].Detail; d != "smtp.example.test -> 192.0.2.7" {
		t.Errorf("resolve detail %q", d)
	}
	if d := steps[1].Detail; d != "smtp.example.test:25 (127.0.0.1)" {
		t.Errorf("connect detail %q", d)
	}

	prof.Host = "nxdomain.example.test"
	steps = f.p.Probe(context.Background(), prof, ProbeOptions{})
	if e := lastErr(t, steps); e.Step != StepResolve ||
		e.Error() != "profile smart: could not resolve nxdomain.example.test (no such host): check the host name and the DNS" {
		t.Errorf("nxdomain: %v", e)
	}
	if slices.Contains(f.d.calls(), "nxdomain.example.test:25") {
		t.Errorf("dialled after a failed lookup: %q", f.d.calls())
	}
}

func TestProbeCancelled(t *testing.T) {
	peer := newRawPeer(t, rawHang)
	p, _ := newTestPool(t, Options{})
	ctx, cancel := context.WithCancel(context.Background())
	steps := p.Probe(ctx, peer.profile("hang"), ProbeOptions{Progress: func(s ProbeStep) {
		if s.Step == StepConnect {
			cancel()
		}
	}})
	if e := lastErr(t, steps); e.Step != StepBanner || e.Text != "cancelled" {
		t.Errorf("cancelled probe: %v", e)
	}
}

func TestProbeBadProfile(t *testing.T) {
	p, _ := newTestPool(t, Options{})
	steps := p.Probe(context.Background(), &Target{Name: "bad", Host: "a b"}, ProbeOptions{})
	if e := lastErr(t, steps); !strings.Contains(e.Error(), "the profile cannot be used") {
		t.Errorf("bad host: %v", e)
	}
	steps = p.Probe(context.Background(), &Target{Name: "x", Host: "127.0.0.1"}, ProbeOptions{Send: true})
	if e := lastErr(t, steps); e.Step != StepMail || !strings.Contains(e.Error(), "needs a sender") {
		t.Errorf("send without sender: %v", e)
	}
}
