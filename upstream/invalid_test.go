package upstream

import (
	"context"
	"strings"
	"testing"
)

// TestDirectInvalidDomain: a recipient under .invalid bounces at once
// with 5.1.2 and no DNS query (RFC 6761 §6.4), so the embedded default's
// first try works on a machine without network; the test probe says the
// same.
func TestDirectInvalidDomain(t *testing.T) {
	f := newMXFixture(t)
	prof := directProfile("direct")
	res := f.p.Send(context.Background(), prof, testEnv("someone@example.invalid", "x@INVALID"))
	for i := range 2 {
		e := rcptErr(t, res, i)
		if e.Temporary || e.Code != 550 || e.Enhanced != "5.1.2" ||
			!strings.Contains(e.Error(), "does not exist: .invalid is reserved for names that never exist") {
			t.Errorf("recipient %d: %+v\n%s", i, e, e)
		}
	}
	steps := f.p.Probe(context.Background(), prof, ProbeOptions{To: []string{"someone@example.invalid"}})
	if e := lastErr(t, steps); e.Step != StepResolve || e.Subject != "example.invalid" {
		t.Errorf("probe: %s", e)
	}
	if q := f.r.asked(); len(q) != 0 {
		t.Errorf("DNS was asked %q", q)
	}
}
