package relay

import (
	"log/slog"
	"runtime/debug"
	"sync/atomic"
	"time"

	"github.com/relayd/relayd/relay/attachments"
	"github.com/relayd/relayd/spool"
	"github.com/relayd/relayd/upstream"
)

// delivery is relay's outbound half: it takes what the inbound half (the
// listeners and sessions) committed to the spool and sees it delivered,
// bounced or expired. The data flow of one message, file by file:
//
//	scheduler.go        a pass reads the due messages (spool.Due) and dispatches
//	                    them, within each profile's max_conns and rate (ratelimit.go)
//	pause.go            recipients of a paused profile are parked until the pause
//	                    ends; cluster.go shares the pauses with other relayd
//	delivery_expire.go  recipients past max_queue_age bounce with 4.4.7 (expire)
//	delivery_lease.go   due recipients, grouped by profile, are leased ("sending")
//	delivery_send.go    deliver: the envelope with rewrites, attachment links
//	                    (attach.go), the 7-bit form (eightbit.go) and DKIM; send
//	                    through the profile and its fallbacks (upstream.Pool)
//	quota.go            a quota reply defers and pauses the profile
//	delivery_record.go  record: the outcome is written to the spool, logged, counted
//	bounce.go           failed recipients get a DSN; warn_after a "delayed" one
//	alerts.go           a failing or recovered profile gets an admin mail;
//	                    spoolalert.go sends the one mail about a failing spool
//	immediate.go        an awaiting session takes its recipients' outcomes
//
// A Server holds one delivery and wires it to the sessions (immediate mode,
// kicks after a commit) and the admin API (pauses, health, kicks). Every
// delivery reads the configuration generation current when it starts
// (gen); its methods are safe for concurrent use.
type delivery struct {
	log     *slog.Logger
	now     func() time.Time
	spool   *spool.Store
	pool    *upstream.Pool
	metrics *metrics
	gen     *atomic.Pointer[generation] // the Server's current generation
	attach  *attachments.Store          // Options.Attachments; nil = no links
	sharer  PauseSharer                 // Options.PauseSharer; nil = this relayd only
	sched   *scheduler
	health  healths      // recent outcome per profile (alerts.go)
	waiting waiters      // sessions awaiting outcomes (immediate.go)
	recent  recentCounts // delivery outcomes of the last day (console Overview)
	pauses  pauses       // profiles paused at run time (pause.go)
}

// newDelivery builds the delivery half of s and loads the stored pauses.
func newDelivery(s *Server) (*delivery, error) {
	dv := &delivery{log: s.log, now: s.now, spool: s.spool, pool: s.pool, metrics: s.metrics, gen: &s.gen,
		attach: s.opts.Attachments, sharer: s.opts.PauseSharer}
	dv.sched = newScheduler(dv, s.opts.RateLimiter)
	if err := dv.loadPauses(); err != nil {
		return nil, err
	}
	return dv, nil
}

// recoverPanic logs and counts a panic at a goroutine's top; the message it
// was working on stays queued (until its lease runs out).
func (dv *delivery) recoverPanic(component string) {
	if r := recover(); r != nil {
		dv.metrics.panics.WithLabelValues(component).Inc()
		dv.log.Error("panic", "component", component, "panic", r, "stack", string(debug.Stack()))
	}
}

// kick makes the scheduler look at the spool now (after a commit or an
// admin action); it never blocks.
func (dv *delivery) kick() { dv.sched.kick() }
