package relay

import (
	"fmt"
	"time"

	"github.com/relayd/relayd/policy"
	"github.com/relayd/relayd/upstream"
)

// Quota replies: an upstream that says the account's sending
// quota is exhausted (Gmail's 550 5.4.5, Microsoft's 554 5.2.0 naming the
// quota, 421/451 4.7.0 throttling, the profile's quota_replies) is
// answered by waiting, whatever the reply's code: the recipients are
// deferred, never bounced, and the profile is paused for its quota_pause,
// with an admin alert. A retry that meets the quota reply again pauses
// again. Which replies are quota replies is policy.QuotaReply's decision.

// defaultQuotaPause is quota_pause when the profile does not set it.
const defaultQuotaPause = time.Hour

// quota makes every quota reply in res temporary and pauses profile q for
// its quota_pause when there is one. It reports whether there was.
func (dv *delivery) quota(gen *generation, q *Profile, res *upstream.Result) bool {
	var first *upstream.Error
	mark := func(e *upstream.Error) *upstream.Error {
		if e == nil || !policy.QuotaReply(e.Code, e.Enhanced, e.Text, q.QuotaReplies) {
			return e
		}
		c := *e
		c.Temporary = true
		// Not "sender address rejected" (the diagnosis of a 5xx at MAIL):
		// the step is named, with what relayd makes of the reply.
		c.Step = upstream.Step(string(e.Step) + ", a quota reply")
		if first == nil {
			first = &c
		}
		return &c
	}
	res.Err = mark(res.Err)
	for i := range res.Rcpt {
		res.Rcpt[i] = mark(res.Rcpt[i])
	}
	if first == nil {
		return false
	}
	dv.quotaPause(gen, q, first)
	return true
}

// quotaPause pauses profile q after quota reply e, unless a longer pause
// (or one until resumed) is in place already.
func (dv *delivery) quotaPause(gen *generation, q *Profile, e *upstream.Error) {
	name := q.Upstream.Name
	d := q.QuotaPause
	if d <= 0 {
		d = defaultQuotaPause
	}
	now := dv.now()
	if until, ok := dv.paused(name, now); ok && (until.IsZero() || !until.Before(now.Add(d))) {
		return
	}
	if err := dv.pause(name, d, "quota"); err != nil {
		dv.log.Error("could not pause the profile after a quota reply; its recipients are deferred",
			"profile", name, "err", err)
		return
	}
	dv.metrics.quotaPauses.WithLabelValues(name).Inc()
	dv.log.Warn("quota reply: profile paused", "profile", name, "host", e.Host, "code", e.Code,
		"err", e.Error(), "duration", d.String())
	if gen.cfg.Notify.Admin == "" {
		return
	}
	until := now.Add(d)
	dv.adminMail(gen, name, now, fmt.Sprintf("[relayd] profile %s hit its sending quota: paused until %s",
		name, until.UTC().Format(time.RFC3339)),
		fmt.Sprintf("relayd on %s was told by the upstream of profile %q that the account's sending quota is "+
			"exhausted:\r\n\r\n%s\r\n\r\nThe profile is paused for %s (quota_pause), until %s. Its mail stays "+
			"queued, nothing bounces, and delivery resumes by itself when the pause ends; a retry that meets "+
			"the quota again pauses it again.\r\nTo send sooner: relayd profile resume %s (the provider may "+
			"refuse again); to stay under the quota: set the profile's rate.\r\n",
			gen.cfg.Hostname, name, wrap(e.Error()), d, until.UTC().Format(time.RFC1123Z), name))
}
