package relay

import (
	"context"
	"fmt"
	"time"

	"github.com/relayd/relayd/spool"
)

// spoolAlertTimeout bounds the delivery of the spool failure alert.
const spoolAlertTimeout = 2 * time.Minute

// watchSpool waits for the spool to fail (a failed fsync or write: it then
// refuses new mail with 452 until a restart) and tells the admin once. The
// alert cannot be queued in the failing spool, so it is built like every
// admin alert (adminMail) and handed to the upstream at once, through the
// profile [notify] admin routes to; if that fails it is only logged.
func (dv *delivery) watchSpool(ctx context.Context) {
	select {
	case <-ctx.Done():
		return
	case <-dv.spool.Failed():
	}
	defer dv.recoverPanic("scheduler")
	gen := dv.gen.Load()
	err := dv.spool.Err()
	dv.log.Error("the spool is failing: new mail is refused with 452 4.3.1 until relayd is restarted", "err", err)
	to := gen.cfg.Notify.Admin
	if to == "" {
		return
	}
	now := dv.now()
	subject := "[relayd] the spool is failing: new mail is refused"
	text := fmt.Sprintf("relayd on %s could not write or sync its spool at %s.\r\n\r\n%s\r\n\r\n"+
		"Clients get 452 4.3.1 (try again later) for every new message. Mail queued before\r\n"+
		"keeps being delivered. Check the disk, then restart relayd.\r\n",
		gen.cfg.Hostname, now.UTC().Format(time.RFC1123Z), wrap(err.Error()))
	body := dv.adminBody(gen, now, subject, text)
	d, rerr := gen.route("", "", to, "")
	p, ok := gen.usable(d.Profile)
	if rerr != nil || !ok {
		dv.log.Error("spool failure alert not sent: no enabled profile for [notify] admin", "rcpt", to)
		return
	}
	actx, cancel := context.WithTimeout(ctx, spoolAlertTimeout)
	defer cancel()
	env, eerr := dv.envelope(gen, &spool.Message{ID: spool.NewID(), DSN: true}, body, p, []string{to})
	if eerr != nil {
		dv.log.Error("spool failure alert not sent", "profile", d.Profile, "err", eerr)
		return
	}
	if res := dv.pool.Send(actx, &p.Upstream, env); res.Err != nil {
		dv.log.Error("spool failure alert not sent", "profile", d.Profile, "err", res.Err.Error())
		return
	}
	dv.log.Info("spool failure alert sent", "profile", d.Profile, "rcpt", to)
}
