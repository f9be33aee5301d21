package upstream

import (
	"net"
	"net/netip"
	"slices"
	"strings"
	"testing"
)

// TestDirectPrivateRefusedBeforeDial: MX hosts that resolve (through a real
// DNS server on loopback) to private (RFC 1918, RFC 4193), link-local
// (the cloud metadata address 169.254.169.254 included), shared
// (100.64.0.0/10) or other non-global addresses are never dialled without
// allow_private: a local client must not make relayd reach
// internal hosts. The injected dialer records every address it is asked
// for (and dials only loopback).
func TestDirectPrivateRefusedBeforeDial(t *testing.T) {
	internal := map[string][]string{
		"rfc1918.example.":   {"10.0.0.1", "172.16.5.4", "192.168.1.10"},
		"metadata.example.":  {"169.254.169.254"},
		"shared.example.":    {"100.64.0.1"},
		"ula.example.":       {"fd00::1", "fe80::1"},
		"mapped.example.":    {"::ffff:10.0.0.1"},
		"nonglobal.example.": {"192.0.0.8", "198.18.0.1", "240.0.0.1", "224.0.0.1", "100::1", "2001:db8::1"},
	}
	dns := newDNSServer(t)
	dns.set(func(s *dnsServer) {
		for domain, ips := range internal {
			s.mx[domain] = []*net.MX{mx(10, "mx."+domain)}
			s.ips["mx."+domain] = addrs(ips...)
		}
	})
	d := newRemapDialer()
	p, _ := newTestPool(t, Options{Dialer: d.dial})
	prof := directProfile("direct")
	prof.Resolver, prof.AllowPrivate = dns.addr, false
	for domain := range internal {
		to := "a@" + strings.TrimSuffix(domain, ".")
		e := sendErr(t, p, prof, testEnv(to))
		wantEnhanced(t, e, "4.4.4", true, "allow_private")
	}
	if calls := d.calls(); len(calls) != 0 {
		t.Errorf("dialled %q: internal addresses must be refused before any dial", calls)
	}
}

// TestDirectPrivateSkippedThenNextMX: an MX host on an internal address
// is skipped like an unreachable one, the next MX gets the mail; with
// allow_private = true the internal MX is used (the dialer maps it to a
// test server on loopback, nothing else is ever dialled).
func TestDirectPrivateSkippedThenNextMX(t *testing.T) {
	internalMX, next := newTestServer(t, serverConfig{}), newTestServer(t, serverConfig{})
	dns := newDNSServer(t)
	dns.set(func(s *dnsServer) {
		s.mx["mixed.example."] = []*net.MX{mx(10, "mx1.mixed.example."), mx(20, "mx2.mixed.example.")}
		s.ips["mx1.mixed.example."] = addrs("10.0.0.1")
		s.ips["mx2.mixed.example."] = addrs("127.0.0.1") // allowed by allow_loopback, not by allow_private
	})
	d := newRemapDialer()
	d.route("10.0.0.1", internalMX.port)
	d.route("127.0.0.1", next.port)
	p, _ := newTestPool(t, Options{Dialer: d.dial})
	prof := directProfile("direct")
	prof.Resolver, prof.AllowPrivate, prof.MaxPerConn = dns.addr, false, 1
	mustSend(t, p, prof, testEnv("a@mixed.example"))
	if calls := d.calls(); !slices.Equal(calls, []string{"127.0.0.1:25"}) {
		t.Errorf("dialled %q, want only 127.0.0.1:25", calls)
	}
	if len(next.transactions()) != 1 || len(internalMX.transactions()) != 0 {
		t.Errorf("transactions: internal MX %d, next MX %d", len(internalMX.transactions()), len(next.transactions()))
	}

	prof.AllowPrivate = true
	mustSend(t, p, prof, testEnv("b@mixed.example"))
	if calls := d.calls(); len(calls) != 2 || calls[1] != "10.0.0.1:25" {
		t.Errorf("with allow_private dialled %q, want 10.0.0.1:25 (remapped to loopback) second", calls)
	}
	if len(internalMX.transactions()) != 1 {
		t.Errorf("with allow_private the internal MX got %d transactions", len(internalMX.transactions()))
	}

	prof.AllowLoopback, prof.AllowPrivate = false, true // loopback stays governed by allow_loopback alone
	dns.set(func(s *dnsServer) { s.ips["mx1.mixed.example."] = addrs("127.0.0.2") })
	e := sendErr(t, p, prof, testEnv("c@mixed.example"))
	wantEnhanced(t, e, "4.4.4", true, "allow_loopback")
}

func TestNonGlobal(t *testing.T) {
	for _, a := range []string{"10.1.2.3", "172.31.255.255", "192.168.0.1", "169.254.169.254", "100.64.0.1",
		"100.127.255.255", "0.1.2.3", "192.0.0.1", "192.0.2.1", "198.18.0.1", "198.51.100.1", "203.0.113.1",
		"224.0.0.1", "240.0.0.1", "255.255.255.255", "fc00::1", "fd12:3456::1", "fe80::1", "fec0::1", "ff02::1",
		"100::1", "2001:db8::1", "3fff::1", "64:ff9b:1::1", "64:ff9b::a00:1", "::ffff:192.168.1.1"} {
		if !nonGlobal(netipAddr(t, a)) {
			t.Errorf("%s: not refused", a)
		}
	}
	for _, a := range []string{"1.1.1.1", "100.63.255.255", "100.128.0.0", "172.32.0.1", "192.0.1.1", "193.0.0.1",
		"2a00:1450::1", "2606:4700::1111", "64:ff9b::808:808"} {
		if nonGlobal(netipAddr(t, a)) {
			t.Errorf("%s: refused", a)
		}
	}
}

func netipAddr(t *testing.T, s string) netip.Addr {
	t.Helper()
	return addrs(s)[0]
}
