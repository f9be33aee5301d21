package relay

import (
	"context"
	"time"

	"github.com/relayd/relayd/spool"
	"github.com/relayd/relayd/upstream"
)

// outcome is what happened to one recipient in one attempt.
type outcome struct {
	state spool.State // sent, deferred or bounced
	err   *upstream.Error
}

// outcomes maps an upstream result onto each leased recipient.
func outcomes(rcpts []string, res *upstream.Result) map[string]outcome {
	out := make(map[string]outcome, len(rcpts))
	for i, a := range rcpts {
		var e *upstream.Error
		if i < len(res.Rcpt) && res.Rcpt[i] != nil {
			e = res.Rcpt[i]
		} else if res.Err != nil {
			e = res.Err
		}
		switch {
		case e == nil:
			out[a] = outcome{state: spool.StateSent}
		case e.Temporary:
			out[a] = outcome{state: spool.StateDeferred, err: e}
		default:
			out[a] = outcome{state: spool.StateBounced, err: e}
		}
	}
	return out
}

// record writes the outcome of one attempt into the spool, then logs,
// counts and bounces. A delivery cut short by shutdown leaves its recipients
// queued, due at once after the restart, with the attempt not counted.
func (dv *delivery) record(ctx context.Context, gen *generation, m *spool.Message, body []byte, profile string, rcpts []string, res *upstream.Result) {
	now := dv.now()
	out := outcomes(rcpts, res)
	abandoned := ctx.Err() != nil && res.Err != nil && res.Err.Temporary
	var bounced, waiting []failure
	updated, err := dv.spool.Update(m.ID, func(m *spool.Message) error {
		bounced, waiting = bounced[:0], waiting[:0]
		for i := range m.Recipients {
			r := &m.Recipients[i]
			o, ok := out[r.Address]
			if !ok || r.State != spool.StateSending {
				continue
			}
			r.State, r.Updated = o.state, now
			r.Profile = profile
			if o.err != nil {
				r.LastError = o.err.Error()
			}
			switch {
			case abandoned:
				r.State, r.NextAttempt = spool.StateDeferred, now
				r.Attempts = max(r.Attempts-1, 0)
			case o.state == spool.StateDeferred:
				r.NextAttempt = now.Add(gen.retryDelay(r.Attempts))
				if deadline := m.Created.Add(gen.cfg.MaxQueueAge); gen.cfg.MaxQueueAge > 0 && r.NextAttempt.After(deadline) {
					r.NextAttempt = deadline
				}
			case o.state == spool.StateBounced:
				bounced = append(bounced, failureOf(r.Address, o.err, res.Host))
			}
			if r.State == spool.StateDeferred && warnDue(gen, m, now) {
				waiting = append(waiting, failureOf(r.Address, o.err, res.Host))
			}
		}
		if len(waiting) > 0 {
			m.Warned = true
		}
		return nil
	})
	if err != nil {
		dv.log.Error("recording delivery result failed; the message stays queued", "msg_id", m.ID, "err", err)
		return
	}
	if taken := dv.claim(m.ID, profile, res.Host, out); len(taken) > 0 {
		kept := bounced[:0]
		for _, f := range bounced {
			if !taken[f.addr] {
				kept = append(kept, f)
			}
		}
		bounced = kept
	}
	for _, a := range rcpts {
		o := out[a]
		result := string(o.state)
		dv.metrics.deliveries.WithLabelValues(profile, result).Inc()
		dv.recent.add(o.state, now)
		attrs := []any{"msg_id", m.ID, "rcpt", a, "profile", profile, "host", res.Host, "result", result}
		if o.err != nil {
			attrs = append(attrs, "step", string(o.err.Step), "code", o.err.Code, "err", o.err.Error())
		}
		dv.log.Info("delivery", attrs...)
	}
	if len(bounced) > 0 {
		dv.bounce(gen, updated, bounced, body, now)
	}
	if len(waiting) > 0 {
		dv.delayed(gen, updated, waiting, body, now)
	}
	dv.watch(gen, profile, res, now)
}

// warnDue reports whether m's one "still trying" DSN is due (warn_after;
// never for the null sender or relayd's own notices).
func warnDue(gen *generation, m *spool.Message, now time.Time) bool {
	return gen.cfg.WarnAfter > 0 && !m.Warned && m.Sender != "" && !m.DSN && now.Sub(m.Created) >= gen.cfg.WarnAfter
}
