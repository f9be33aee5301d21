package relay

import (
	"strings"
	"testing"
)

// TestDuplicateRecipientsDeliveredOnce: the same address given twice, and
// again with its domain in capitals, is one recipient (SPEC §6): each RCPT
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
