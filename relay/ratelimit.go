package relay

import (
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"
)

// RateLimiter counts the deliveries of profiles against their `rate`
// windows. Excess messages are not failed: they stay queued and
// the scheduler starts them when every window allows. The local
// implementation (localLimiter) counts in memory; one shared by several
// relayd (through Redis) can replace it, as long as it answers without
// blocking the scheduler for long.
//
// Implementations are safe for concurrent use. A profile without windows
// is never limited.
type RateLimiter interface {
	// Allow records one delivery of profile starting at now if every one
	// of windows has room, and reports true. Otherwise it records nothing
	// and returns the earliest time at which every window could allow.
	Allow(profile string, windows Rates, now time.Time) (ok bool, next time.Time)
	// WaitUntil returns when profile, limited by windows, may start its
	// next delivery: zero when it may start one now. It is called by every
	// scheduler pass and for every queued recipient the API shows, so it
	// must be cheap.
	WaitUntil(profile string, windows Rates, now time.Time) time.Time
}

var _ RateLimiter = (*localLimiter)(nil)

// localLimiter is the in-memory RateLimiter of one relayd.
type localLimiter struct {
	mu sync.Mutex
	m  map[string]*window
}

// window holds one profile's delivery start times within its longest
// window, oldest first: at most the N of that window, because every
// window must allow each delivery.
type window struct {
	rates Rates
	sent  []time.Time
}

// Allow implements RateLimiter. A reload that changes a profile's windows
// starts its count afresh.
func (ll *localLimiter) Allow(profile string, windows Rates, now time.Time) (bool, time.Time) {
	if len(windows.active()) == 0 {
		return true, time.Time{}
	}
	ll.mu.Lock()
	defer ll.mu.Unlock()
	if ll.m == nil {
		ll.m = map[string]*window{}
	}
	w := ll.m[profile]
	if w == nil || !w.rates.equal(windows) {
		w = &window{rates: windows.active()}
		ll.m[profile] = w
	}
	if next := w.next(now); !next.IsZero() {
		return false, next
	}
	w.sent = append(w.sent, now)
	return true, time.Time{}
}

// WaitUntil implements RateLimiter.
func (ll *localLimiter) WaitUntil(profile string, windows Rates, now time.Time) time.Time {
	ll.mu.Lock()
	defer ll.mu.Unlock()
	w := ll.m[profile]
	if w == nil || !w.rates.equal(windows) {
		return time.Time{}
	}
	return w.next(now)
}

// next forgets the deliveries older than the longest window and returns
// when the next one may start: zero if now, else the latest of the times at
// which each full window's oldest counted delivery leaves it.
func (w *window) next(now time.Time) time.Time {
	var longest time.Duration
	for _, r := range w.rates {
		longest = max(longest, r.Per)
	}
	// A delivery at exactly now-Per is outside the window (Per long,
	// ending at now).
	i := sort.Search(len(w.sent), func(i int) bool { return w.sent[i].After(now.Add(-longest)) })
	if i > 0 {
		w.sent = append(w.sent[:0], w.sent[i:]...)
	}
	var next time.Time
	for _, r := range w.rates {
		cut := now.Add(-r.Per)
		j := sort.Search(len(w.sent), func(i int) bool { return w.sent[i].After(cut) })
		if n := len(w.sent) - j; n >= r.N {
			if t := w.sent[len(w.sent)-r.N].Add(r.Per); t.After(next) {
				next = t
			}
		}
	}
	return next
}

// active is rs without unlimited entries.
func (rs Rates) active() Rates {
	var out Rates
	for _, r := range rs {
		if r.N > 0 && r.Per > 0 {
			out = append(out, r)
		}
	}
	return out
}

func (rs Rates) equal(o Rates) bool {
	a, b := rs.active(), o.active()
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// String formats the windows as configured: "30/m, 10000/d".
func (rs Rates) String() string {
	parts := make([]string, 0, len(rs))
	for _, r := range rs {
		parts = append(parts, r.String())
	}
	return strings.Join(parts, ", ")
}

// String is the rate as config.toml writes it ("100/h"), or "N per
// <duration>" for a period that has no unit letter; logs and errors use it.
func (r Rate) String() string {
	unit := map[time.Duration]string{time.Second: "s", time.Minute: "m", time.Hour: "h", 24 * time.Hour: "d"}[r.Per]
	if unit == "" {
		return fmt.Sprintf("%d per %s", r.N, r.Per)
	}
	return fmt.Sprintf("%d/%s", r.N, unit)
}
