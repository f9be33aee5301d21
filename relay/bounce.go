package relay

import (
	"fmt"
	"strings"
	"time"

	"github.com/relayd/relayd/relay/message"
	"github.com/relayd/relayd/spool"
	"github.com/relayd/relayd/upstream"
)

// failure is one recipient to report in a DSN.
type failure struct {
	addr   string
	status string // enhanced status code
	remote string // host that answered, "" if none
	diag   string // "smtp; 550 5.1.1 ..." or a local reason
}

// failureOf describes an upstream error for a DSN (RFC 3464 2.3).
func failureOf(addr string, e *upstream.Error, host string) failure {
	f := failure{addr: addr, status: e.Enhanced, remote: host}
	if f.status == "" {
		f.status = "5.0.0"
		if e.Temporary {
			f.status = "4.0.0"
		}
	}
	if e.Code > 0 {
		f.diag = fmt.Sprintf("smtp; %d %s %s", e.Code, f.status, e.Text)
	} else {
		f.diag = "x-local; " + e.Error()
	}
	return f
}

// bounce sends an RFC 3464 DSN for the failed recipients of m to its
// envelope sender, with a copy to [notify] bounces. A message
// with the null sender is reported to [notify] bounces alone, or dropped and
// logged when that is unset; a DSN of relayd's own that fails to reach
// [notify] bounces is dropped, so bounces can never loop.
func (dv *delivery) bounce(gen *generation, m *spool.Message, failed []failure, body []byte, now time.Time) {
	dv.dsn(gen, m, failed, body, now, "failed")
}

// delayed sends the one "still trying" DSN of warn_after (RFC 3464
// Action: delayed) to the sender, with a copy to [notify] bounces.
func (dv *delivery) delayed(gen *generation, m *spool.Message, waiting []failure, body []byte, now time.Time) {
	dv.dsn(gen, m, waiting, body, now, "delayed")
}

// dsn builds and queues a DSN whose recipients all have one action.
func (dv *delivery) dsn(gen *generation, m *spool.Message, failed []failure, body []byte, now time.Time, action string) {
	var to []string
	if m.Sender != "" {
		to = append(to, m.Sender)
	}
	if b := gen.cfg.Notify.Bounces; b != "" && !(m.DSN && m.Sender == "") {
		to = append(to, b)
	}
	if len(to) == 0 {
		dv.log.Warn("bounce dropped: null sender and no [notify] bounces", "msg_id", m.ID, "rcpts", len(failed))
		return
	}
	hostname := gen.cfg.Hostname
	info := message.DSNInfo{
		ReportingMTA: hostname,
		From:         "Mail Delivery System <" + dv.notifyFrom(gen) + ">",
		To:           m.Sender,
		QueueID:      m.ID,
		Arrival:      m.Created,
		Date:         now,
		MessageID:    "<" + spool.NewID() + "@" + hostname + ">",
		Original:     body,
	}
	if info.To == "" {
		info.To = gen.cfg.Notify.Bounces
	}
	for _, f := range failed {
		r := message.DSNRecipient{Address: f.addr, Action: action, Status: f.status,
			RemoteMTA: remoteMTA(f.remote), DiagnosticCode: f.diag, LastAttempt: now}
		if action == "delayed" && gen.cfg.MaxQueueAge > 0 {
			r.WillRetryUntil = m.Created.Add(gen.cfg.MaxQueueAge)
		}
		info.Recipients = append(info.Recipients, r)
	}
	kind := "bounce"
	if action == "delayed" {
		kind = "delay notice"
	}
	dv.queueNotice(gen, m.Team, to, message.DSN(info), now, kind, m.ID)
}

func remoteMTA(hostport string) string {
	if hostport == "" {
		return ""
	}
	if i := strings.LastIndexByte(hostport, ':'); i > 0 {
		hostport = hostport[:i]
	}
	return "dns; " + strings.Trim(hostport, "[]")
}

func (dv *delivery) notifyFrom(gen *generation) string {
	if gen.cfg.Notify.From != "" {
		return gen.cfg.Notify.From
	}
	return "MAILER-DAEMON@" + gen.cfg.Hostname
}

// queueNotice commits a message relayd generated (a DSN or an alert) with
// the null sender, routed like any other mail of the team.
func (dv *delivery) queueNotice(gen *generation, team string, to []string, body []byte, now time.Time, kind, about string) {
	n := &spool.Message{ID: spool.NewID(), Created: now, Team: team, Listener: "relayd",
		Size: int64(len(body)), DSN: true}
	n.From, n.Subject = noticeFields(body)
	for _, a := range to {
		d, err := gen.route("", team, a, "")
		if err != nil {
			dv.log.Error(kind+" recipient has no enabled profile; not sent", "msg_id", about, "rcpt", a)
			continue
		}
		n.Recipients = append(n.Recipients, spool.Recipient{Address: a, Profile: d.Profile, Rule: d.Rule,
			State: spool.StateReady, NextAttempt: now, Updated: now})
	}
	if len(n.Recipients) == 0 {
		return
	}
	if err := dv.spool.Commit(n, body); err != nil {
		dv.log.Error(kind+" could not be queued", "msg_id", about, "err", err)
		return
	}
	dv.log.Info(kind+" queued", "msg_id", about, "dsn_id", n.ID, "rcpts", len(n.Recipients))
	dv.sched.kick()
}
