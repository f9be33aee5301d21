package relay

import (
	"crypto/tls"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/emersion/go-smtp"

	"github.com/relayd/relayd/relay/attachments"
	"github.com/relayd/relayd/relay/message"
	"github.com/relayd/relayd/spool"
)

// The message checks (docs/smtp.md) that do not depend on the listener.
const (
	maxHeaderBytes = 1 << 20
	maxReceived    = 100
)

// accept reads one message with read, checks it, routes every recipient,
// adds the acceptance headers and commits it to the spool. It returns the
// queue ID only once the message is durable (the 250-after-commit rule).
// endData ends message mode on the conn and reports bare CR/LF seen there.
func (s *session) accept(read func(message.Limits) (*message.Message, error), endData func() bool) (string, error) {
	gen := s.gen
	msg, err := read(message.Limits{
		MaxSize:        s.lcfg.MaxMessageSize,
		MaxLineLength:  int(s.lcfg.MaxLineLength),
		MaxHeaderBytes: maxHeaderBytes,
		MaxReceived:    maxReceived,
		RejectBareLF:   gen.cfg.BareLF == BareLFReject,
	})
	bare := endData()
	if err != nil {
		return "", s.readError(err)
	}
	if bare && gen.cfg.BareLF == BareLFReject {
		return "", s.fail(errBareLF, "smuggling")
	}

	headerProfile := ""
	if v := msg.Get("X-Relay-Profile"); len(v) > 0 && s.lcfg.AllowProfileHeader {
		headerProfile = strings.TrimSpace(v[0])
	}
	msg.Del("X-Relay-Profile") // always removed, honoured or not

	now := s.srv.now()
	m := &spool.Message{
		ID: spool.NewID(), Created: now, Sender: s.from, Team: s.team,
		Listener: s.ln.name, UTF8: s.utf8,
		From: shownFrom(msg.Get("From")), Subject: shownSubject(msg.Get("Subject")),
	}
	for _, to := range s.rcpts {
		d, err := gen.route(s.from, s.team, to, headerProfile)
		if err != nil {
			return "", s.fail(noProfile(s.from, to), "policy")
		}
		m.Recipients = append(m.Recipients, gen.newRecipient(to, d.Profile, d.Rule, now))
	}

	msg.Del("Bcc")
	if !msg.Has("Message-ID") {
		msg.Add("Message-ID", "<"+m.ID+"@"+gen.cfg.Hostname+">")
	}
	if !msg.Has("Date") {
		msg.Add("Date", now.Format(time.RFC1123Z))
	}
	if _, err := msg.FixLongLines(); err != nil {
		s.log.Warn("could not re-encode long lines; relaying as received", "msg_id", m.ID, "err", err)
	}
	msg.Prepend("Received", s.received(m.ID, now))

	// body may share the session's DATA buffer (readFast): Commit copies
	// it, and nothing here keeps it past this DATA.
	body := msg.Flatten()
	m.Size = int64(len(body))
	m.EightBit = msg.EightBit()
	staged, err := s.checkAttachments(m, body) // attachments: refuse, or stage them
	if err != nil {
		return "", err
	}
	if err := s.commit(m, body, staged); err != nil {
		return "", err
	}
	s.srv.metrics.accepted.WithLabelValues(s.ln.name, s.team).Inc()
	s.log.Info("message accepted", "msg_id", m.ID, "sender", s.from, "rcpts", len(m.Recipients),
		"size", m.Size, "team", s.team, "user", s.user)
	if rcpts, limit := s.srv.immediateRecipients(gen, m, now); len(rcpts) > 0 {
		w := s.srv.delivery.await(m.ID, rcpts)
		s.srv.delivery.kick()
		return m.ID, s.immediateReply(m, w, limit)
	}
	s.srv.delivery.kick()
	return m.ID, nil
}

// commit commits the message to the spool, and, when some of its
// attachments are staged in the attachment store, waits at the same time
// for them to be durable: the 250 follows both. If the spool commit fails,
// the staged files are discarded; if the files cannot be made durable,
// the committed message is withdrawn from the spool (a delivery that took
// it meanwhile is stopped by the store: Links fails). Either way the
// client gets 452 and nothing of the message stays.
func (s *session) commit(m *spool.Message, body []byte, staged *attachments.Staged) error {
	var stored chan error
	if staged != nil {
		stored = make(chan error, 1)
		go func() {
			_, err := staged.Wait()
			stored <- err
		}()
	}
	err := s.srv.spool.Commit(m, body)
	var serr error
	if stored != nil {
		serr = <-stored
	}
	switch {
	case err != nil:
		if staged != nil && serr == nil {
			s.srv.opts.Attachments.Discard(m.ID)
		}
		s.log.Error("spool commit failed", "msg_id", m.ID, "err", err)
	case serr != nil:
		err = serr
		s.log.Error("attachment store failed; the message is withdrawn from the spool", "msg_id", m.ID, "err", serr)
		if werr := s.srv.spool.Withdraw(m.ID); werr != nil {
			s.log.Error("cannot withdraw the message; its delivery is deferred while the attachment store is failing",
				"msg_id", m.ID, "err", werr)
		}
	}
	if err != nil {
		s.srv.metrics.rejected.WithLabelValues(s.ln.name, "storage").Inc()
		return errStorage
	}
	return nil
}

// immediateRecipients are the recipients routed to mode = "immediate"
// profiles, and how long their client may be kept waiting. A paused
// profile's recipients are not waited for: they stay queued (250).
func (s *Server) immediateRecipients(gen *generation, m *spool.Message, now time.Time) ([]string, time.Duration) {
	var rcpts []string
	var limit time.Duration
	for _, r := range m.Recipients {
		if _, paused := s.delivery.paused(r.Profile, now); paused {
			continue
		}
		if p, ok := gen.cfg.Profiles[r.Profile]; ok && p.Immediate {
			rcpts = append(rcpts, r.Address)
			limit = max(limit, 3*p.Upstream.Timeout+p.Upstream.DataTimeout)
		}
	}
	return rcpts, limit
}

// readError maps a failure while receiving the message to its reply (docs/smtp.md).
func (s *session) readError(err error) error {
	var se *smtp.SMTPError
	switch {
	case timedOut(err):
		s.c.kill()
		return s.fail(errTimeout, "timeout")
	case errors.Is(err, errOverBudget):
		// Not the client's fault: not counted against max_errors.
		s.srv.metrics.rejected.WithLabelValues(s.ln.name, "storage").Inc()
		s.log.Warn("message refused: the message data buffered by all sessions is at its cap; try again later")
		return errStorage
	case errors.Is(err, message.ErrTooBig), errors.Is(err, smtp.ErrDataTooLarge):
		return s.fail(errTooBig, "size")
	case errors.Is(err, message.ErrHeaderTooBig):
		return s.fail(errHeaderTooBig, "size")
	case errors.Is(err, message.ErrLineTooLong), errors.Is(err, smtp.ErrTooLongLine):
		s.c.kill() // the rest of the line cannot be told from commands
		return s.fail(errLineTooLong, "size")
	case errors.Is(err, message.ErrBareLF):
		return s.fail(errBareLF, "smuggling")
	case errors.Is(err, message.ErrNUL):
		return s.fail(errNUL, "syntax")
	case errors.Is(err, message.ErrMultipleFrom):
		return s.fail(errMultiFrom, "syntax")
	case errors.Is(err, message.ErrLoop):
		return s.fail(errLoop, "policy")
	case errors.As(err, &se):
		return se
	}
	s.log.Info("message not received", "err", err)
	return errTemporary
}

// received builds the Received: field (RFC 5321 4.4): client name and
// address, TLS and AUTH state, and the queue ID. relayd never looks up the
// client's name in DNS.
func (s *session) received(id string, now time.Time) string {
	var b strings.Builder
	fmt.Fprintf(&b, "from %s by %s (relayd) with %s id %s", s.receivedFrom(), s.gen.cfg.Hostname, s.protocol(), id)
	if st := s.tlsState(); st != nil {
		fmt.Fprintf(&b, " (using %s with cipher %s)", tls.VersionName(st.Version), tls.CipherSuiteName(st.CipherSuite))
	}
	if s.user != "" {
		fmt.Fprintf(&b, " (authenticated as %s)", sanitizeHelo(s.user))
	}
	if len(s.rcpts) == 1 {
		fmt.Fprintf(&b, " for <%s>", s.rcpts[0])
	}
	fmt.Fprintf(&b, "; %s", now.Format(time.RFC1123Z))
	return b.String()
}

// protocol is the "with" keyword of RFC 3848: ESMTP, ESMTPS, ESMTPA, ESMTPSA.
func (s *session) protocol() string {
	p := "ESMTP"
	if s.tlsState() != nil {
		p += "S"
	}
	if s.user != "" {
		p += "A"
	}
	if s.utf8 { // RFC 6531 3.7.3: UTF8SMTP, UTF8SMTPS, UTF8SMTPA, UTF8SMTPSA
		p = "UTF8SMTP" + strings.TrimPrefix(p, "ESMTP")
	}
	return p
}

func clientLiteral(c *conn) string {
	if !c.addr.IsValid() {
		return "unix socket"
	}
	if c.addr.Is6() {
		return "[IPv6:" + c.addr.String() + "]"
	}
	return "[" + c.addr.String() + "]"
}

// sanitizeHelo keeps a client-supplied name from breaking the header.
func sanitizeHelo(h string) string {
	if h == "" {
		return "unknown"
	}
	var b strings.Builder
	for _, r := range h {
		if r > 0x20 && r < 0x7f && r != '(' && r != ')' && r != ';' {
			b.WriteRune(r)
		} else {
			b.WriteByte('?')
		}
		if b.Len() >= 255 {
			break
		}
	}
	return b.String()
}
