package upstream

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-smtp"
)

func TestTemporaryReplies(t *testing.T) {
	for _, tc := range []struct {
		name string
		set  func(s *testServer)
		step Step
		code int
	}{
		{"421 at MAIL", func(s *testServer) { s.mailErr = smtpErr(421, smtp.EnhancedCode{4, 3, 2}, "shutting down") }, StepMail, 421},
		{"451 at MAIL", func(s *testServer) { s.mailErr = smtpErr(451, smtp.EnhancedCode{4, 3, 0}, "try later") }, StepMail, 451},
		{"451 at DATA", func(s *testServer) { s.dataErr = smtpErr(451, smtp.EnhancedCode{4, 3, 0}, "try later") }, StepDot, 451},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newTestServer(t, serverConfig{})
			s.set(tc.set)
			p, _ := newTestPool(t, Options{})
			e := sendErr(t, p, s.profile("p"), testEnv("bob@example.org"))
			wantStep(t, e, tc.step, true)
			if e.Code != tc.code || e.Ambiguous {
				t.Errorf("code %d ambiguous %v", e.Code, e.Ambiguous)
			}
			if !strings.Contains(e.Error(), "temporary failure, relayd will retry") {
				t.Errorf("diagnosis %q", e)
			}
		})
	}
}

func TestRcptTemporary(t *testing.T) {
	s := newTestServer(t, serverConfig{})
	s.set(func(s *testServer) {
		s.rcptErr["bob@example.org"] = smtpErr(451, smtp.EnhancedCode{4, 2, 1}, "mailbox busy")
	})
	p, _ := newTestPool(t, Options{})
	res := p.Send(t.Context(), s.profile("p"), testEnv("bob@example.org"))
	if res.Err != nil || res.Rcpt[0] == nil {
		t.Fatalf("Err %v, Rcpt %v", res.Err, res.Rcpt)
	}
	wantStep(t, res.Rcpt[0], StepRcpt, true)
	if len(s.transactions()) != 0 {
		t.Errorf("DATA sent without an accepted recipient")
	}
}

func TestDataCommandRefused(t *testing.T) {
	peer := newRawPeer(t, rawNormal)
	peer.replies["DATA"] = "451 4.3.0 not now"
	p, _ := newTestPool(t, Options{})
	e := sendErr(t, p, peer.profile("p"), testEnv("bob@example.org"))
	wantStep(t, e, StepData, true)
	if e.Code != 451 || e.Enhanced != "4.3.0" || e.Text != "not now" {
		t.Errorf("reply %d %q %q", e.Code, e.Enhanced, e.Text)
	}
}

func TestOneRecipientRefused(t *testing.T) {
	s := newTestServer(t, serverConfig{})
	s.set(func(s *testServer) {
		s.rcptErr["carol@example.org"] = smtpErr(550, smtp.EnhancedCode{5, 1, 1}, "no such user")
	})
	p, _ := newTestPool(t, Options{})
	prof := s.profile("p")
	res := p.Send(t.Context(), prof, testEnv("bob@example.org", "carol@example.org"))
	if res.Err != nil || res.Rcpt[0] != nil || res.Rcpt[1] == nil {
		t.Fatalf("Err %v Rcpt %v", res.Err, res.Rcpt)
	}
	e := res.Rcpt[1]
	wantStep(t, e, StepRcpt, false)
	want := fmt.Sprintf("profile p: recipient carol@example.org rejected by 127.0.0.1:%d: 550 5.1.1 no such user "+
		"(permanent failure, the message bounces)", s.port)
	if e.Error() != want {
		t.Errorf("diagnosis\n got %q\nwant %q", e, want)
	}
	if txs := s.transactions(); len(txs) != 1 || strings.Join(txs[0].To, ",") != "bob@example.org" {
		t.Errorf("server transactions %+v", txs)
	}
	// RCPT failures leave the connection usable.
	mustSend(t, p, prof, testEnv("bob@example.org"))
	if n := len(s.connections()); n != 1 {
		t.Errorf("%d connections, want 1", n)
	}
}

func TestPermanentAtDot(t *testing.T) {
	s := newTestServer(t, serverConfig{})
	s.set(func(s *testServer) { s.dataErr = smtpErr(554, smtp.EnhancedCode{5, 7, 1}, "spam") })
	p, _ := newTestPool(t, Options{})
	prof := s.profile("p")
	e := sendErr(t, p, prof, testEnv("bob@example.org"))
	wantStep(t, e, StepDot, false)
	if e.Code != 554 || e.Enhanced != "5.7.1" || e.Ambiguous {
		t.Errorf("reply %d %s ambiguous %v", e.Code, e.Enhanced, e.Ambiguous)
	}
	// A failed transaction does not go back to the pool.
	s.set(func(s *testServer) { s.dataErr = nil })
	mustSend(t, p, prof, testEnv("bob@example.org"))
	if n := len(s.connections()); n != 2 {
		t.Errorf("%d connections, want 2", n)
	}
}

func TestSenderRejected(t *testing.T) {
	s := newTestServer(t, serverConfig{})
	s.set(func(s *testServer) {
		s.mailErr = smtpErr(550, smtp.EnhancedCode{5, 7, 60}, "SendAsDenied; not allowed to send as sender@example.com")
	})
	p, _ := newTestPool(t, Options{})
	e := sendErr(t, p, s.profile("office365"), testEnv("bob@example.org"))
	wantStep(t, e, StepMail, false)
	want := fmt.Sprintf("profile office365: sender address sender@example.com rejected by 127.0.0.1:%d: "+
		"this account may not send as sender@example.com; set from_address or use the account's own address "+
		"(550 5.7.60 SendAsDenied; not allowed to send as sender@example.com)", s.port)
	if e.Error() != want {
		t.Errorf("diagnosis\n got %q\nwant %q", e, want)
	}
}

func TestNullSender(t *testing.T) {
	peer := newRawPeer(t, rawNormal)
	p, _ := newTestPool(t, Options{})
	env := testEnv("bob@example.org")
	env.From = ""
	mustSend(t, p, peer.profile("p"), env)
	if !contains(peer.received(), "MAIL FROM:<>") {
		t.Errorf("lines %q", peer.received())
	}
}

func TestAmbiguousDropAfterDot(t *testing.T) {
	peer := newRawPeer(t, rawDropAfterDot)
	p, logs := newTestPool(t, Options{})
	e := sendErr(t, p, peer.profile("p"), testEnv("bob@example.org"))
	wantStep(t, e, StepDot, true)
	if !e.Ambiguous || !strings.Contains(e.Error(), "may arrive twice") {
		t.Errorf("ambiguous %v: %q", e.Ambiguous, e)
	}
	if got := ambiguousCount(p, "p"); got != 1 {
		t.Errorf("relayd_delivery_ambiguous_total = %v, want 1", got)
	}
	if !strings.Contains(logs.String(), "level=WARN") {
		t.Errorf("no warning logged: %s", logs)
	}
}

func TestAmbiguousTimeoutAfterDot(t *testing.T) {
	peer := newRawPeer(t, rawMuteAfterDot)
	p, _ := newTestPool(t, Options{})
	prof := peer.profile("p")
	prof.DataTimeout = 200 * time.Millisecond
	e := sendErr(t, p, prof, testEnv("bob@example.org"))
	wantStep(t, e, StepDot, true)
	if !e.Ambiguous || e.Text != "timeout" {
		t.Errorf("ambiguous %v text %q", e.Ambiguous, e.Text)
	}
	if got := ambiguousCount(p, "p"); got != 1 {
		t.Errorf("relayd_delivery_ambiguous_total = %v, want 1", got)
	}
}

func TestQuotedLocalPartOnTheWire(t *testing.T) {
	const want = `RCPT TO:<"john NOTIFY=SUCCESS doe"@example.org>`
	for _, to := range []string{`"john NOTIFY=SUCCESS doe"@example.org`, `john NOTIFY=SUCCESS doe@example.org`} {
		peer := newRawPeer(t, rawNormal)
		p, _ := newTestPool(t, Options{})
		env := testEnv(to)
		env.From = `"jane doe"@example.com`
		mustSend(t, p, peer.profile("p"), env)
		lines := peer.received()
		if !contains(lines, want) || !contains(lines, `MAIL FROM:<"jane doe"@example.com>`) {
			t.Errorf("To %q: lines %q", to, lines)
		}
	}

	// A server that knows DSN sees one recipient and no NOTIFY parameter.
	s := newTestServer(t, serverConfig{dsn: true})
	p, _ := newTestPool(t, Options{})
	mustSend(t, p, s.profile("p"), testEnv(`"john NOTIFY=SUCCESS doe"@example.org`))
	tx := s.transactions()[0]
	if len(tx.To) != 1 || tx.To[0] != "john NOTIFY=SUCCESS doe@example.org" || len(tx.Rcpt[0].Notify) != 0 {
		t.Errorf("server got %q notify %v", tx.To, tx.Rcpt[0].Notify)
	}
}

func TestInvalidAddresses(t *testing.T) {
	peer := newRawPeer(t, rawNormal)
	p, _ := newTestPool(t, Options{})
	prof := peer.profile("p")

	res := p.Send(t.Context(), prof, testEnv("bob@example.org\r\nRCPT TO:<evil@example.net>", "<x>@example.org", "ok@example.org"))
	if res.Err != nil || res.Rcpt[0] == nil || res.Rcpt[1] == nil || res.Rcpt[2] != nil {
		t.Fatalf("Err %v Rcpt %v", res.Err, res.Rcpt)
	}
	for _, e := range res.Rcpt[:2] {
		wantStep(t, e, StepRcpt, false)
		if e.Enhanced != "5.1.3" || strings.ContainsAny(e.Error(), "\r\n") {
			t.Errorf("enhanced %q: %q", e.Enhanced, e)
		}
	}
	for _, l := range peer.received() {
		if strings.Contains(l, "evil") || strings.Contains(l, "<x>") {
			t.Errorf("bad address on the wire: %q", l)
		}
	}

	env := testEnv("bob@example.org")
	env.From = "a@example.com\x00"
	e := sendErr(t, p, prof, env)
	wantStep(t, e, StepMail, false)
	if e.Enhanced != "5.1.7" {
		t.Errorf("enhanced %q", e.Enhanced)
	}
	if got := connCount(p, "p", "ok"); got != 1 {
		t.Errorf("a connection was opened for an invalid sender: ok = %v", got)
	}
}

func contains(lines []string, want string) bool {
	for _, l := range lines {
		if l == want {
			return true
		}
	}
	return false
}

// TestSTARTTLSInjection: plain text sent along with the 220 to STARTTLS
// must not be taken as a reply under TLS (RFC 3207 §5, CVE-2011-0411).
func TestSTARTTLSInjection(t *testing.T) {
	peer := newRawPeer(t, rawNormal)
	peer.ehlo = []string{"STARTTLS"}
	peer.replies["STARTTLS"] = "220 2.0.0 ready\r\n250 2.0.0 injected"
	p, _ := newTestPool(t, Options{})
	prof := peer.profile("p")
	prof.TLS = TLSStartTLSRequired
	e := sendErr(t, p, prof, testEnv("bob@example.org"))
	wantStep(t, e, StepStartTLS, true)
	if !strings.Contains(e.Error(), "RFC 3207") {
		t.Errorf("diagnosis %q", e)
	}
}

func TestInvalidProfiles(t *testing.T) {
	p, _ := newTestPool(t, Options{})
	for _, prof := range []*Target{
		{Name: "badresolver", Type: "direct", Resolver: "dns.example.com:53"},
		{Name: "directport", Type: "direct", Port: 70000},
		{Name: "badtype", Type: "lmtp", Host: "127.0.0.1"},
		{Name: "badtokenurl", Type: "smtp", Host: "127.0.0.1", OAuth2: &OAuth2{TokenURL: "ftp://x/t"}},
		{Name: "nofile", Type: "smtp", Host: "127.0.0.1", OAuth2: &OAuth2{TokenURL: "https://x/t", Grant: "refresh_token"}},
		{Name: "badgrant", Type: "smtp", Host: "127.0.0.1", OAuth2: &OAuth2{TokenURL: "https://x/t", Grant: "password"}},
		{Name: "nohost", Type: "smtp"},
		{Name: "badtls", Type: "smtp", Host: "127.0.0.1", TLS: "ssl"},
		{Name: "badhelo", Type: "smtp", Host: "127.0.0.1", Helo: "a b"},
	} {
		e := sendErr(t, p, prof, testEnv("bob@example.org"))
		wantStep(t, e, StepConnect, true)
		if !strings.HasPrefix(e.Error(), "profile "+prof.Name+": the profile cannot be used: ") {
			t.Errorf("diagnosis %q", e)
		}
	}
}
