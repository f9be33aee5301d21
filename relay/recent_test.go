package relay

import (
	"testing"
	"time"

	"github.com/relayd/relayd/spool"
)

// TestRecentCounts: outcomes count in the hour and day they happened in,
// and a bucket reused a day later starts from zero.
func TestRecentCounts(t *testing.T) {
	var rc recentCounts
	now := time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)
	rc.add(spool.StateSent, now.Add(-25*time.Hour)) // too old for the day
	rc.add(spool.StateSent, now.Add(-2*time.Hour))
	rc.add(spool.StateDeferred, now.Add(-30*time.Minute))
	rc.add(spool.StateBounced, now)
	rc.add(spool.StateSent, now)
	if got, want := rc.sum(now, time.Hour), (Outcomes{Sent: 1, Deferred: 1, Bounced: 1}); got != want {
		t.Errorf("last hour: %+v, want %+v", got, want)
	}
	if got, want := rc.sum(now, 24*time.Hour), (Outcomes{Sent: 2, Deferred: 1, Bounced: 1}); got != want {
		t.Errorf("last day: %+v, want %+v", got, want)
	}
	later := now.Add(24 * time.Hour) // the same bucket as now, a day on
	rc.add(spool.StateDeferred, later)
	if got, want := rc.sum(later, time.Minute), (Outcomes{Deferred: 1}); got != want {
		t.Errorf("reused bucket: %+v, want %+v", got, want)
	}
}
