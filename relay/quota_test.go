package relay

import (
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emersion/go-smtp"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/relayd/relayd/spool"
)

// quotaSink is profile "a"'s upstream: it answers the step's first
// `times` attempts with reply, then accepts. Profile "b" carries the admin
// alerts ([notify] profile).
func quotaSetup(t *testing.T, step string, reply *smtp.SMTPError, times int32) (*testRelay, *sink, *sink) {
	t.Helper()
	cfg, sa, sb := twoUpstreams(t)
	cfg.Notify.Admin, cfg.Notify.Profile = "admin@example.net", "b"
	cfg.Profiles["a"].QuotaReplies = []string{"550 5.7.1 Daily message limit"}
	var n atomic.Int32
	refuse := func() error {
		if n.Add(1) <= times {
			return reply
		}
		return nil
	}
	sa.set(func() {
		switch step {
		case "mail":
			sa.onMail = func(string) error { return refuse() }
		case "rcpt":
			sa.onRcpt = func(string) error { return refuse() }
		case "dot":
			sa.onData = func(int) error { return refuse() }
		}
	})
	return startRelay(t, cfg), sa, sb
}

func smtpErr(code int, enh smtp.EnhancedCode, text string) *smtp.SMTPError {
	return &smtp.SMTPError{Code: code, EnhancedCode: enh, Message: text}
}

// TestQuotaReplyDefersAndPauses: each built-in quota reply, at the step
// providers send it, defers the recipient (no bounce, no DSN), pauses the
// profile for its quota_pause, counts relayd_quota_pauses_total, alerts
// the admin through another profile; after the pause the message goes out
// by itself (injected clock).
func TestQuotaReplyDefersAndPauses(t *testing.T) {
	cases := []struct {
		name, step string
		reply      *smtp.SMTPError
		pause      time.Duration
	}{
		{"gmail 550 5.4.5", "mail", smtpErr(550, smtp.EnhancedCode{5, 4, 5}, "Daily user sending limit exceeded."), 0},
		{"microsoft SubmissionQuotaExceeded", "dot", smtpErr(554, smtp.EnhancedCode{5, 2, 0},
			"STOREDRV.Submission.Exception:SubmissionQuotaExceededException; Failed to process message due to a permanent exception"), 0},
		{"microsoft RecipientRateLimitExceeded", "rcpt", smtpErr(554, smtp.EnhancedCode{5, 2, 0},
			"STOREDRV.Deliver.Exception:RecipientRateLimitExceededException; Failed to process message"), 0},
		{"421 4.7.0 throttling", "mail", smtpErr(421, smtp.EnhancedCode{4, 7, 0}, "Try again later, closing connection."), 0},
		{"451 4.7.0 throttling", "rcpt", smtpErr(451, smtp.EnhancedCode{4, 7, 0}, "Throttled, try again later"), 30 * time.Minute},
		{"quota_replies pattern", "dot", smtpErr(550, smtp.EnhancedCode{5, 7, 1}, "DAILY message limit reached"), 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r, sa, sb := quotaSetup(t, tc.step, tc.reply, 1)
			pause := time.Hour
			if tc.pause > 0 {
				pause = tc.pause
				r.srv.gen.Load().cfg.Profiles["a"].QuotaPause = tc.pause
			}
			start := r.clock.Now()
			id := send(t, r.addr, "app@example.com", []string{"x@example.org"}, simpleBody)
			m := r.waitState(id, spool.StateDeferred)
			if le := m.Recipients[0].LastError; !strings.Contains(le, "a quota reply") {
				t.Errorf("last error %q does not say it was a quota reply", le)
			}
			until, ok := r.srv.delivery.paused("a", r.clock.Now())
			if !ok || !until.Equal(start.Add(pause)) {
				t.Fatalf("profile a paused=%v until %v; want paused until %v", ok, until, start.Add(pause))
			}
			if got := testutil.ToFloat64(r.srv.metrics.quotaPauses.WithLabelValues("a")); got != 1 {
				t.Errorf("relayd_quota_pauses_total{profile=a} = %v, want 1", got)
			}
			alert := sb.wait()
			if strings.Join(alert.To, ",") != "admin@example.net" || !strings.Contains(string(alert.Data), "sending quota") {
				t.Errorf("alert to %v:\n%s", alert.To, alert.Data)
			}
			r.advance(pause - time.Second) // retries are due, but the profile is paused
			r.settle()
			sa.none(r)
			r.advance(time.Second)
			got := sa.wait()
			if got.From != "app@example.com" || strings.Join(got.To, ",") != "x@example.org" {
				t.Fatalf("after the pause: from %q to %v, want the message itself", got.From, got.To)
			}
			r.waitState(id, spool.StateSent)
			sa.none(r) // no DSN, no second copy
			sb.none(r)
		})
	}
}

// TestQuotaReplyAgainPausesAgain: the retry after the pause meets the
// quota reply again and pauses the profile again; the third attempt goes.
func TestQuotaReplyAgainPausesAgain(t *testing.T) {
	r, sa, _ := quotaSetup(t, "mail", smtpErr(550, smtp.EnhancedCode{5, 4, 5}, "Daily user sending limit exceeded."), 2)
	id := send(t, r.addr, "app@example.com", []string{"x@example.org"}, simpleBody)
	r.waitState(id, spool.StateDeferred)
	r.advance(time.Hour)
	deadline := time.Now().Add(10 * time.Second)
	for testutil.ToFloat64(r.srv.metrics.quotaPauses.WithLabelValues("a")) < 2 {
		if time.Now().After(deadline) {
			t.Fatal("the retry after the pause did not pause the profile again")
		}
		time.Sleep(time.Millisecond)
	}
	if _, ok := r.srv.delivery.paused("a", r.clock.Now()); !ok {
		t.Fatal("profile a not paused after the second quota reply")
	}
	r.waitState(id, spool.StateDeferred)
	r.advance(time.Hour)
	sa.wait()
	r.waitState(id, spool.StateSent)
}

// TestPermanentRefusalStillBounces: a plain 550 5.1.1 is no quota reply:
// the recipient bounces at once (with its DSN) and nothing is paused.
func TestPermanentRefusalStillBounces(t *testing.T) {
	r, sa, _ := quotaSetup(t, "rcpt", errPerm, 1)
	id := send(t, r.addr, "app@example.com", []string{"nobody@example.org"}, simpleBody)
	r.waitState(id, spool.StateBounced)
	if _, ok := r.srv.delivery.paused("a", r.clock.Now()); ok {
		t.Error("a 550 5.1.1 paused the profile")
	}
	if got := testutil.ToFloat64(r.srv.metrics.quotaPauses.WithLabelValues("a")); got != 0 {
		t.Errorf("relayd_quota_pauses_total{profile=a} = %v, want 0", got)
	}
	dsn := sa.wait()
	if dsn.From != "" || strings.Join(dsn.To, ",") != "app@example.com" {
		t.Errorf("DSN from %q to %v", dsn.From, dsn.To)
	}
}
