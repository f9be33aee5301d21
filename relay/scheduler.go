package relay

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/relayd/relayd/spool"
)

// scheduler is the one goroutine that turns the spool's schedule into
// deliveries (no sleeping goroutine per message). It wakes on a
// kick (new mail, a finished delivery, an admin action), on a timer set to
// the earliest due time, or on shutdown. Deliveries run in their own
// goroutines, at most Upstream.MaxConns per profile.
type scheduler struct {
	dv    *delivery
	kickc chan struct{}

	mu   sync.Mutex
	busy map[string]int // profile → deliveries in flight
	// running holds the recipients (rcptKey) whose attempt is in flight.
	// A recipient in it is never due, even when its lease has run out by
	// the clock: one attempt of a recipient at a time (see dispatch).
	running map[string]bool
	wg      sync.WaitGroup // deliveries in flight
	rates   RateLimiter    // the profiles' `rate` windows
	// passes counts finished passes, so tests can wait for one that
	// started after a change.
	passes atomic.Int64
}

// dueBatch is how many due messages one pass looks at.
const dueBatch = 256

// leaseSlack is added to a profile's timeouts to get the lease of a delivery:
// a delivery still "sending" after that is due again.
const leaseSlack = 5 * time.Minute

// leaseMargin is how long before its lease ends an attempt is cut short
// (its context's deadline), leaving time to record the outcome. Multi-MX
// and fallback chains can outlast the sum of one profile's timeouts.
const leaseMargin = time.Minute

// newScheduler builds dv's scheduler; rates nil = an in-memory limiter.
func newScheduler(dv *delivery, rates RateLimiter) *scheduler {
	sc := &scheduler{dv: dv, kickc: make(chan struct{}, 1), busy: map[string]int{}, running: map[string]bool{},
		rates: rates}
	if sc.rates == nil {
		sc.rates = &localLimiter{}
	}
	return sc
}

// kick wakes the scheduler; it never blocks.
func (sc *scheduler) kick() {
	select {
	case sc.kickc <- struct{}{}:
	default:
	}
}

// run dispatches deliveries until stop is done. Deliveries run under dctx,
// which the caller cancels only when they must be abandoned; the caller
// waits for them with sc.wg.
func (sc *scheduler) run(stop, dctx context.Context) {
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		wait := sc.pass(stop, dctx)
		timer.Reset(wait)
		select {
		case <-stop.Done():
			return
		case <-sc.kickc:
		case <-timer.C:
		}
	}
}

// pass dispatches every due delivery it can and returns how long to sleep.
func (sc *scheduler) pass(stop, ctx context.Context) time.Duration {
	defer sc.passes.Add(1)
	defer sc.dv.recoverPanic("scheduler")
	now := sc.dv.now()
	gen := sc.dv.gen.Load()
	sc.dv.endPauses(now)
	// Reading and decoding due envelopes is the scheduler's main cost: read
	// none while every profile is busy, and only a few per free slot.
	// (A busy profile's messages at the head of the schedule can delay
	// another profile's by up to that many; they drain first.)
	free := sc.freeSlots(gen, now)
	if free == 0 {
		return sc.wait(gen, now)
	}
	msgs, err := sc.dv.spool.Due(now, min(dueBatch, max(16, 8*free)))
	if err != nil {
		sc.dv.log.Error("reading the schedule failed", "err", err)
		return time.Second
	}
	for _, m := range msgs {
		if stop.Err() != nil || sc.saturated(gen) {
			break
		}
		sc.dispatch(ctx, m, now)
	}
	return sc.wait(gen, now)
}

// wait is how long the scheduler may sleep: until the next due time or the
// end of a rate window, whichever is first; a second while due work waits
// for a busy profile (a finished delivery kicks it sooner).
func (sc *scheduler) wait(gen *generation, now time.Time) time.Duration {
	next, ok := sc.dv.spool.NextDue()
	wait := time.Hour
	switch {
	case !ok:
	case !next.After(now):
		// Due work waits for a busy profile; a finished delivery kicks us.
		wait = time.Second
	default:
		wait = next.Sub(now)
	}
	if wake := sc.rateWake(gen, now); !wake.IsZero() {
		wait = min(wait, max(wake.Sub(now), time.Millisecond))
	}
	if end := sc.dv.pauses.nextEnd(now); !end.IsZero() {
		wait = min(wait, max(end.Sub(now), time.Millisecond))
	}
	return wait
}

// dispatch starts the deliveries of one message's due recipients, grouped
// by profile (one transaction per message and profile).
//
// An attempt never outlives its lease: its context ends leaseMargin before
// the lease does (on the real clock). And while it runs its recipients are
// in sc.running, which makes them not due whatever the schedule's clock
// says, so a second attempt of the same recipient cannot start (a lease is
// taken on the injected clock, which a test or a clock jump can move past
// it).
func (sc *scheduler) dispatch(ctx context.Context, m *spool.Message, now time.Time) {
	gen := sc.dv.gen.Load()
	m = sc.dv.park(gen, m, now) // a paused profile's recipients wait, and do not expire
	if sc.dv.expire(gen, m, now) {
		return
	}
	groups := sc.dv.dueGroups(gen, m, now)
	for profile, rcpts := range groups {
		p, ok := gen.usable(profile)
		if _, paused := sc.dv.paused(profile, now); paused || !ok || !sc.acquire(profile, p.Upstream.MaxConns) {
			continue
		}
		if ok, _ := sc.rates.Allow(profile, p.Rate, now); !ok {
			sc.release(profile) // excess waits in the queue, never fails
			continue
		}
		lease := p.Upstream.Timeout*4 + p.Upstream.DataTimeout + leaseSlack
		lm, leased, err := sc.dv.lease(m.ID, profile, rcpts, now, now.Add(lease))
		if err != nil || len(leased) == 0 {
			sc.release(profile)
			if err != nil {
				sc.dv.log.Error("lease failed", "msg_id", m.ID, "profile", profile, "err", err)
			}
			continue
		}
		sc.setRunning(m.ID, leased, true)
		sc.wg.Add(1)
		go func() {
			defer sc.wg.Done()
			defer sc.kick()
			defer sc.release(profile)
			defer sc.setRunning(m.ID, leased, false)
			defer sc.dv.recoverPanic("delivery")
			sc.dv.deliver(ctx, gen, lm, p, leased, max(lease-leaseMargin, lease/2))
		}()
	}
}

// freeSlots counts the delivery slots of enabled profiles that are neither
// busy, paused nor held back by their rate.
func (sc *scheduler) freeSlots(gen *generation, now time.Time) int {
	sc.mu.Lock()
	defer sc.mu.Unlock()
	free := 0
	for name, p := range gen.cfg.Profiles {
		if _, paused := sc.dv.paused(name, now); p.Enabled && !paused && sc.rates.WaitUntil(name, p.Rate, now).IsZero() {
			free += max(max(p.Upstream.MaxConns, 1)-sc.busy[name], 0)
		}
	}
	return free
}

// saturated reports whether every enabled profile that is not paused has
// all its slots busy,
// so looking at further due messages is pointless until a kick.
func (sc *scheduler) saturated(gen *generation) bool {
	sc.mu.Lock()
	defer sc.mu.Unlock()
	now := sc.dv.now()
	for name, p := range gen.cfg.Profiles {
		if _, paused := sc.dv.paused(name, now); p.Enabled && !paused && sc.busy[name] < max(p.Upstream.MaxConns, 1) &&
			sc.rates.WaitUntil(name, p.Rate, now).IsZero() {
			return false
		}
	}
	return true
}

// rateWake is the earliest time a rate-limited profile may start again,
// zero when none is limited.
func (sc *scheduler) rateWake(gen *generation, now time.Time) time.Time {
	var wake time.Time
	for name, p := range gen.cfg.Profiles {
		if t := sc.rates.WaitUntil(name, p.Rate, now); !t.IsZero() && (wake.IsZero() || t.Before(wake)) {
			wake = t
		}
	}
	return wake
}

// rcptKey names one recipient of one message in sc.running.
func rcptKey(id, addr string) string { return id + "\x00" + addr }

// setRunning marks the attempt of rcpts of message id as in flight or done.
func (sc *scheduler) setRunning(id string, rcpts []string, on bool) {
	sc.mu.Lock()
	defer sc.mu.Unlock()
	for _, a := range rcpts {
		if on {
			sc.running[rcptKey(id, a)] = true
		} else {
			delete(sc.running, rcptKey(id, a))
		}
	}
}

// isRunning reports whether an attempt of recipient addr of message id is
// in flight.
func (sc *scheduler) isRunning(id, addr string) bool {
	sc.mu.Lock()
	defer sc.mu.Unlock()
	return sc.running[rcptKey(id, addr)]
}

// inFlight is the number of deliveries running now.
func (sc *scheduler) inFlight() int {
	sc.mu.Lock()
	defer sc.mu.Unlock()
	n := 0
	for _, b := range sc.busy {
		n += b
	}
	return n
}

// acquire takes one of a profile's connection slots, if one is free.
func (sc *scheduler) acquire(profile string, limit int) bool {
	sc.mu.Lock()
	defer sc.mu.Unlock()
	if limit <= 0 {
		limit = 1
	}
	if sc.busy[profile] >= limit {
		return false
	}
	sc.busy[profile]++
	return true
}

func (sc *scheduler) release(profile string) {
	sc.mu.Lock()
	sc.busy[profile]--
	sc.mu.Unlock()
}
