package relay

import (
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/emersion/go-smtp"

	"github.com/relayd/relayd/spool"
	"github.com/relayd/relayd/upstream"
)

// Immediate mode (mode = "immediate", docs/relayd.toml.5.md): the client's final reply waits for the
// upstream. The message is committed first like any other; the session
// then registers a waiter and the ordinary scheduler delivers it. record
// hands the outcomes of awaited recipients to the waiter instead of
// bouncing them, because a permanent failure told to the client gets no DSN.

// maxImmediateWait bounds how long a client is kept waiting: legacy clients
// give up on the reply to "." after 10 minutes (RFC 5321 4.5.3.2.6).
const maxImmediateWait = 9 * time.Minute

type waiter struct {
	want map[string]bool
	got  map[string]waited
	done chan struct{}
}

type waited struct {
	profile string
	outcome outcome
	host    string
}

type waiters struct {
	mu sync.Mutex
	m  map[string]*waiter
}

// await registers interest in the outcome of rcpts of message id.
func (dv *delivery) await(id string, rcpts []string) *waiter {
	w := &waiter{want: map[string]bool{}, got: map[string]waited{}, done: make(chan struct{})}
	for _, r := range rcpts {
		w.want[r] = true
	}
	dv.waiting.mu.Lock()
	if dv.waiting.m == nil {
		dv.waiting.m = map[string]*waiter{}
	}
	dv.waiting.m[id] = w
	dv.waiting.mu.Unlock()
	return w
}

// unawait removes the waiter and returns what it collected; outcomes that
// arrive later take the ordinary path (DSN on failure).
func (dv *delivery) unawait(id string) map[string]waited {
	dv.waiting.mu.Lock()
	defer dv.waiting.mu.Unlock()
	w := dv.waiting.m[id]
	delete(dv.waiting.m, id)
	if w == nil {
		return nil
	}
	return w.got
}

// claim hands an attempt's final outcomes (sent, bounced) and temporary
// failures to a waiting session. It returns the recipients the session
// takes over, whose bounces the caller must not send.
func (dv *delivery) claim(id, profile, host string, out map[string]outcome) map[string]bool {
	dv.waiting.mu.Lock()
	defer dv.waiting.mu.Unlock()
	w := dv.waiting.m[id]
	if w == nil {
		return nil
	}
	taken := map[string]bool{}
	for a, o := range out {
		if !w.want[a] {
			continue
		}
		if _, seen := w.got[a]; !seen {
			w.got[a] = waited{profile: profile, outcome: o, host: host}
			taken[a] = true
		}
	}
	if len(w.got) == len(w.want) {
		select {
		case <-w.done:
		default:
			close(w.done)
		}
	}
	return taken
}

// immediateReply waits for the awaited recipients of m and builds the
// final reply of immediate mode (docs/smtp.md).
func (s *session) immediateReply(m *spool.Message, w *waiter, limit time.Duration) error {
	t := time.NewTimer(min(limit, maxImmediateWait))
	defer t.Stop()
	select {
	case <-w.done:
	case <-t.C:
	}
	got := s.srv.delivery.unawait(m.ID)
	queued := reply(250, 2, 0, 0, "Ok: queued as "+m.ID)
	var failed []string
	var perm, temp []waited
	for a := range w.want {
		o, ok := got[a]
		switch {
		case !ok:
			temp = append(temp, waited{})
		case o.outcome.state == spool.StateBounced:
			perm = append(perm, o)
			failed = append(failed, a)
		case o.outcome.state == spool.StateDeferred:
			temp = append(temp, o)
		}
	}
	switch {
	case len(perm) > 0 && len(perm) == len(w.want) && len(m.Recipients) == len(w.want):
		// Every recipient failed permanently: the upstream's own reply,
		// prefixed by the profile; no DSN.
		return upstreamReply(perm[0].profile, perm[0].outcome.err)
	case len(perm) > 0:
		var fs []failure
		for _, a := range failed {
			o := got[a]
			fs = append(fs, failureOf(a, o.outcome.err, o.host))
		}
		body, _ := s.srv.spool.Body(m.ID)
		s.srv.delivery.bounce(s.gen, m, fs, body, s.srv.now())
		return reply(250, 2, 0, 0, fmt.Sprintf("Ok: queued as %s; failed: %s", m.ID, strings.Join(failed, ", ")))
	case len(temp) > 0:
		reason := "no reply from the upstream yet"
		for _, o := range temp {
			if o.outcome.err != nil {
				reason = o.outcome.err.Error()
				break
			}
		}
		return reply(250, 2, 0, 0, "Ok: queued as "+m.ID+"; queued for retry: "+oneLine(reason))
	}
	return queued
}

// upstreamReply passes an upstream's permanent failure through to the
// client: its code, enhanced code and text, prefixed by the profile name.
func upstreamReply(profile string, e *upstream.Error) error {
	code, enh := 554, smtp.EnhancedCode{5, 0, 0}
	text := e.Error()
	if e.Code >= 500 && e.Code < 600 {
		code, text = e.Code, e.Text
	}
	if p := parseEnhanced(e.Enhanced); p != nil {
		enh = *p
	}
	return &smtp.SMTPError{Code: code, EnhancedCode: enh, Message: profile + ": " + oneLine(text)}
}

func parseEnhanced(s string) *smtp.EnhancedCode {
	var a, b, c int
	if n, _ := fmt.Sscanf(s, "%d.%d.%d", &a, &b, &c); n != 3 || a != 5 {
		return nil
	}
	return &smtp.EnhancedCode{a, b, c}
}

func oneLine(s string) string {
	s = strings.Map(func(r rune) rune {
		if r == '\r' || r == '\n' {
			return ' '
		}
		return r
	}, s)
	if len(s) > 400 {
		s = s[:400]
	}
	return s
}
