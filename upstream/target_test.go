package upstream

import (
	"context"
	"fmt"
	"net"
	"testing"
)

func TestSmarthostAddr(t *testing.T) {
	for _, tc := range []struct {
		host     string
		port     int
		mode     TLSMode
		name     string
		addr     string
		wantFail bool
	}{
		{"smtp.example.com", 0, TLSStartTLS, "smtp.example.com", "smtp.example.com:25", false},
		{"smtp.example.com", 0, TLSImplicit, "smtp.example.com", "smtp.example.com:465", false},
		{"smtp.example.com:587", 0, TLSStartTLS, "smtp.example.com", "smtp.example.com:587", false},
		{"smtp.example.com,587", 0, TLSStartTLS, "smtp.example.com", "smtp.example.com:587", false},
		{" smtp.example.com , 2525 ", 0, TLSNone, "smtp.example.com", "smtp.example.com:2525", false},
		{"smtp.example.com:587", 2525, TLSNone, "smtp.example.com", "smtp.example.com:2525", false},
		{"192.0.2.1", 0, TLSNone, "192.0.2.1", "192.0.2.1:25", false},
		{"::1", 0, TLSNone, "::1", "[::1]:25", false},
		{"[::1]", 0, TLSImplicit, "::1", "[::1]:465", false},
		{"[2001:db8::1]:587", 0, TLSNone, "2001:db8::1", "[2001:db8::1]:587", false},
		{"2001:db8::1,587", 0, TLSNone, "2001:db8::1", "[2001:db8::1]:587", false},
		{"", 0, TLSNone, "", "", true},
		{"host:0", 0, TLSNone, "", "", true},
		{"host:99999", 0, TLSNone, "", "", true},
		{"host,abc", 0, TLSNone, "", "", true},
		{"bad host", 0, TLSNone, "", "", true},
	} {
		name, addr, err := smarthostAddr(&Target{Host: tc.host, Port: tc.port, TLS: tc.mode})
		if (err != nil) != tc.wantFail || name != tc.name || addr != tc.addr {
			t.Errorf("smarthostAddr(%q, %d) = %q, %q, %v; want %q, %q, fail %v", tc.host, tc.port, name, addr, err,
				tc.name, tc.addr, tc.wantFail)
		}
	}
}

func TestIPv6Delivery(t *testing.T) {
	ln, err := net.Listen("tcp", "[::1]:0")
	if err != nil {
		t.Skipf("no IPv6 loopback here: %v", err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	s := newTestServer(t, serverConfig{})
	p, _ := newTestPool(t, Options{Dialer: func(ctx context.Context, network, addr string) (net.Conn, error) {
		if addr != fmt.Sprintf("[::1]:%d", port) {
			return nil, fmt.Errorf("dialled %s", addr)
		}
		// The test server listens on IPv4; the address parsing is what is tested.
		return (&net.Dialer{}).DialContext(ctx, network, fmt.Sprintf("127.0.0.1:%d", s.port))
	}})
	prof := s.profile("v6")
	prof.Host, prof.Port = fmt.Sprintf("::1,%d", port), 0
	res := mustSend(t, p, prof, testEnv("bob@example.org"))
	if res.Host != fmt.Sprintf("[::1]:%d", port) {
		t.Errorf("Host %q", res.Host)
	}
}
