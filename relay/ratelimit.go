package relay

import (
	"fmt"
	"sync"
	"time"
)

// limiter is one profile's `rate` ("30/m": at most 30 messages in any
// minute). Excess messages are not failed: they stay queued and the
// scheduler starts them when the window allows (SPEC §3).
type limiter struct {
	rate Rate
	sent []time.Time // start times of the deliveries in the current window, oldest first
}

// allow records a delivery at now if the window has room. Otherwise it
// returns when the next delivery may start.
func (l *limiter) allow(now time.Time) (bool, time.Time) {
	cut := now.Add(-l.rate.Per)
	i := 0
	for i < len(l.sent) && !l.sent[i].After(cut) {
		i++
	}
	l.sent = l.sent[i:]
	if len(l.sent) < l.rate.N {
		l.sent = append(l.sent, now)
		return true, time.Time{}
	}
	return false, l.sent[0].Add(l.rate.Per)
}

// limiters holds the limiters of the profiles that have a rate; a reload
// that changes a profile's rate starts its window afresh.
type limiters struct {
	mu sync.Mutex
	m  map[string]*limiter
}

// allow reports whether profile may start one more delivery at now, and if
// not, from when.
func (ls *limiters) allow(profile string, rate Rate, now time.Time) (bool, time.Time) {
	if rate.N <= 0 || rate.Per <= 0 {
		return true, time.Time{}
	}
	ls.mu.Lock()
	defer ls.mu.Unlock()
	if ls.m == nil {
		ls.m = map[string]*limiter{}
	}
	l := ls.m[profile]
	if l == nil || l.rate != rate {
		l = &limiter{rate: rate}
		ls.m[profile] = l
	}
	return l.allow(now)
}

// waitUntil reports when a rate-limited profile may start again (zero when
// it is not limited at now), for the scheduler's timer and `queue show`.
func (ls *limiters) waitUntil(profile string, now time.Time) time.Time {
	ls.mu.Lock()
	defer ls.mu.Unlock()
	l := ls.m[profile]
	if l == nil {
		return time.Time{}
	}
	cut := now.Add(-l.rate.Per)
	n := 0
	for _, t := range l.sent {
		if t.After(cut) {
			n++
		}
	}
	if n < l.rate.N {
		return time.Time{}
	}
	return l.sent[len(l.sent)-n].Add(l.rate.Per)
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
