package relay

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/relayd/relayd/relay/message"
	"github.com/relayd/relayd/spool"
	"github.com/relayd/relayd/upstream"
)

// deliver makes one delivery attempt of message id to rcpts through profile p
// (and its fallbacks after a temporary failure) and records the outcome.
// m is the message as the lease left it. The attempt is cut short after
// budget (shorter than its lease); ctx is the delivery context, whose end
// (shutdown) abandons the attempt.
func (dv *delivery) deliver(ctx context.Context, gen *generation, m *spool.Message, p *Profile, rcpts []string, budget time.Duration) {
	start := time.Now()
	// The body is lent (spool.LendBody): everything below, the upstream's
	// transaction and the DSN included, is done with it when deliver
	// returns; nothing may keep it.
	body, giveBack, err := dv.spool.LendBody(m.ID)
	defer giveBack()
	if err != nil {
		dv.log.Error("cannot read queued message", "msg_id", m.ID, "err", err)
		if !errors.Is(err, spool.ErrNotFound) {
			dv.record(ctx, gen, m, nil, p.Upstream.Name, rcpts, &upstream.Result{
				Err: &upstream.Error{Profile: p.Upstream.Name, Step: "spool", Text: err.Error(), Temporary: true}})
		}
		return
	}
	actx, cancel := context.WithTimeout(ctx, budget)
	defer cancel()
	res, used := dv.send(actx, gen, m, body, p, rcpts)
	dv.metrics.duration.WithLabelValues(used).Observe(time.Since(start).Seconds())
	dv.record(ctx, gen, m, body, used, rcpts, res)
}

// send tries p, then each fallback profile after a temporary failure of the
// whole transaction. It returns the result and the profile that
// produced it. An ambiguous failure (no reply to the final dot: the
// upstream may have taken the message) ends the chain: a fallback now would
// likely deliver it twice, so the recipient waits for the retry schedule
// (the duplicate risk is taken only by a retry).
func (dv *delivery) send(ctx context.Context, gen *generation, m *spool.Message, body []byte, p *Profile, rcpts []string) (*upstream.Result, string) {
	chain := append([]string{p.Upstream.Name}, gen.router.Fallbacks(p.Upstream.Name, p.Fallback, m.Team)...)
	var res *upstream.Result
	used := p.Upstream.Name
	for i, name := range chain {
		q, ok := gen.usable(name)
		if !ok {
			continue
		}
		if _, paused := dv.paused(name, dv.now()); paused && i > 0 {
			continue // a paused fallback takes nothing over
		}
		env, err := dv.envelope(gen, m, body, q, rcpts)
		if err != nil {
			return &upstream.Result{Err: &upstream.Error{Profile: name, Step: "prepare", Text: err.Error(), Temporary: true}}, name
		}
		if res != nil {
			dv.log.Warn("delivery failed, trying fallback", "msg_id", m.ID, "profile", used, "fallback", name, "err", res.Err)
		}
		res, used = dv.pool.Send(ctx, &q.Upstream, env), name
		dv.quota(gen, q, res) // a quota reply is temporary: it may go on to a fallback
		if res.Err == nil || !res.Err.Temporary || res.Err.Ambiguous || ctx.Err() != nil {
			break
		}
	}
	if res == nil { // every profile of the chain was disabled meanwhile (reload)
		res = &upstream.Result{Err: &upstream.Error{Profile: used, Step: "prepare", Temporary: true,
			Text: "profile disabled or removed by a reload; the recipient will be routed again"}}
	}
	return res, used
}

// envelope applies the profile's envelope and header rewrites (before any
// signing) and builds what upstream sends.
func (dv *delivery) envelope(gen *generation, m *spool.Message, body []byte, p *Profile, rcpts []string) (*upstream.Envelope, error) {
	env := &upstream.Envelope{ID: m.ID, From: p.Rewrite.Envelope(m.Sender), To: rcpts, Body: body,
		UTF8: m.UTF8, EightBit: m.EightBit}
	if err := dv.rewrite(env, m, p); err != nil {
		return nil, err
	}
	// Links replace attachments before the 7-bit form and DKIM.
	if err := dv.linkAttachments(env, m, p); err != nil {
		return nil, err
	}
	env.SevenBit = dv.sevenBit(gen, m.ID, env.Body) // for an upstream without 8BITMIME, signed below like Body
	if len(gen.cfg.DKIM) > 0 {
		signed, err := upstream.SignDKIM(env.Body, gen.cfg.DKIM)
		if err != nil {
			dv.log.Warn("DKIM signing failed; sending unsigned", "msg_id", m.ID, "err", err)
		} else {
			env.Body = signed
		}
	}
	return env, nil
}

// rewrite applies the profile's header rewrites to env.Body.
func (dv *delivery) rewrite(env *upstream.Envelope, m *spool.Message, p *Profile) error {
	rw := p.Rewrite
	body := env.Body
	if rw.FromAddress == "" && rw.DefaultSenderName == "" && rw.DefaultReplyTo == "" {
		return nil
	}
	msg, err := message.Read(bytesReader(body), message.Limits{MaxSize: int64(len(body)) + 1,
		MaxLineLength: len(body) + 1, MaxHeaderBytes: len(body) + 1, MaxReceived: 1 << 30})
	if err != nil {
		return fmt.Errorf("relay: re-read %s for rewriting: %w", m.ID, err)
	}
	edits := rw.Headers(msg.Get)
	if len(edits) > 0 {
		me := make([]message.Edit, len(edits))
		for i, e := range edits {
			me[i] = message.Edit{Op: message.EditOp(e.Op), Name: e.Name, Value: e.Value}
		}
		msg.ApplyEdits(me)
		env.Body = msg.Bytes()
	}
	return nil
}

func bytesReader(b []byte) io.Reader { return bytes.NewReader(b) }
