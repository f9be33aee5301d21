package relay

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/relayd/relayd/policy"
	"github.com/relayd/relayd/spool"
	"github.com/relayd/relayd/upstream"
)

// Alerts to [notify] admin (docs/relayd.toml.5.md): a profile that cannot authenticate,
// fails TLS, has its sender refused, or has been unreachable for
// alertDownAfter gets one alert mail, at most one per profile per
// alertEvery, and a recovery mail once it delivers again.
const (
	alertDownAfter = 15 * time.Minute
	alertEvery     = time.Hour
)

// health is what relay remembers about one profile's recent attempts.
type health struct {
	failingSince time.Time       // start of the current run of failed attempts
	lastErr      *upstream.Error // latest failure of the run
	alerted      bool            // an alert went out for this run
	lastAlert    time.Time
	lastResult   string // "ok" or the diagnosis, for GET /api/v1/profiles
	lastTime     time.Time
}

type healths struct {
	mu sync.Mutex
	m  map[string]*health
}

func (hs *healths) get(profile string) *health {
	if hs.m == nil {
		hs.m = map[string]*health{}
	}
	h := hs.m[profile]
	if h == nil {
		h = &health{}
		hs.m[profile] = h
	}
	return h
}

// lastResult returns a profile's latest attempt outcome and its time.
func (hs *healths) lastResult(profile string) (string, time.Time) {
	hs.mu.Lock()
	defer hs.mu.Unlock()
	h := hs.m[profile]
	if h == nil {
		return "", time.Time{}
	}
	return h.lastResult, h.lastTime
}

// failingSince returns the start of a profile's current run of failed
// attempts, zero when its latest attempt succeeded or there was none.
func (hs *healths) failingSince(profile string) time.Time {
	hs.mu.Lock()
	defer hs.mu.Unlock()
	if h := hs.m[profile]; h != nil {
		return h.failingSince
	}
	return time.Time{}
}

// watch records one attempt's transaction-level outcome for profile and
// sends an alert or recovery mail when one is due.
func (dv *delivery) watch(gen *generation, profile string, res *upstream.Result, now time.Time) {
	e := res.Err
	dv.health.mu.Lock()
	h := dv.health.get(profile)
	h.lastTime = now
	var alert, recovered bool
	if e == nil {
		h.lastResult = "ok"
		recovered = h.alerted
		h.failingSince, h.lastErr, h.alerted = time.Time{}, nil, false
	} else {
		h.lastResult = e.Error()
		if errors.Is(e, upstream.ErrOAuth2) && e.Code == 0 {
			// The token endpoint failed: "oauth: ...".
			h.lastResult = strings.TrimPrefix(h.lastResult, "profile "+profile+": ")
		}
		if h.failingSince.IsZero() {
			h.failingSince = now
		}
		h.lastErr = e
		alert = alarming(e, now.Sub(h.failingSince)) && (h.lastAlert.IsZero() || now.Sub(h.lastAlert) >= alertEvery)
		if alert {
			h.alerted, h.lastAlert = true, now
		}
	}
	since := h.failingSince
	dv.health.mu.Unlock()

	if gen.cfg.Notify.Admin == "" || !(alert || recovered) {
		return
	}
	if alert {
		dv.log.Warn("profile failing: alerting the admin", "profile", profile, "step", string(e.Step), "err", e.Error())
		dv.adminMail(gen, profile, now, fmt.Sprintf("[relayd] profile %s is failing (%s)", profile, e.Step),
			fmt.Sprintf("relayd on %s cannot deliver through profile %q since %s.\r\n\r\n%s\r\n\r\n"+
				"Mail for this profile stays queued and is retried; it bounces after max_queue_age.\r\n"+
				"Check it with: relayd test %s\r\n"+
				"You get at most one such mail per profile per hour, and one when it works again.\r\n",
				gen.cfg.Hostname, profile, since.UTC().Format(time.RFC1123Z), wrap(e.Error()), profile))
		return
	}
	dv.log.Info("profile recovered: telling the admin", "profile", profile)
	dv.adminMail(gen, profile, now, fmt.Sprintf("[relayd] profile %s works again", profile),
		fmt.Sprintf("relayd on %s delivered through profile %q again at %s.\r\n",
			gen.cfg.Hostname, profile, now.UTC().Format(time.RFC1123Z)))
}

// alarming reports whether a failure deserves the admin's attention: what
// only an admin can fix at once, or an upstream down for a while.
func alarming(e *upstream.Error, down time.Duration) bool {
	switch e.Step {
	case upstream.StepAuth, upstream.StepStartTLS, upstream.StepTLS:
		return true
	case upstream.StepMail:
		return !e.Temporary
	case upstream.StepResolve, upstream.StepConnect, upstream.StepBanner, upstream.StepEHLO:
		return down >= alertDownAfter
	}
	return false
}

// adminMail queues a plain text mail to [notify] admin about profile,
// through a profile chosen by alertRoute, so that an alert about a failing
// profile is not queued behind that very profile.
func (dv *delivery) adminMail(gen *generation, profile string, now time.Time, subject, text string) {
	admin := gen.cfg.Notify.Admin
	via, rule, ok := dv.alertRoute(gen, profile)
	if !ok {
		dv.log.Error("admin alert not sent: no enabled profile other than the failing one to send it through; "+
			"set [notify] profile to a profile that works", "profile", profile, "rcpt", admin, "subject", subject)
		return
	}
	body := dv.adminBody(gen, now, subject, text)
	n := &spool.Message{ID: spool.NewID(), Created: now, Listener: "relayd", Size: int64(len(body)), DSN: true,
		Recipients: []spool.Recipient{{Address: admin, Profile: via, Rule: rule, State: spool.StateReady,
			NextAttempt: now, Updated: now}}}
	n.From, n.Subject = noticeFields(body)
	if err := dv.spool.Commit(n, body); err != nil {
		dv.log.Error("admin alert could not be queued", "profile", profile, "err", err)
		return
	}
	dv.log.Info("admin alert queued", "profile", profile, "msg_id", n.ID, "via", via, "rule", rule)
	dv.sched.kick()
}

// adminBody is the message of an admin alert: headers and plain text.
func (dv *delivery) adminBody(gen *generation, now time.Time, subject, text string) []byte {
	from := dv.notifyFrom(gen)
	var b strings.Builder
	fmt.Fprintf(&b, "From: relayd <%s>\r\nTo: <%s>\r\nSubject: %s\r\nDate: %s\r\n", from, gen.cfg.Notify.Admin,
		oneLine(subject), now.Format(time.RFC1123Z))
	fmt.Fprintf(&b, "Message-ID: <%s@%s>\r\nAuto-Submitted: auto-generated\r\nMIME-Version: 1.0\r\n", spool.NewID(), gen.cfg.Hostname)
	b.WriteString("Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n")
	b.WriteString(text)
	return []byte(b.String())
}

// alertRoute picks the profile an alert about profile goes through, and
// the rule recorded with it: [notify] profile; else the system default;
// else the profile routing picks for [notify] admin; else any other enabled
// profile, by name. The failing profile itself is never picked, and one
// that is failing too only when nothing else is left.
func (dv *delivery) alertRoute(gen *generation, profile string) (via, rule string, ok bool) {
	type cand struct{ name, rule string }
	cands := []cand{{gen.cfg.Notify.Profile, "[notify] profile"}, {gen.cfg.Policy.DefaultProfile, policy.RuleSystemDefault}}
	if d, err := gen.route("", "", gen.cfg.Notify.Admin, ""); err == nil {
		cands = append(cands, cand{d.Profile, d.Rule})
	}
	names := make([]string, 0, len(gen.cfg.Profiles))
	for name := range gen.cfg.Profiles {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		cands = append(cands, cand{name, "alert: an enabled profile other than " + profile})
	}
	dv.health.mu.Lock()
	defer dv.health.mu.Unlock()
	for _, healthyOnly := range []bool{true, false} {
		for _, c := range cands {
			if c.name == "" || c.name == profile || !gen.router.Usable(c.name, "") {
				continue
			}
			if h := dv.health.m[c.name]; healthyOnly && h != nil && !h.failingSince.IsZero() {
				continue
			}
			return c.name, c.rule, true
		}
	}
	return "", "", false
}

// wrap folds a long diagnosis into lines of at most 76 octets at spaces.
func wrap(s string) string {
	var out strings.Builder
	n := 0
	for _, w := range strings.Fields(s) {
		if n > 0 && n+1+len(w) > 76 {
			out.WriteString("\r\n")
			n = 0
		} else if n > 0 {
			out.WriteByte(' ')
			n++
		}
		out.WriteString(w)
		n += len(w)
	}
	return out.String()
}
