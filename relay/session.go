package relay

import (
	"crypto/tls"
	"errors"
	"io"
	"log/slog"
	"strings"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"

	"github.com/relayd/relayd/relay/message"
)

// session is one SMTP session as go-smtp sees it: from EHLO to QUIT, or to
// STARTTLS, after which go-smtp starts a new one on the same conn.
type session struct {
	srv   *Server
	gen   *generation // config snapshot taken at EHLO; a reload affects new sessions
	ln    *listener
	lcfg  *Listener
	c     *conn
	sc    *smtp.Conn
	tls   *tls.ConnectionState
	helo  string
	log   *slog.Logger
	user  string // authenticated username, "" = none
	team  string
	from  string
	mail  bool // MAIL accepted: a transaction is open
	utf8  bool
	size  int64 // the message size declared with MAIL SIZE= (RFC 1870); 0: none
	rcpts []string

	peer *localUser // sendmail socket: the local user who connected (SO_PEERCRED)
}

var (
	_ smtp.Backend     = (*listener)(nil)
	_ smtp.AuthSession = (*session)(nil)
)

// NewSession implements smtp.Backend; go-smtp calls it at the first EHLO/HELO
// and again after STARTTLS.
func (l *listener) NewSession(sc *smtp.Conn) (smtp.Session, error) {
	c, ok := sc.Conn().(*conn)
	if !ok {
		return nil, errTemporary
	}
	s := &session{srv: l.srv, gen: l.srv.gen.Load(), ln: l, lcfg: l.config(), c: c, sc: sc, tls: c.TLSState(),
		helo: sc.Hostname()}
	s.log = l.srv.log.With("listener", l.name, "client", clientString(c))
	if s.lcfg.Sendmail {
		s.peer = peerUser(c.NetConn())
	}
	s.team = s.gen.router.TeamOf(s.unixTeam(), c.addr, s.lcfg.Team)
	return s, nil
}

func clientString(c *conn) string {
	if c.addr.IsValid() {
		return c.addr.String()
	}
	return "unix"
}

// AuthMechanisms implements smtp.AuthSession. AUTH is offered only over TLS
// or on a loopback / unix connection, and never when auth = "none".
func (s *session) AuthMechanisms() []string {
	if !s.authAllowed() {
		return nil
	}
	return []string{sasl.Plain, sasl.Login}
}

func (s *session) authAllowed() bool {
	return s.lcfg.Auth != "none" && (s.tlsState() != nil || s.c.local)
}

// tlsState is the session's TLS state, nil for plaintext. smtpwire runs
// STARTTLS itself, so go-smtp keeps the session it had before: the state
// is asked for each time, not only when the session starts.
func (s *session) tlsState() *tls.ConnectionState {
	if s.tls != nil {
		return s.tls
	}
	return s.c.TLSState()
}

// Auth implements smtp.AuthSession with server-side PLAIN and LOGIN.
func (s *session) Auth(mech string) (sasl.Server, error) {
	if s.mail {
		return nil, errAuthInTxn
	}
	if !s.authAllowed() {
		return nil, errAuthTLS
	}
	switch strings.ToUpper(mech) {
	case sasl.Plain:
		return sasl.NewPlainServer(func(identity, username, password string) error {
			if identity != "" && identity != username {
				return s.authFailed(username, false)
			}
			return s.authenticate(username, password)
		}), nil
	case sasl.Login:
		return newLoginServer(s.authenticate), nil
	}
	return nil, smtp.ErrAuthUnknownMechanism
}

// authenticate checks a username and password against [[team.user]]. A
// user locked after repeated failures (auth.go) is refused like a wrong
// password, after the same check and the same delay.
func (s *session) authenticate(username, password string) error {
	locked := s.srv.userLocked(username)
	if ok := s.srv.checkPassword(s.gen, username, password); !ok || locked {
		return s.authFailed(username, !ok)
	}
	s.srv.userSucceeded(username)
	s.user = username
	s.team = s.gen.router.TeamOf(s.gen.cfg.Users[username].Team, s.c.addr, s.lcfg.Team)
	s.log.Info("authenticated", "user", username, "team", s.team)
	return nil
}

// authFailed counts a failure, delays the answer (at least 1 s, longer for
// repeated failures from the same address) and closes the connection after
// max_auth_failures. wrongPassword counts it against the username too
// (a configured one), which locks it after repeated failures.
func (s *session) authFailed(username string, wrongPassword bool) error {
	s.c.authFailures++
	s.srv.metrics.rejected.WithLabelValues(s.ln.name, "auth").Inc()
	args := []any{"user", username, "failures", s.c.authFailures}
	if _, known := s.gen.cfg.Users[username]; known && wrongPassword {
		if until := s.srv.userFailed(username); !until.IsZero() {
			args = append(args, "locked_until", until.UTC().Format(time.RFC3339))
		}
	} else if known && s.srv.userLocked(username) {
		args = append(args, "locked", true)
	}
	s.log.Warn("authentication failed", args...)
	s.srv.authDelay(s.c.addr)
	if s.lcfg.MaxAuthFailures > 0 && s.c.authFailures >= s.lcfg.MaxAuthFailures {
		s.c.kill()
		return errAuthTooMany
	}
	return errAuthFailed
}

// Mail implements smtp.Session.
func (s *session) Mail(from string, opts *smtp.MailOptions) error {
	if s.mail {
		return s.fail(errNestedMail, "syntax")
	}
	if s.lcfg.Auth == "required" && s.user == "" {
		return s.fail(errAuthRequired, "auth")
	}
	s.utf8 = opts != nil && opts.UTF8
	if opts != nil && s.lcfg.MaxMessageSize > 0 && opts.Size > s.lcfg.MaxMessageSize {
		return s.fail(errTooBig, "size")
	}
	if err := checkAddress(from, s.utf8, true, errBadSender); err != nil {
		return s.fail(err, "syntax")
	}
	s.from, s.mail, s.rcpts, s.size = from, true, nil, 0
	if opts != nil {
		s.size = max(opts.Size, 0)
	}
	s.c.StartMessage()
	return nil
}

// Rcpt implements smtp.Session. Routing is checked here (without the
// X-Relay-Profile header, which arrives with DATA) so a recipient with no
// enabled profile is refused before the client sends the message.
func (s *session) Rcpt(to string, opts *smtp.RcptOptions) error {
	if !s.mail {
		return s.fail(errNeedMail, "syntax")
	}
	if s.lcfg.MaxRecipients > 0 && len(s.rcpts) >= s.lcfg.MaxRecipients {
		return s.fail(errTooManyRcpts, "recipients")
	}
	if err := checkAddress(to, s.utf8, false, errBadAddress); err != nil {
		return s.fail(err, "syntax")
	}
	if s.hasRecipient(to) {
		// A repeated recipient (legacy apps put one person in To and Cc)
		// is answered 250, as Postfix does, and delivered once.
		return nil
	}
	d, err := s.gen.route(s.from, s.team, to, "")
	if err != nil {
		return s.fail(noProfile(s.from, to), "policy")
	}
	if s.gen.literalOnDirect(to, d.Profile) {
		return s.fail(errLiteralDirect, "policy")
	}
	s.rcpts = append(s.rcpts, to)
	return nil
}

// Data implements smtp.Session: read, check, commit, then answer 250.
func (s *session) Data(r io.Reader) error {
	read := func(lim message.Limits) (*message.Message, error) { return s.c.ReadData(r, lim) }
	if !s.c.BeginData(s.lcfg.MaxMessageSize, s.size) {
		// The slow path's buffer (message.Read) takes its share of the
		// Server's budget through a budgetReader; the fast path's is
		// the wire layer's.
		slow := &dataBudget{b: &s.srv.budget}
		defer slow.release(true)
		read = func(lim message.Limits) (*message.Message, error) {
			return message.Read(&budgetReader{r: r, d: slow}, lim)
		}
	}
	defer s.c.FinishData()
	id, err := s.accept(read, s.c.EndData)
	if err != nil && id != "" {
		return err // immediate mode: the final reply is the delivery's
	}
	if err != nil {
		var se *smtp.SMTPError
		if !errors.As(err, &se) {
			s.log.Error("accepting message failed", "err", err)
			se = errTemporary
		}
		return se
	}
	return reply(250, 2, 0, 0, "Ok: queued as "+id)
}

// fail counts a rejection and closes the connection after max_errors.
func (s *session) fail(e *smtp.SMTPError, reason string) error {
	s.srv.metrics.rejected.WithLabelValues(s.ln.name, reason).Inc()
	if s.c.AddError(s.lcfg.MaxErrors) {
		s.c.kill()
		return errTooManyErr
	}
	return e
}

// Reset implements smtp.Session.
func (s *session) Reset() {
	s.from, s.mail, s.utf8, s.rcpts, s.size = "", false, false, nil, 0
}

// Logout implements smtp.Session.
func (s *session) Logout() error { return nil }

func noProfile(from, to string) *smtp.SMTPError {
	if from == "" {
		from = "<>"
	}
	return reply(451, 4, 3, 5, "No enabled profile for sender "+from+" and recipient "+to)
}
