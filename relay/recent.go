package relay

import (
	"sync"
	"time"

	"github.com/relayd/relayd/spool"
)

// recentCounts counts delivery outcomes per minute over the last day, for
// the console's Overview ("sent/deferred/bounced in the last hour and
// day", docs/console.md). Memory is fixed: 1440 buckets. Counts start at zero
// when relayd starts. Safe for concurrent use.
type recentCounts struct {
	mu      sync.Mutex
	buckets [24 * 60]recentBucket
}

type recentBucket struct {
	minute                  int64 // unix minute the counts belong to
	sent, deferred, bounced int
}

// add counts one recipient's outcome at now.
func (rc *recentCounts) add(state spool.State, now time.Time) {
	min := now.Unix() / 60
	rc.mu.Lock()
	defer rc.mu.Unlock()
	b := &rc.buckets[min%int64(len(rc.buckets))]
	if b.minute != min {
		*b = recentBucket{minute: min}
	}
	switch state {
	case spool.StateSent:
		b.sent++
	case spool.StateDeferred:
		b.deferred++
	case spool.StateBounced:
		b.bounced++
	}
}

// Outcomes are delivery outcomes (per recipient) counted over a window.
type Outcomes struct {
	Sent, Deferred, Bounced int
}

// sum returns the outcomes of the last d before now (d at most a day).
func (rc *recentCounts) sum(now time.Time, d time.Duration) Outcomes {
	cur := now.Unix() / 60
	from := cur - int64(d/time.Minute) + 1
	var o Outcomes
	rc.mu.Lock()
	defer rc.mu.Unlock()
	for i := range rc.buckets {
		b := rc.buckets[i]
		if b.minute >= from && b.minute <= cur {
			o.Sent += b.sent
			o.Deferred += b.deferred
			o.Bounced += b.bounced
		}
	}
	return o
}
