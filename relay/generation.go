package relay

import (
	"time"

	"github.com/relayd/relayd/policy"
	"github.com/relayd/relayd/spool"
)

// generation is one generation of the configuration: a Config plus what is
// derived from it (the policy router). Reload builds a new one and swaps it
// atomically (Server.gen); sessions and deliveries keep the one they
// started with. Variables and fields holding one are named gen. It is
// read-only once built.
type generation struct {
	cfg    *Config
	router *policy.Router
}

// newGeneration derives a generation from cfg.
func newGeneration(cfg *Config) *generation {
	return &generation{cfg: cfg, router: policy.NewRouter(cfg.Policy)}
}

// route decides the profile of one recipient (docs/relayd.toml.5.md, ROUTING).
func (gen *generation) route(from, team, to, headerProfile string) (policy.Decision, error) {
	return gen.router.Route(policy.Request{Sender: from, Team: team, Recipient: to, HeaderProfile: headerProfile})
}

// usable returns the profile if it exists and is enabled.
func (gen *generation) usable(name string) (*Profile, bool) {
	p, ok := gen.cfg.Profiles[name]
	if !ok || !p.Enabled {
		return nil, false
	}
	return p, true
}

// newRecipient is a recipient as accepted: delayed for the profile's
// send_delay, else ready at once.
func (gen *generation) newRecipient(to, profile, rule string, now time.Time) spool.Recipient {
	r := spool.Recipient{Address: to, Profile: profile, Rule: rule, State: spool.StateReady,
		NextAttempt: now, Updated: now}
	if p, ok := gen.cfg.Profiles[profile]; ok && p.SendDelay > 0 && !p.Immediate {
		r.State = spool.StateDelayed
		r.NextAttempt = now.Add(p.SendDelay)
	}
	return r
}

// retryDelay is the wait after the given number of failed attempts
// (retry_schedule; its last entry repeats).
func (gen *generation) retryDelay(attempts int) time.Duration {
	s := gen.cfg.RetrySchedule
	if len(s) == 0 {
		return 5 * time.Minute
	}
	i := max(attempts-1, 0)
	if i >= len(s) {
		i = len(s) - 1
	}
	return s[i]
}
