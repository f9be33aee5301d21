package relay

import (
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/relayd/relayd/policy"
	"github.com/relayd/relayd/upstream"
)

// TestDuplicateRecipientsDeliveredOnce: the same address given twice, and
// again with its domain in capitals, is one recipient: each RCPT
// gets 250 (as Postfix answers), the upstream sees one RCPT and gets one
// delivery. A local part that differs in case is another mailbox (RFC 5321
// 2.4: local parts may be case-sensitive) and stays a recipient of its own.
func TestDuplicateRecipientsDeliveredOnce(t *testing.T) {
	sk := newSink(t)
	r := startRelay(t, baseConfig(sk.addr))
	c := dialRaw(t, r.addr)
	c.greet()
	if got := c.cmd("MAIL FROM:<app@example.com>\r\n"); !strings.HasPrefix(got, "250 ") {
		t.Fatalf("MAIL: %q", got)
	}
	for _, to := range []string{"b@sink.test", "b@sink.test", "b@SINK.TEST", "B@sink.test"} {
		if got := c.cmd("RCPT TO:<" + to + ">\r\n"); !strings.HasPrefix(got, "250 ") {
			t.Fatalf("RCPT TO:<%s>: %q", to, got)
		}
	}
	if got := c.cmd("DATA\r\n"); !strings.HasPrefix(got, "354 ") {
		t.Fatalf("DATA: %q", got)
	}
	if got := c.cmd(simpleBody + ".\r\n"); !strings.HasPrefix(got, "250 ") {
		t.Fatalf("end of data: %q", got)
	}
	m := sk.wait()
	if len(m.To) != 2 || m.To[0] != "b@sink.test" || m.To[1] != "B@sink.test" {
		t.Errorf("upstream RCPTs %q, want [b@sink.test B@sink.test]", m.To)
	}
	sk.none(r)
	if n := strings.Count(sk.transcript(), "RCPT TO:"); n != 2 {
		t.Errorf("%d RCPT commands reached the upstream, want 2", n)
	}
}

// TestAddressLiteralRefusedOnDirect: a recipient whose domain is an
// address literal and who is routed to a direct profile is refused at RCPT
// with 550 5.1.2, before any message is taken; routed to a
// smarthost the same recipient is accepted, and a domain name on the
// direct profile is too.
func TestAddressLiteralRefusedOnDirect(t *testing.T) {
	sk := newSink(t)
	cfg := baseConfig(sk.addr)
	cfg.Profiles["mx"] = &Profile{Enabled: true, Upstream: upstream.Target{Name: "mx", Type: "direct",
		TLS: upstream.TLSStartTLS, Timeout: 5 * time.Second, DataTimeout: 10 * time.Second, MaxPerConn: 100,
		MaxConns: 2, Helo: "relay.test", Resolver: "127.0.0.1:1"}}
	cfg.Policy = policy.Config{DefaultProfile: "mx", Enabled: map[string]bool{"sink": true, "mx": true},
		Routes: []policy.Route{{Index: 1, Recipient: "smart@*", Profile: "sink"}}}
	r := startRelay(t, cfg)
	c := dialRaw(t, r.addr)
	c.greet()
	if got := c.cmd("MAIL FROM:<app@example.com>\r\n"); !strings.HasPrefix(got, "250 ") {
		t.Fatalf("MAIL: %q", got)
	}
	for to, want := range map[string]string{
		"x@[127.0.0.1]":      "550 5.1.2 ",
		"x@[IPv6:::1]":       "550 5.1.2 ",
		"y@[192.0.2.1]":      "550 5.1.2 ",
		"smart@[127.0.0.1]":  "250 ",
		"x@example.org":      "250 ",
		"x@[tag:some-thing]": "550 5.1.2 ",
	} {
		if got := c.cmd("RCPT TO:<" + to + ">\r\n"); !strings.HasPrefix(got, want) {
			t.Errorf("RCPT TO:<%s>: %q, want %q...", to, got, want)
		}
	}
	if got := c.cmd("RSET\r\n"); !strings.HasPrefix(got, "250 ") {
		t.Errorf("RSET: %q", got)
	}
	if n := testutil.ToFloat64(r.srv.metrics.rejected.WithLabelValues("local", "policy")); n != 4 {
		t.Errorf("rejected{reason=policy} = %v, want 4", n)
	}
}
