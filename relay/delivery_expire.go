package relay

import (
	"time"

	"github.com/relayd/relayd/spool"
)

// expire bounces the recipients of m that have waited longer than
// max_queue_age. It reports whether m has nothing left to do.
func (dv *delivery) expire(gen *generation, m *spool.Message, now time.Time) bool {
	if gen.cfg.MaxQueueAge <= 0 || now.Sub(m.Created) < gen.cfg.MaxQueueAge {
		return false
	}
	body, _ := dv.spool.Body(m.ID) // for the DSN; gone once every recipient is final
	var bounced []failure
	updated, err := dv.spool.Update(m.ID, func(m *spool.Message) error {
		bounced = bounced[:0]
		for i := range m.Recipients {
			r := &m.Recipients[i]
			if !dv.due(m.ID, *r, now) {
				continue
			}
			if r.LastError == "" {
				r.LastError = "message expired before its first delivery attempt"
			}
			r.LastError = "4.4.7 delivery time expired (max_queue_age): " + r.LastError
			r.State, r.Updated = spool.StateBounced, now
			bounced = append(bounced, failure{addr: r.Address, status: "4.4.7", diag: "x-local; " + r.LastError})
		}
		return nil
	})
	if err != nil {
		dv.log.Error("expiring message failed", "msg_id", m.ID, "err", err)
		return true
	}
	// Counted here, not in the callback: Update may run it more than once.
	expired := map[string]bool{}
	for _, f := range bounced {
		expired[f.addr] = true
	}
	for _, r := range updated.Recipients {
		if expired[r.Address] {
			dv.metrics.deliveries.WithLabelValues(r.Profile, "bounced").Inc()
			dv.recent.add(spool.StateBounced, now)
			dv.log.Info("delivery", "msg_id", m.ID, "rcpt", r.Address, "profile", r.Profile, "result", "bounced", "err", r.LastError)
		}
	}
	if len(bounced) > 0 {
		dv.bounce(gen, updated, bounced, body, now)
	}
	return true
}
