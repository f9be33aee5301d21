package smtpwire

import (
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"time"

	"github.com/emersion/go-smtp"

	"github.com/relayd/relayd/relay/message"
)

// Limits are the listener settings a Conn enforces. Options.Limits is
// called for them at each read, so a reload reaches running sessions.
type Limits struct {
	IdleTimeout    time.Duration // longest wait for the client's next octets; 0: none
	SessionTimeout time.Duration // longest session, from New; 0: none
	MaxLineLength  int64         // longest message line, CRLF excluded; 0: none
	MaxMessageSize int64         // largest message (and MAIL SIZE=); 0: none
	MaxErrors      int           // refused commands before 421 and close; 0: none
	STARTTLS       *tls.Config   // non-nil: STARTTLS is run with it; nil: not offered by this layer
}

// Budget is a connection's share of a budget for buffered message data:
// Grow takes n more octets and reports whether it could; Release gives
// back all that is held, and with close for good. Both may be called
// from any goroutine.
type Budget interface {
	Grow(n int64) bool
	Release(close bool)
}

// Options configure New.
type Options struct {
	Limits      func() Limits       // required; called at each read
	Greeting    string              // replaces go-smtp's 220 greeting; a whole line with CRLF
	ImplicitTLS *tls.Config         // non-nil: TLS from the first octet (implicit TLS listener)
	Reject      func(reason string) // counts a refusal of this layer ("syntax", "size", "timeout"); required
	Budget      Budget              // the message buffer's budget; nil: no limit
	OnClose     func()              // run once, when the socket is first closed; may be nil
}

// Errors a Conn hands go-smtp or relay's Session.
var (
	// ErrTooBig answers MAIL SIZE= over max_message_size (RFC 1870 6).
	ErrTooBig = reply(552, 5, 3, 4, "Message size exceeds fixed maximum message size")
	// ErrChunkCut is what go-smtp's BDAT reader gets when the connection
	// ends inside a chunk: the message is not queued.
	ErrChunkCut = reply(451, 4, 3, 0, "Connection closed inside a BDAT chunk: message not queued")
	// ErrTooManyErrors is the 421 after more than max_errors errors.
	ErrTooManyErrors = errTooManyErr
	// ErrOverBudget is what ReadData returns when the message buffer could
	// not get budget; the message was read to its end and dropped.
	ErrOverBudget = errors.New("relay: message data buffered by all sessions is at its cap")
)

// ReadSize is how many octets one read from the socket asks for, except on
// the DATA path when the message buffer has room for more.
const ReadSize = readSize

// New wraps c, an accepted socket, for go-smtp's Server. The session
// deadline runs from now.
func New(c net.Conn, o Options) *Conn {
	s := newSock(c, o.Limits, time.Now())
	s.onClose, s.budget = o.OnClose, o.Budget
	var below net.Conn = s
	if o.ImplicitTLS != nil {
		below = tls.Server(s, o.ImplicitTLS)
	}
	return &Conn{Conn: below, under: below, raw: s, opts: o, greeting: o.Greeting}
}

// NetConn returns the socket New wrapped, as tls.Conn.NetConn does: for
// what only the socket knows (SO_PEERCRED of a unix socket). Reading or
// writing it directly would bypass this layer.
func (l *Conn) NetConn() net.Conn { return l.raw.Conn }

// Kill makes every later Read fail, so go-smtp closes the connection
// without running anything the client sends afterwards. Safe from any
// goroutine.
func (l *Conn) Kill() { l.raw.kill() }

// Interrupt kills the connection and wakes a Read blocked on the socket
// (shutdown). Safe from any goroutine.
func (l *Conn) Interrupt() {
	l.raw.kill()
	l.raw.Conn.SetReadDeadline(time.Now())
}

// AddError counts an error of the session (a refused command or message)
// and reports whether that makes more than max errors (max 0: no limit),
// after which the caller answers 421 and kills the connection (max_errors,
// docs/relayd.toml.5.md). The count is the connection's, shared with this layer's own
// refusals. Safe for concurrent use (a BDAT message is read on its own
// goroutine).
func (l *Conn) AddError(max int) bool { return l.raw.addError(max) }

// TLSState is the connection's TLS state: implicit TLS, or after STARTTLS
// (which go-smtp never sees, so its own TLS state stays empty); nil for
// plaintext.
func (l *Conn) TLSState() *tls.ConnectionState {
	if st := l.tlsState.Load(); st != nil {
		return st
	}
	if tc, ok := l.under.(*tls.Conn); ok {
		st := tc.ConnectionState()
		return &st
	}
	return nil
}

// ReadData reads a message collected by the DATA fast path (BeginData
// returned true): it runs go-smtp's DATA reader r to its end (which drives
// the collection and ends at the end-of-data line), then parses the
// message where Conn collected it. The Message points into the session's
// buffer, so it must not outlive this DATA (FinishData).
func (l *Conn) ReadData(r io.Reader, lim message.Limits) (*message.Message, error) {
	if _, err := io.Copy(io.Discard, r); err != nil {
		return nil, fmt.Errorf("relay: read message: %w", err)
	}
	msg, ok, over := l.takeData()
	switch {
	case !ok:
		return nil, fmt.Errorf("relay: read message: %w", io.ErrUnexpectedEOF)
	case over:
		return nil, ErrOverBudget
	}
	return message.Parse(msg, message.HeaderRoom, lim)
}

// reply builds an SMTP reply with an enhanced status code (RFC 3463).
func reply(code, class, subject, detail int, text string) *smtp.SMTPError {
	return &smtp.SMTPError{Code: code, EnhancedCode: smtp.EnhancedCode{class, subject, detail}, Message: text}
}
