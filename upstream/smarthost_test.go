package upstream

import (
	"context"
	"crypto/x509"
	"encoding/base64"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-smtp"
)

func TestPlainDelivery(t *testing.T) {
	s := newTestServer(t, serverConfig{})
	p, _ := newTestPool(t, Options{})
	prof := s.profile("plain")
	res := mustSend(t, p, prof, testEnv("bob@example.org", "carol@example.org"))
	if want := fmt.Sprintf("127.0.0.1:%d", s.port); res.Host != want {
		t.Errorf("Host = %q, want %q", res.Host, want)
	}
	txs := s.transactions()
	if len(txs) != 1 {
		t.Fatalf("server got %d transactions, want 1", len(txs))
	}
	tx := txs[0]
	if tx.From != "sender@example.com" || strings.Join(tx.To, ",") != "bob@example.org,carol@example.org" {
		t.Errorf("envelope %q -> %q", tx.From, tx.To)
	}
	if tx.Body != string(testBody) {
		t.Errorf("body %q, want %q", tx.Body, testBody)
	}
	if tx.Opts.Body != "" {
		t.Errorf("BODY=%s for a 7-bit message", tx.Opts.Body)
	}
	if !strings.Contains(s.transcript(), "EHLO client.test\r\n") {
		t.Errorf("no EHLO with the profile's helo in %q", s.transcript())
	}
	if got := connCount(p, "plain", "ok"); got != 1 {
		t.Errorf("connections ok = %v, want 1", got)
	}
}

func TestEightBitMIME(t *testing.T) {
	s := newTestServer(t, serverConfig{})
	p, _ := newTestPool(t, Options{})
	env := testEnv("bob@example.org")
	env.EightBit = true
	mustSend(t, p, s.profile("p"), env)
	if got := s.transactions()[0].Opts.Body; got != smtp.Body8BitMIME {
		t.Errorf("BODY = %q, want 8BITMIME", got)
	}
}

func TestSMTPUTF8(t *testing.T) {
	env := testEnv("jörg@example.org")
	env.UTF8 = true

	s := newTestServer(t, serverConfig{smtputf8: true})
	p, _ := newTestPool(t, Options{})
	mustSend(t, p, s.profile("p"), env)
	if tx := s.transactions()[0]; !tx.Opts.UTF8 || tx.To[0] != "jörg@example.org" {
		t.Errorf("UTF8 %v, To %q", tx.Opts.UTF8, tx.To)
	}

	s2 := newTestServer(t, serverConfig{})
	e := sendErr(t, p, s2.profile("p"), env)
	wantStep(t, e, StepMail, false)
	if e.Enhanced != "5.6.7" || !strings.Contains(e.Error(), "SMTPUTF8") {
		t.Errorf("error %q enhanced %q", e, e.Enhanced)
	}
}

func TestStartTLSRequiredWithoutSTARTTLS(t *testing.T) {
	// The server would take AUTH in plain text; the client must not offer it.
	s := newTestServer(t, serverConfig{mechs: []string{"PLAIN", "LOGIN"}, insecureAuth: true})
	p, logs := newTestPool(t, Options{})
	prof := s.profile("o365")
	prof.TLS, prof.Username, prof.Password = TLSStartTLSRequired, testUser, testPass
	e := sendErr(t, p, prof, testEnv("bob@example.org"))
	wantStep(t, e, StepStartTLS, true)
	if !strings.Contains(e.Error(), "does not offer STARTTLS") {
		t.Errorf("diagnosis %q", e)
	}
	checkNoPassword(t, s, e, logs)
	if s.auths() != 0 || len(s.transactions()) != 0 {
		t.Errorf("auth attempts %d, transactions %d", s.auths(), len(s.transactions()))
	}
	if got := connCount(p, "o365", "tls_error"); got != 1 {
		t.Errorf("connections tls_error = %v, want 1", got)
	}
}

func TestStartTLSOpportunisticFallsBackToPlain(t *testing.T) {
	s := newTestServer(t, serverConfig{mechs: []string{"PLAIN"}, insecureAuth: true})
	p, logs := newTestPool(t, Options{})
	prof := s.profile("opp")
	prof.TLS = TLSStartTLS
	mustSend(t, p, prof, testEnv("bob@example.org"))
	if tx := s.transactions()[0]; tx.TLS || tx.User != "" {
		t.Errorf("TLS %v user %q, want plain without AUTH", tx.TLS, tx.User)
	}

	// With credentials the password must not go out in plain text.
	prof = s.profile("opp-auth")
	prof.TLS, prof.Username, prof.Password = TLSStartTLS, testUser, testPass
	e := sendErr(t, p, prof, testEnv("bob@example.org"))
	wantStep(t, e, StepStartTLS, true)
	if !strings.Contains(e.Error(), "never sends the password for "+testUser) {
		t.Errorf("diagnosis %q", e)
	}
	checkNoPassword(t, s, e, logs)
	if s.auths() != 0 {
		t.Errorf("auth attempts %d, want 0", s.auths())
	}
}

func TestAuthMechanisms(t *testing.T) {
	all := []string{"LOGIN", "PLAIN", "CRAM-MD5"}
	for _, tc := range []struct {
		name    string
		offered []string
		allowed []string
		want    string
	}{
		{"default prefers CRAM-MD5", all, nil, "CRAM-MD5"},
		{"default PLAIN over LOGIN", []string{"LOGIN", "PLAIN"}, nil, "PLAIN"},
		{"PLAIN", all, []string{"plain"}, "PLAIN"},
		{"LOGIN", all, []string{"LOGIN"}, "LOGIN"},
		{"CRAM-MD5", all, []string{"CRAM-MD5"}, "CRAM-MD5"},
		{"first configured offered", []string{"LOGIN"}, []string{"CRAM-MD5", "LOGIN"}, "LOGIN"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newTestServer(t, serverConfig{tls: "starttls", mechs: tc.offered})
			p, logs := newTestPool(t, Options{})
			prof := s.profile("auth")
			prof.TLS, prof.Username, prof.Password, prof.AuthMechanisms = TLSStartTLSRequired, testUser, testPass, tc.allowed
			mustSend(t, p, prof, testEnv("bob@example.org"))
			tx := s.transactions()[0]
			if !tx.TLS || tx.User != testUser {
				t.Errorf("TLS %v user %q", tx.TLS, tx.User)
			}
			if !strings.Contains(logs.String(), "auth="+tc.want) {
				t.Errorf("mechanism: want %s in logs %s", tc.want, logs)
			}
			checkNoPassword(t, s, nil, logs)
		})
	}
}

func TestAuthFailure(t *testing.T) {
	s := newTestServer(t, serverConfig{tls: "starttls", mechs: []string{"PLAIN"}})
	p, logs := newTestPool(t, Options{})
	prof := s.profile("o365")
	prof.TLS, prof.Username, prof.Password = TLSStartTLSRequired, testUser, "wrong-"+testPass
	e := sendErr(t, p, prof, testEnv("bob@example.org"))
	// Temporary on purpose: a changed password must not bounce the queue.
	wantStep(t, e, StepAuth, true)
	want := fmt.Sprintf("profile o365: authentication failed for %s at 127.0.0.1:%d: wrong username or password "+
		"(535 5.7.8 Authentication credentials invalid)", testUser, s.port)
	if !strings.HasPrefix(e.Error(), want) {
		t.Errorf("diagnosis\n got %q\nwant %q...", e, want)
	}
	if e.Code != 535 || e.Enhanced != "5.7.8" {
		t.Errorf("code %d %s", e.Code, e.Enhanced)
	}
	prof.Password = "wrong-" + testPass
	checkNoPassword(t, s, e, logs, prof.Password)
	if got := connCount(p, "o365", "auth_failed"); got != 1 {
		t.Errorf("connections auth_failed = %v, want 1", got)
	}
}

func TestAuthNoAllowedMechanism(t *testing.T) {
	s := newTestServer(t, serverConfig{tls: "starttls", mechs: []string{"LOGIN"}})
	p, _ := newTestPool(t, Options{})
	prof := s.profile("p")
	prof.TLS, prof.Username, prof.Password, prof.AuthMechanisms = TLSStartTLSRequired, testUser, testPass, []string{"CRAM-MD5"}
	e := sendErr(t, p, prof, testEnv("bob@example.org"))
	wantStep(t, e, StepAuth, true)
	if !strings.Contains(e.Error(), "offers AUTH LOGIN, none of the allowed mechanisms (CRAM-MD5)") {
		t.Errorf("diagnosis %q", e)
	}
	if s.auths() != 0 {
		t.Errorf("auth attempts %d", s.auths())
	}
}

func TestAuthPlainTextWhenTLSNone(t *testing.T) {
	s := newTestServer(t, serverConfig{mechs: []string{"PLAIN"}, insecureAuth: true})
	p, _ := newTestPool(t, Options{})
	prof := s.profile("lan")
	prof.Username, prof.Password = testUser, testPass
	mustSend(t, p, prof, testEnv("bob@example.org"))
	if tx := s.transactions()[0]; tx.User != testUser || tx.TLS {
		t.Errorf("user %q TLS %v", tx.User, tx.TLS)
	}
}

func TestImplicitTLS(t *testing.T) {
	s := newTestServer(t, serverConfig{tls: "implicit", mechs: []string{"PLAIN"}})
	p, _ := newTestPool(t, Options{})
	prof := s.profile("smtps")
	prof.TLS, prof.Username, prof.Password = TLSImplicit, testUser, testPass
	mustSend(t, p, prof, testEnv("bob@example.org"))
	if tx := s.transactions()[0]; !tx.TLS || tx.User != testUser {
		t.Errorf("TLS %v user %q", tx.TLS, tx.User)
	}
	if strings.Contains(s.transcript(), "EHLO") {
		t.Errorf("plain text on an implicit TLS connection")
	}
}

func TestTLSVerifyFailures(t *testing.T) {
	for _, tc := range []struct {
		name  string
		cert  certOpts
		roots func(s *testServer) *x509.CertPool
		mode  TLSMode
		want  []string
	}{
		{"unknown authority", certOpts{}, func(*testServer) *x509.CertPool { return x509.NewCertPool() },
			TLSStartTLSRequired, []string{"unknown authority", "ca_file", "tls_verify = false"}},
		{"name mismatch", certOpts{dnsNames: []string{"mail.example.org"}}, nil,
			TLSStartTLSRequired, []string{"does not match the host name", "127.0.0.1"}},
		{"expired", certOpts{expired: true}, nil, TLSImplicit, []string{"expired"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tlsKind := "starttls"
			if tc.mode == TLSImplicit {
				tlsKind = "implicit"
			}
			s := newTestServer(t, serverConfig{tls: tlsKind, cert: tc.cert, mechs: []string{"PLAIN"}})
			p, logs := newTestPool(t, Options{})
			prof := s.profile("tls")
			prof.TLS, prof.Username, prof.Password = tc.mode, testUser, testPass
			if tc.roots != nil {
				prof.RootCAs = tc.roots(s)
			}
			e := sendErr(t, p, prof, testEnv("bob@example.org"))
			step := StepStartTLS
			if tc.mode == TLSImplicit {
				step = StepTLS // the handshake before the banner is not STARTTLS
			}
			wantStep(t, e, step, true)
			for _, w := range tc.want {
				if !strings.Contains(e.Error(), w) {
					t.Errorf("diagnosis %q lacks %q", e, w)
				}
			}
			if s.auths() != 0 {
				t.Errorf("AUTH before the certificate was checked")
			}
			checkNoPassword(t, s, e, logs)
			if got := connCount(p, "tls", "tls_error"); got != 1 {
				t.Errorf("connections tls_error = %v", got)
			}

			prof.TLSVerify = false // the admin's way out
			mustSend(t, p, prof, testEnv("bob@example.org"))
		})
	}
}

func TestImplicitTLSAgainstPlainPort(t *testing.T) {
	peer := newRawPeer(t, rawNormal)
	p, _ := newTestPool(t, Options{})
	prof := peer.profile("p")
	prof.TLS, prof.TLSVerify = TLSImplicit, false
	e := sendErr(t, p, prof, testEnv("bob@example.org"))
	wantStep(t, e, StepTLS, true)
	if !strings.Contains(e.Error(), "did not answer with TLS") {
		t.Errorf("diagnosis %q", e)
	}
}

func TestConnectRefused(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	p, _ := newTestPool(t, Options{})
	prof := &Target{Name: "office365", Host: addr, TLS: TLSStartTLSRequired, TLSVerify: true, Timeout: 5 * time.Second}
	e := sendErr(t, p, prof, testEnv("bob@example.org"))
	wantStep(t, e, StepConnect, true)
	want := "profile office365: could not connect to " + addr +
		" (connection refused): the host is not a mail server or the port is closed or firewalled"
	if e.Error() != want {
		t.Errorf("diagnosis\n got %q\nwant %q", e, want)
	}
	if got := connCount(p, "office365", "refused"); got != 1 {
		t.Errorf("connections refused = %v", got)
	}
}

func TestHangingPeerTimesOut(t *testing.T) {
	peer := newRawPeer(t, rawHang)
	p, _ := newTestPool(t, Options{})
	prof := peer.profile("slow")
	prof.Timeout = 200 * time.Millisecond
	e := sendErr(t, p, prof, testEnv("bob@example.org"))
	wantStep(t, e, StepBanner, true)
	if e.Text != "timeout" || !strings.Contains(e.Error(), "timeout") {
		t.Errorf("diagnosis %q", e)
	}
	if got := connCount(p, "slow", "timeout"); got != 1 {
		t.Errorf("connections timeout = %v", got)
	}
}

func TestCancelClosesConnection(t *testing.T) {
	peer := newRawPeer(t, rawHang)
	p, _ := newTestPool(t, Options{})
	prof := peer.profile("p")
	prof.Timeout = time.Hour
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		<-peer.accepted
		cancel()
	}()
	res := p.Send(ctx, prof, testEnv("bob@example.org"))
	if res.Err == nil || !res.Err.Temporary || res.Err.Text != "cancelled" {
		t.Fatalf("err %v, want temporary cancelled", res.Err)
	}
}

// checkNoPassword fails if the password, or base64 of it or of a PLAIN
// response, shows in the error, the logs or the plain-text transcript.
func checkNoPassword(t *testing.T, s *testServer, e *Error, logs *lockedBuffer, extra ...string) {
	t.Helper()
	secrets := []string{testPass, base64.StdEncoding.EncodeToString([]byte(testPass)),
		base64.StdEncoding.EncodeToString([]byte("\x00" + testUser + "\x00" + testPass))}
	for _, x := range extra {
		secrets = append(secrets, x, base64.StdEncoding.EncodeToString([]byte(x)))
	}
	where := map[string]string{"logs": logs.String(), "transcript": s.transcript()}
	if e != nil {
		where["error"] = e.Error() + " " + e.Text
	}
	for name, text := range where {
		for _, secret := range secrets {
			if strings.Contains(text, secret) {
				t.Errorf("secret %q appears in the %s", secret, name)
			}
		}
	}
}
