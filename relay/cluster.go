package relay

import (
	"fmt"
	"time"
)

// Several relayd, one per host, each with its own spool (docs/operations.md, "Running several relayd"), share
// what must be counted together through Options.RateLimiter (the rate
// windows) and Options.PauseSharer (the run-time pauses). relay knows only
// these interfaces; cmd/relayd wires the Redis-backed ones of package
// cluster.

// PauseSharer tells the other relayd of a cluster about the pauses set and
// ended here (by the API, the CLI or a quota reply). It must not block for
// long: it is called by API handlers and deliveries. A pause that cannot be
// shared (Redis down) still holds here: the spool keeps its own copy.
type PauseSharer interface {
	// SharePause announces that profile is paused until until (zero: until
	// resumed) by by, as of now (this relayd's clock).
	SharePause(profile string, until time.Time, by string, now time.Time)
	// ShareResume announces that profile was resumed by by.
	ShareResume(profile, by string)
}

func (dv *delivery) sharePause(name string, until time.Time, by string, now time.Time) {
	if sh := dv.sharer; sh != nil {
		sh.SharePause(name, until, by, now)
	}
}

func (dv *delivery) shareResume(name, by string) {
	if sh := dv.sharer; sh != nil {
		sh.ShareResume(name, by)
	}
}

// ApplySharedPause applies a pause that another relayd of the cluster set:
// like PauseProfile, but until is absolute and the pause is not shared
// again. A pause already in place with the same end, or one that has
// ended by this relayd's clock, changes nothing. It returns an error
// wrapping ErrNoProfile when the running configuration has no such
// profile (that relayd has a profile this one has not).
func (s *Server) ApplySharedPause(name string, until time.Time, by string) error {
	if _, ok := s.gen.Load().cfg.Profiles[name]; !ok {
		return fmt.Errorf("profile %q is not in the running configuration: %w", name, ErrNoProfile)
	}
	now := s.now()
	if !until.IsZero() && !until.After(now) {
		return nil
	}
	if cur, ok := s.delivery.pauses.get(name); ok && cur.Active(now) && cur.Until.Equal(until) {
		return nil
	}
	return s.delivery.setPause(name, now, until, by)
}

// ApplySharedResume ends a pause that another relayd of the cluster ended;
// it is not shared again. Resuming a profile that is not paused here
// changes nothing.
func (s *Server) ApplySharedResume(name, by string) error {
	if _, ok := s.gen.Load().cfg.Profiles[name]; !ok {
		return fmt.Errorf("profile %q is not in the running configuration: %w", name, ErrNoProfile)
	}
	if _, ok := s.delivery.pauses.get(name); !ok {
		return nil
	}
	return s.delivery.clearPause(name, by)
}

// AlertAdmin queues an alert mail to [notify] admin about something that
// is no profile's fault (the cluster's Redis is unreachable), through the
// profile alerts go through. Without [notify] admin it does nothing.
func (s *Server) AlertAdmin(subject, text string) {
	gen := s.gen.Load()
	if gen.cfg.Notify.Admin == "" {
		return
	}
	s.delivery.adminMail(gen, "", s.now(), "[relayd] "+subject, text)
}
