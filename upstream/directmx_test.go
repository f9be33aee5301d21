package upstream

import (
	"context"
	"net"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-smtp"
)

// mxFixture is a map-backed resolver and a dialer that maps the addresses
// it hands out onto test servers on loopback.
type mxFixture struct {
	r *fakeResolver
	d *remapDialer
	p *Pool
}

func newMXFixture(t *testing.T) *mxFixture {
	f := &mxFixture{r: newFakeResolver(), d: newRemapDialer()}
	f.p, _ = newTestPool(t, Options{Resolver: f.r, Dialer: f.d.dial})
	return f
}

// host publishes name at ip and routes ip to port.
func (f *mxFixture) host(name, ip string, port int) {
	f.r.ips[name+"."] = addrs(ip)
	if port != 0 {
		f.d.route(ip, port)
	}
}

func TestDirectMXPreference(t *testing.T) {
	f := newMXFixture(t)
	b := newTestServer(t, serverConfig{})
	f.r.mx["pref.example."] = []*net.MX{mx(30, "c.pref.example."), mx(10, "a.pref.example."), mx(20, "b.pref.example.")}
	f.host("a.pref.example", "192.0.2.1", 0) // refused
	f.host("b.pref.example", "192.0.2.2", b.port)
	f.host("c.pref.example", "192.0.2.3", 0)
	res := mustSend(t, f.p, directProfile("direct"), testEnv("x@pref.example"))
	if res.Host != "b.pref.example:25" {
		t.Errorf("Host %q", res.Host)
	}
	if got := f.d.calls(); !slices.Equal(got, []string{"192.0.2.1:25", "192.0.2.2:25"}) {
		t.Errorf("dialled %q", got)
	}
	if len(b.transactions()) != 1 {
		t.Errorf("b got %d transactions", len(b.transactions()))
	}
}

// TestDirectEqualPreference: MX hosts of equal preference share the load
// (RFC 5321 §5.1: the order among them is random).
func TestDirectEqualPreference(t *testing.T) {
	f := newMXFixture(t)
	s1, s2 := newTestServer(t, serverConfig{}), newTestServer(t, serverConfig{})
	f.r.mx["eq.example."] = []*net.MX{mx(10, "one.eq.example."), mx(10, "two.eq.example.")}
	f.host("one.eq.example", "192.0.2.1", s1.port)
	f.host("two.eq.example", "192.0.2.2", s2.port)
	prof := directProfile("direct")
	prof.MaxPerConn = 1 // no pooling: every message picks again
	for range 40 {
		mustSend(t, f.p, prof, testEnv("x@eq.example"))
	}
	if n1, n2 := len(s1.transactions()), len(s2.transactions()); n1 == 0 || n2 == 0 || n1+n2 != 40 {
		t.Errorf("equal preference split %d / %d", n1, n2)
	}
}

// TestDirectRcptTempFailNextMX: every recipient 4xx at RCPT on the first
// MX is like a 4xx to the transaction: the next MX gets them.
func TestDirectRcptTempFailNextMX(t *testing.T) {
	f := newMXFixture(t)
	grey, ok := newTestServer(t, serverConfig{}), newTestServer(t, serverConfig{})
	grey.set(func(s *testServer) {
		s.rcptErr["a@grey.example"] = smtpErr(450, smtp.EnhancedCode{4, 2, 0}, "greylisted")
	})
	f.r.mx["grey.example."] = []*net.MX{mx(10, "mx1.grey.example."), mx(20, "mx2.grey.example.")}
	f.host("mx1.grey.example", "192.0.2.1", grey.port)
	f.host("mx2.grey.example", "192.0.2.2", ok.port)
	mustSend(t, f.p, directProfile("direct"), testEnv("a@grey.example"))
	if len(ok.transactions()) != 1 {
		t.Errorf("second MX got %d transactions", len(ok.transactions()))
	}
}

// TestDirectAmbiguousNotRetried: after the final dot the message may have
// been delivered; no other MX gets it (it would arrive twice at once).
func TestDirectAmbiguousNotRetried(t *testing.T) {
	f := newMXFixture(t)
	peer := newRawPeer(t, rawDropAfterDot)
	other := newTestServer(t, serverConfig{})
	f.r.mx["amb.example."] = []*net.MX{mx(10, "mx1.amb.example."), mx(20, "mx2.amb.example.")}
	f.host("mx1.amb.example", "192.0.2.1", peer.port)
	f.host("mx2.amb.example", "192.0.2.2", other.port)
	e := sendErr(t, f.p, directProfile("direct"), testEnv("a@amb.example"))
	if !e.Ambiguous || !e.Temporary || e.Host != "mx1.amb.example:25" {
		t.Errorf("error %v ambiguous %v host %q", e, e.Ambiguous, e.Host)
	}
	if len(other.connections()) != 0 {
		t.Error("the second MX was tried after an ambiguous delivery")
	}
	if ambiguousCount(f.p, "direct") != 1 {
		t.Error("relayd_delivery_ambiguous_total not counted")
	}
}

// TestDirectResultErr pins the rule for Result.Err on direct profiles.
func TestDirectResultErr(t *testing.T) {
	f := newMXFixture(t)
	s := newTestServer(t, serverConfig{})
	f.r.mx["ok.example."] = []*net.MX{mx(10, "mx.ok.example.")}
	f.host("mx.ok.example", "192.0.2.1", s.port)
	f.r.mx["down1.example."] = []*net.MX{mx(10, "mx.down1.example.")}
	f.host("mx.down1.example", "192.0.2.2", 0)
	f.r.mx["down2.example."] = []*net.MX{mx(10, "mx.down2.example.")}
	f.host("mx.down2.example", "192.0.2.3", 0)
	f.r.mx["null.example."] = []*net.MX{mx(0, ".")}
	prof := directProfile("direct")

	res := f.p.Send(context.Background(), prof, testEnv("a@down1.example", "b@down2.example"))
	if res.Err == nil || !res.Err.Temporary || res.Err != res.Rcpt[0] || res.Rcpt[1] == nil {
		t.Errorf("all temporary: Err %v, Rcpt %v", res.Err, res.Rcpt)
	}
	res = f.p.Send(context.Background(), prof, testEnv("a@down1.example", "b@null.example"))
	if res.Err != nil || !res.Rcpt[0].Temporary || res.Rcpt[1].Temporary {
		t.Errorf("temporary and permanent: Err %v, Rcpt %v", res.Err, res.Rcpt)
	}
	res = f.p.Send(context.Background(), prof, testEnv("a@down1.example", "b@ok.example", "bad address"))
	if res.Err != nil || res.Rcpt[0] == nil || res.Rcpt[1] != nil || res.Rcpt[2] == nil {
		t.Errorf("one delivered: Err %v, Rcpt %v", res.Err, res.Rcpt)
	}
	if res.Host != "mx.ok.example:25" {
		t.Errorf("Host %q", res.Host)
	}
}

// TestDirectPoolPerHost: connections are pooled per MX address; two
// domains on one MX share them.
func TestDirectPoolPerHost(t *testing.T) {
	f := newMXFixture(t)
	s := newTestServer(t, serverConfig{})
	f.r.mx["one.example."] = []*net.MX{mx(10, "mx.shared.example.")}
	f.r.mx["two.example."] = []*net.MX{mx(10, "mx.shared.example.")}
	f.host("mx.shared.example", "192.0.2.1", s.port)
	prof := directProfile("direct")
	for _, to := range []string{"a@one.example", "b@two.example", "c@one.example"} {
		mustSend(t, f.p, prof, testEnv(to))
	}
	if n := len(s.connections()); n != 1 || len(s.transactions()) != 3 {
		t.Errorf("%d connections for %d transactions, want 1 for 3", n, len(s.transactions()))
	}
}

// TestDirectParallelDomains: the domains of one message are delivered at
// the same time, not one after the other.
func TestDirectParallelDomains(t *testing.T) {
	f := newMXFixture(t)
	const n = 3
	var mu sync.Mutex
	waiting, all := 0, make(chan struct{})
	hook := func() {
		mu.Lock()
		if waiting++; waiting == n {
			close(all)
		}
		mu.Unlock()
		select {
		case <-all:
		case <-time.After(5 * time.Second):
		}
	}
	var to []string
	var servers []*testServer
	for i, d := range []string{"p1.example", "p2.example", "p3.example"} {
		s := newTestServer(t, serverConfig{})
		s.set(func(s *testServer) { s.dataHook = hook })
		servers = append(servers, s)
		f.r.mx[d+"."] = []*net.MX{mx(10, "mx."+d+".")}
		f.host("mx."+d, "192.0.2."+string(rune('1'+i)), s.port)
		to = append(to, "x@"+d)
	}
	mustSend(t, f.p, directProfile("direct"), testEnv(to...))
	select {
	case <-all:
	default:
		t.Error("the domains were not delivered in parallel")
	}
	for _, s := range servers {
		if len(s.transactions()) != 1 {
			t.Errorf("server got %d transactions", len(s.transactions()))
		}
	}
}

// TestDirectIDN: a UTF-8 domain is looked up by its A-labels (RFC 5891).
func TestDirectIDN(t *testing.T) {
	f := newMXFixture(t)
	s := newTestServer(t, serverConfig{smtputf8: true})
	f.r.mx["xn--bcher-kva.example."] = []*net.MX{mx(10, "mx.idn.example.")}
	f.host("mx.idn.example", "192.0.2.1", s.port)
	env := testEnv("jörg@bücher.example")
	env.UTF8 = true
	mustSend(t, f.p, directProfile("direct"), env)
	if !slices.Contains(f.r.asked(), "MX xn--bcher-kva.example.") {
		t.Errorf("queries %q", f.r.asked())
	}
}

func TestPunycode(t *testing.T) {
	for in, want := range map[string]string{
		"bücher.example":  "xn--bcher-kva.example",
		"MÜNCHEN.de":      "xn--mnchen-3ya.de",
		"例え.テスト":          "xn--r8jz45g.xn--zckzah",
		"ascii.EXAMPLE":   "ascii.example",
		"xn--bcher-kva.x": "xn--bcher-kva.x",
	} {
		if got, err := toASCII(in); err != nil || got != want {
			t.Errorf("toASCII(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
}

func TestResolverAddr(t *testing.T) {
	for in, want := range map[string]string{"127.0.0.1": "127.0.0.1:53", "127.0.0.1:5353": "127.0.0.1:5353",
		"::1": "[::1]:53", "[::1]:54": "[::1]:54", "dns.example.com": "", "": ""} {
		got, err := resolverAddr(in)
		if got != want || (err != nil) != (want == "") {
			t.Errorf("resolverAddr(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	if !strings.Contains(resolverName(&Target{}, false), "system") {
		t.Error("resolverName without a resolver")
	}
}
