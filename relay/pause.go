package relay

import (
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/relayd/relayd/spool"
)

// Pausing a profile at run time (docs/architecture.md, "Pausing a profile"). A paused profile is still
// chosen by routing, but its recipients wait in the queue: no delivery
// attempt, no re-routing to another profile, no failure counted, and no
// max_queue_age bounce while the pause lasts. The pauses live in the spool
// (spool.SetPause) and in memory here; the scheduler reads only the memory.
//
// The scheduler skips a paused profile without reading its messages again
// on every pass: the first time it meets a due recipient of a paused
// profile it "parks" it, moving its next attempt to the pause's end (or
// parkInterval ahead for a pause until resumed). ResumeProfile makes the
// parked recipients due again (spool.Unpark); a timed pause simply ends,
// and the scheduler wakes at that time.

// ErrNoProfile is returned by PauseProfile and ResumeProfile for a profile
// name that the running configuration does not have (the API answers 404).
var ErrNoProfile = errors.New("no such profile")

// parkInterval is how far ahead a recipient of a profile paused until
// resumed is parked. Resume unparks at once; this only bounds how long a
// recipient can be left parked by a pause that vanished some other way (a
// reload that removed the profile).
const parkInterval = time.Hour

// pauses is the in-memory copy of the spool's pauses. Safe for concurrent
// use.
type pauses struct {
	mu sync.Mutex
	m  map[string]spool.Pause
	// n is len(m), read without mu: the scheduler and the accept path
	// ask about a pause several times per message, and there is usually
	// none.
	n atomic.Int64
}

func (p *pauses) get(name string) (spool.Pause, bool) {
	if p.n.Load() == 0 {
		return spool.Pause{}, false
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	ps, ok := p.m[name]
	return ps, ok
}

func (p *pauses) set(ps spool.Pause) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.m == nil {
		p.m = map[string]spool.Pause{}
	}
	p.m[ps.Profile] = ps
	p.n.Store(int64(len(p.m)))
}

func (p *pauses) del(name string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	delete(p.m, name)
	p.n.Store(int64(len(p.m)))
}

// ended returns the pauses over at now.
func (p *pauses) ended(now time.Time) []spool.Pause {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []spool.Pause
	for _, ps := range p.m {
		if !ps.Active(now) {
			out = append(out, ps)
		}
	}
	return out
}

// nextEnd is the earliest end of a timed pause still running at now, zero
// if none.
func (p *pauses) nextEnd(now time.Time) time.Time {
	p.mu.Lock()
	defer p.mu.Unlock()
	var t time.Time
	for _, ps := range p.m {
		if !ps.Until.IsZero() && ps.Active(now) && (t.IsZero() || ps.Until.Before(t)) {
			t = ps.Until
		}
	}
	return t
}

// loadPauses reads the stored pauses into memory (at New).
func (dv *delivery) loadPauses() error {
	ps, err := dv.spool.Pauses()
	if err != nil {
		return fmt.Errorf("relay: read the paused profiles: %w", err)
	}
	for _, p := range ps {
		dv.pauses.set(p)
	}
	return nil
}

// paused reports whether profile is paused at now, and until when (zero:
// until resumed).
func (dv *delivery) paused(profile string, now time.Time) (until time.Time, ok bool) {
	p, ok := dv.pauses.get(profile)
	if !ok || !p.Active(now) {
		return time.Time{}, false
	}
	return p.Until, true
}

// PauseProfile pauses deliveries through profile name for d (0: until
// ResumeProfile), durably: the pause survives restarts. by names who paused
// it, for the log and the profile listing. A pause replaces an earlier one
// of the same profile. It returns an error wrapping ErrNoProfile when the
// running configuration has no such profile. Safe for concurrent use.
func (s *Server) PauseProfile(name string, d time.Duration, by string) error {
	return s.delivery.pause(name, d, by)
}

// pause is PauseProfile, also taken by a quota reply (quotaPause).
func (dv *delivery) pause(name string, d time.Duration, by string) error {
	if _, ok := dv.gen.Load().cfg.Profiles[name]; !ok {
		return fmt.Errorf("profile %q is not in the running configuration: %w", name, ErrNoProfile)
	}
	if d < 0 {
		return fmt.Errorf("a pause of profile %s cannot last a negative time (%s)", name, d)
	}
	now := dv.now()
	var until time.Time
	if d > 0 {
		until = now.Add(d)
	}
	if err := dv.setPause(name, now, until, by); err != nil {
		return err
	}
	dv.sharePause(name, until, by, now)
	return nil
}

// setPause stores and applies a pause of profile name from since until
// until (zero: until resumed).
func (dv *delivery) setPause(name string, since, until time.Time, by string) error {
	now := since
	p := spool.Pause{Profile: name, Since: since, By: by, Until: until}
	_, was := dv.paused(name, now)
	if err := dv.spool.SetPause(p); err != nil {
		return err
	}
	dv.pauses.set(p)
	if was {
		// Recipients parked for the earlier pause follow the new one's end.
		if _, err := dv.spool.Unpark(name); err != nil {
			dv.log.Error("could not reschedule the paused profile's recipients", "profile", name, "err", err)
		}
	}
	if !until.IsZero() {
		dv.log.Info("profile paused", "profile", name, "user", by, "until", p.Until.UTC().Format(time.RFC3339))
	} else {
		dv.log.Info("profile paused", "profile", name, "user", by, "until", "resumed")
	}
	dv.sched.kick()
	return nil
}

// ResumeProfile ends the pause of profile name (no error if it was not
// paused) and makes its waiting recipients due now; the change is durable
// when it returns. by names who resumed it, for the log. It returns an
// error wrapping ErrNoProfile when the running configuration has no such
// profile. Safe for concurrent use.
func (s *Server) ResumeProfile(name, by string) error { return s.delivery.resume(name, by) }

// resume is ResumeProfile.
func (dv *delivery) resume(name, by string) error {
	if _, ok := dv.gen.Load().cfg.Profiles[name]; !ok {
		return fmt.Errorf("profile %q is not in the running configuration: %w", name, ErrNoProfile)
	}
	if err := dv.clearPause(name, by); err != nil {
		return err
	}
	dv.shareResume(name, by)
	return nil
}

// clearPause ends the pause of profile name here and unparks its
// recipients.
func (dv *delivery) clearPause(name, by string) error {
	if err := dv.spool.ClearPause(name); err != nil {
		return err
	}
	// Cleared in memory before Unpark, so that a park racing with it sees
	// the profile resumed (park re-checks under the message's lock).
	dv.pauses.del(name)
	n, err := dv.spool.Unpark(name)
	if err != nil {
		return err
	}
	dv.log.Info("profile resumed", "profile", name, "user", by, "messages", n)
	dv.sched.kick()
	return nil
}

// endPauses forgets the timed pauses that are over at now, in memory and
// in the spool (their recipients were parked until that time and are due).
func (dv *delivery) endPauses(now time.Time) {
	for _, p := range dv.pauses.ended(now) {
		if err := dv.spool.ClearPause(p.Profile); err != nil {
			dv.log.Error("could not remove an ended pause", "profile", p.Profile, "err", err)
			continue
		}
		dv.pauses.del(p.Profile)
		dv.log.Info("profile pause ended", "profile", p.Profile, "paused_by", p.By)
	}
}

// park moves the due recipients of m whose profile is paused to the end of
// the pause (parkInterval ahead for a pause until resumed), so that the
// scheduler does not read m again before then. Attempts, state and last
// error are left alone: waiting for a pause is not a failure. It returns m
// as it is now.
func (dv *delivery) park(gen *generation, m *spool.Message, now time.Time) *spool.Message {
	if dv.pauses.n.Load() == 0 {
		return m // no pause: nothing to park (and no route to look up per recipient)
	}
	hit := false
	for _, r := range m.Recipients {
		if dv.due(m.ID, r, now) {
			if _, ok := dv.paused(dv.target(gen, m, r), now); ok {
				hit = true
				break
			}
		}
	}
	if !hit {
		return m
	}
	parked := 0
	um, err := dv.spool.Update(m.ID, func(m *spool.Message) error {
		parked = 0
		for i := range m.Recipients {
			r := &m.Recipients[i]
			if !dv.due(m.ID, *r, now) {
				continue
			}
			until, ok := dv.paused(dv.target(gen, m, *r), now)
			if !ok {
				continue
			}
			if until.IsZero() {
				until = now.Add(parkInterval)
			}
			r.NextAttempt = until
			parked++
		}
		return nil
	})
	if err != nil {
		dv.log.Error("could not park a paused profile's recipients", "msg_id", m.ID, "err", err)
		return m
	}
	if parked > 0 {
		dv.log.Debug("recipients wait for a paused profile", "msg_id", m.ID, "rcpts", parked)
	}
	return um
}

// target is the profile recipient r of m goes to now: its recorded profile,
// or the one routing picks when that is disabled or gone (dueGroups).
func (dv *delivery) target(gen *generation, m *spool.Message, r spool.Recipient) string {
	if gen.router.Usable(r.Profile, m.Team) {
		return r.Profile
	}
	if d, err := gen.route(m.Sender, m.Team, r.Address, ""); err == nil {
		return d.Profile
	}
	return r.Profile
}

// pausedNote shows a waiting recipient of a paused profile in the API:
// its next attempt is the pause's end (null for a pause until resumed),
// and an empty last error says why it waits.
func (s *Server) pausedNote(ar *QueueRecipient, r spool.Recipient, now time.Time) {
	if r.State == spool.StateSending || r.State == spool.StateHeld || r.State.Final() {
		return
	}
	until, ok := s.delivery.paused(r.Profile, now)
	if !ok {
		return
	}
	why := "waiting: profile " + r.Profile + " is paused until resumed"
	if until.IsZero() {
		ar.NextAttempt = nil
	} else {
		why = "waiting: profile " + r.Profile + " is paused until " + until.UTC().Format(time.RFC3339)
		if ar.NextAttempt == nil || ar.NextAttempt.Before(until) {
			ar.NextAttempt = &until
		}
	}
	if ar.LastError == "" {
		ar.LastError = why
	}
}

// pausedCollector exports relayd_profile_paused{profile} (docs/metrics.md): 1
// while the profile is paused, 0 for every other profile of the running
// configuration. It reads the pauses and the clock at scrape time, so a
// timed pause drops to 0 when it ends.
type pausedCollector struct {
	dv   *delivery
	desc *prometheus.Desc
}

func newPausedCollector(dv *delivery) *pausedCollector {
	return &pausedCollector{dv: dv, desc: prometheus.NewDesc("relayd_profile_paused",
		"1 while the profile is paused at run time (relayd profile pause), else 0.", []string{"profile"}, nil)}
}

// Describe implements prometheus.Collector.
func (c *pausedCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

// Collect implements prometheus.Collector.
func (c *pausedCollector) Collect(ch chan<- prometheus.Metric) {
	now := c.dv.now()
	for name := range c.dv.gen.Load().cfg.Profiles {
		v := 0.0
		if _, ok := c.dv.paused(name, now); ok {
			v = 1
		}
		ch <- prometheus.MustNewConstMetric(c.desc, prometheus.GaugeValue, v, name)
	}
}
