package relay

import (
	"time"

	"github.com/relayd/relayd/spool"
)

// dueGroups returns the due recipients of m by the profile they go to now.
// A recipient whose recorded profile is missing or disabled (after a reload)
// is routed again by the same rules (docs/relayd.toml.5.md, ROUTING).
func (dv *delivery) dueGroups(gen *generation, m *spool.Message, now time.Time) map[string][]string {
	groups := map[string][]string{}
	for _, r := range m.Recipients {
		if !dv.due(m.ID, r, now) {
			continue
		}
		profile := r.Profile
		if !gen.router.Usable(profile, m.Team) {
			d, err := gen.route(m.Sender, m.Team, r.Address, "")
			if err != nil {
				dv.log.Warn("no enabled profile for queued recipient; it waits for a config change",
					"msg_id", m.ID, "rcpt", r.Address, "profile", profile)
				continue
			}
			dv.log.Info("recipient re-routed", "msg_id", m.ID, "rcpt", r.Address, "from_profile", profile,
				"profile", d.Profile, "rule", d.Rule)
			profile = d.Profile
		}
		groups[profile] = append(groups[profile], r.Address)
	}
	return groups
}

// due reports whether recipient r of message id is due at now and no
// attempt of it is in flight (scheduler.dispatch).
func (dv *delivery) due(id string, r spool.Recipient, now time.Time) bool {
	return isDue(r, now) && (r.State != spool.StateSending || !dv.sched.isRunning(id, r.Address))
}

func isDue(r spool.Recipient, now time.Time) bool {
	switch r.State {
	case spool.StateDelayed, spool.StateReady, spool.StateDeferred, spool.StateSending:
		return !r.NextAttempt.After(now)
	}
	return false
}

// lease moves the given due recipients to "sending" under profile, durably
// enough that a crash re-queues them (persist the lease before any
// network I/O). It returns the recipients actually leased: an admin may have
// held or cancelled some since they were read.
func (dv *delivery) lease(id, profile string, rcpts []string, now, until time.Time) (*spool.Message, []string, error) {
	var leased []string
	want := map[string]bool{}
	for _, a := range rcpts {
		want[a] = true
	}
	gen := dv.gen.Load()
	m, err := dv.spool.Update(id, func(m *spool.Message) error {
		leased = leased[:0]
		for i := range m.Recipients {
			r := &m.Recipients[i]
			if !want[r.Address] || !dv.due(id, *r, now) {
				continue
			}
			if r.Profile != profile {
				if d, err := gen.route(m.Sender, m.Team, r.Address, ""); err == nil {
					r.Rule = d.Rule
				}
				r.Profile = profile
			}
			r.State, r.NextAttempt, r.Updated = spool.StateSending, until, now
			r.Attempts++
			leased = append(leased, r.Address)
		}
		return nil
	})
	return m, leased, err
}
