package upstream

import (
	"context"
	"fmt"
	"net"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-smtp"
)

// newServerPair starts test servers on 127.0.0.1:P and [::1]:P, one port
// for both, as one direct profile's Port serves every MX host.
func newServerPair(t *testing.T, cfg serverConfig) (v4, v6 *testServer) {
	t.Helper()
	for range 20 {
		v4 = newTestServer(t, cfg)
		ln, err := net.Listen("tcp", fmt.Sprintf("[::1]:%d", v4.port))
		if err != nil {
			v4.srv.Close()
			continue
		}
		ln.Close()
		cfg.listen = fmt.Sprintf("[::1]:%d", v4.port)
		return v4, newTestServer(t, cfg)
	}
	t.Skip("no IPv6 loopback, or no port free on both 127.0.0.1 and ::1")
	return nil, nil
}

// TestDirectDNS is the acceptance test of direct delivery: the production
// net.Resolver asks a real DNS server on loopback (UDP, and TCP after a
// truncated answer), and real SMTP servers on 127.0.0.1 and ::1 receive
// the mail.
func TestDirectDNS(t *testing.T) {
	v4, v6 := newServerPair(t, serverConfig{})
	dns := newDNSServer(t)
	dns.set(func(s *dnsServer) {
		s.mx["example.org."] = []*net.MX{mx(10, "mx1.example.org.")}
		s.ips["mx1.example.org."] = addrs("127.0.0.1")
		s.mx["v6.example."] = []*net.MX{mx(10, "mx6.v6.example.")}
		s.ips["mx6.v6.example."] = addrs("::1")
		s.ips["implicit.example."] = addrs("127.0.0.1")
		s.mx["nullmx.example."] = []*net.MX{mx(0, ".")}
		s.mx["servfail.example."] = nil
		s.servfail["servfail.example."] = true
		s.mx["big.example."] = []*net.MX{mx(10, "mx1.example.org.")}
		s.tcpOnly["big.example."] = true
	})
	p, _ := newTestPool(t, Options{})
	prof := directProfile("direct")
	prof.Resolver, prof.Port = dns.addr, v4.port
	to := []string{"a@example.org", "b@EXAMPLE.org", "c@v6.example", "d@implicit.example", "e@nullmx.example",
		"f@nx.example", "g@servfail.example", "h@[127.0.0.1]", "i@big.example"}
	res := p.Send(context.Background(), prof, testEnv(to...))
	if res.Err != nil {
		t.Fatalf("Err = %v, want nil: the domains failed differently", res.Err)
	}
	for _, i := range []int{0, 1, 2, 3, 8} {
		if res.Rcpt[i] != nil {
			t.Errorf("%s: %v", to[i], res.Rcpt[i])
		}
	}
	wantEnhanced(t, rcptErr(t, res, 4), "5.1.10", false, "null MX")
	wantEnhanced(t, rcptErr(t, res, 5), "5.1.2", false, "nx.example does not exist")
	wantEnhanced(t, rcptErr(t, res, 6), "4.4.3", true, "server misbehaving")
	wantEnhanced(t, rcptErr(t, res, 7), "5.1.2", false, "address-literal")
	if e := res.Rcpt[7]; e.Code != 550 || e.Step != StepResolve {
		t.Errorf("address literal: code %d step %s", e.Code, e.Step)
	}
	if e := res.Rcpt[4]; e.Code != 556 {
		t.Errorf("null MX: code %d, want 556", e.Code)
	}
	var got4 []string
	for _, tx := range v4.transactions() {
		got4 = append(got4, strings.Join(tx.To, ","))
	}
	slices.Sort(got4)
	if want := []string{"a@example.org,b@EXAMPLE.org", "d@implicit.example", "i@big.example"}; !slices.Equal(got4, want) {
		t.Errorf("IPv4 server transactions %q, want %q", got4, want)
	}
	if txs := v6.transactions(); len(txs) != 1 || strings.Join(txs[0].To, ",") != "c@v6.example" {
		t.Errorf("IPv6 server transactions %+v", txs)
	}
	if res.Host != fmt.Sprintf("mx1.example.org:%d", v4.port) {
		t.Errorf("Host %q", res.Host)
	}
	if !strings.Contains(v4.transcript(), "EHLO relay.test\r\n") {
		t.Errorf("no EHLO relay.test in %q", v4.transcript())
	}
	if dns.count("udp MX big.example.") == 0 || dns.count("tcp MX big.example.") == 0 {
		t.Errorf("big.example: %d UDP and %d TCP queries, want both", dns.count("udp MX big.example."),
			dns.count("tcp MX big.example."))
	}
}

// TestDirectNextMX: a 4xx from the preferred MX moves on to the next one;
// a 5xx is final and names the host that answered.
func TestDirectNextMX(t *testing.T) {
	v4, v6 := newServerPair(t, serverConfig{})
	dns := newDNSServer(t)
	dns.set(func(s *dnsServer) {
		s.mx["backup.example."] = []*net.MX{mx(20, "mx1.example.org."), mx(10, "mx6.v6.example.")}
		s.ips["mx1.example.org."] = addrs("127.0.0.1")
		s.ips["mx6.v6.example."] = addrs("::1")
	})
	p, _ := newTestPool(t, Options{})
	prof := directProfile("direct")
	prof.Resolver, prof.Port = dns.addr, v4.port

	v6.set(func(s *testServer) { s.mailErr = smtpErr(451, smtp.EnhancedCode{4, 3, 0}, "try later") })
	mustSend(t, p, prof, testEnv("x@backup.example"))
	if len(v4.transactions()) != 1 || !strings.Contains(v6.transcript(), "MAIL FROM:<sender@example.com>") {
		t.Errorf("want MAIL on ::1 refused, then delivery on 127.0.0.1; got %d", len(v4.transactions()))
	}

	v6.set(func(s *testServer) { s.mailErr = smtpErr(550, smtp.EnhancedCode{5, 7, 1}, "go away") })
	e := sendErr(t, p, prof, testEnv("y@backup.example"))
	wantStep(t, e, StepMail, false)
	if want := fmt.Sprintf("mx6.v6.example:%d", v4.port); e.Host != want {
		t.Errorf("Host %q, want %q", e.Host, want)
	}
	if len(v4.transactions()) != 1 {
		t.Errorf("the 5xx of the first MX was not final")
	}
}

// TestDirectDNSFailures: a DNS timeout and a DNS server that does not
// answer are temporary (4.4.3), never a bounce.
func TestDirectDNSFailures(t *testing.T) {
	dns := newDNSServer(t)
	dns.set(func(s *dnsServer) {
		s.mx["silent.example."] = nil
		s.silent["silent.example."] = true
	})
	p, _ := newTestPool(t, Options{})
	prof := directProfile("direct")
	prof.Resolver, prof.Timeout = dns.addr, time.Second
	e := sendErr(t, p, prof, testEnv("a@silent.example"))
	wantEnhanced(t, e, "4.4.3", true, "timeout")

	prof.Resolver = "127.0.0.1:1" // nothing listens: refused over UDP and TCP
	e = sendErr(t, p, prof, testEnv("a@example.org"))
	wantEnhanced(t, e, "4.4.3", true, "MX lookup for example.org at DNS server 127.0.0.1:1 failed")
}

// TestDirectLoopbackRefused: without allow_loopback an MX on 127.0.0.1 or
// ::1 is never connected to.
func TestDirectLoopbackRefused(t *testing.T) {
	s := newTestServer(t, serverConfig{})
	r := newFakeResolver()
	r.mx["loop.example."] = []*net.MX{mx(10, "mx.loop.example.")}
	r.ips["mx.loop.example."] = addrs("127.0.0.1", "::1", "0.0.0.0")
	p, _ := newTestPool(t, Options{Resolver: r})
	prof := directProfile("direct")
	prof.Port, prof.AllowLoopback = s.port, false
	e := sendErr(t, p, prof, testEnv("a@loop.example"))
	wantEnhanced(t, e, "4.4.4", true, "allow_loopback")
	if n := len(s.connections()); n != 0 {
		t.Errorf("%d connections to a loopback MX", n)
	}
}

// TestDirectTLS: opportunistic STARTTLS by default, the certificate checked
// against the MX host name when tls_verify is set, starttls-required and
// none honoured.
func TestDirectTLS(t *testing.T) {
	s := newTestServer(t, serverConfig{tls: "starttls", cert: certOpts{dnsNames: []string{"mx.tls.example"}}})
	plain := newTestServer(t, serverConfig{})
	r := newFakeResolver()
	r.mx["tls.example."] = []*net.MX{mx(10, "mx.tls.example.")}
	r.ips["mx.tls.example."] = addrs("192.0.2.10")
	r.mx["plain.example."] = []*net.MX{mx(10, "mx.plain.example.")}
	r.ips["mx.plain.example."] = addrs("192.0.2.11")
	d := newRemapDialer()
	d.route("192.0.2.10", s.port)
	d.route("192.0.2.11", plain.port)
	p, _ := newTestPool(t, Options{Resolver: r, Dialer: d.dial})

	prof := directProfile("direct")
	prof.TLS = "" // the direct default: opportunistic
	mustSend(t, p, prof, testEnv("a@tls.example", "b@plain.example"))
	if !s.transactions()[0].TLS || plain.transactions()[0].TLS {
		t.Errorf("TLS: %v on the STARTTLS server, %v on the plain one", s.transactions()[0].TLS, plain.transactions()[0].TLS)
	}

	verify := directProfile("verify")
	verify.TLS, verify.TLSVerify, verify.RootCAs = TLSStartTLSRequired, true, s.pool
	mustSend(t, p, verify, testEnv("a@tls.example"))
	e := sendErr(t, p, verify, testEnv("b@plain.example"))
	wantStep(t, e, StepStartTLS, true)

	none := directProfile("none")
	mustSend(t, p, none, testEnv("c@tls.example"))
	if tx := s.transactions(); tx[len(tx)-1].TLS {
		t.Error("tls = none used STARTTLS")
	}
}
