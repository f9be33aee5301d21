package upstream

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"syscall"
)

// Step names one stage of an upstream SMTP dialogue, for diagnoses.
type Step string

// Steps of a delivery attempt, in order.
const (
	StepResolve  Step = "resolve"
	StepConnect  Step = "connect"
	StepBanner   Step = "banner"
	StepEHLO     Step = "ehlo"
	StepStartTLS Step = "starttls"
	StepTLS      Step = "tls" // the handshake of tls = "implicit", before the banner
	StepAuth     Step = "auth"
	StepMail     Step = "mail"
	StepRcpt     Step = "rcpt"
	StepData     Step = "data"
	StepDot      Step = "dot" // the reply to the final "."
)

// Error is every delivery failure: which profile, host and step failed, the
// SMTP reply if there was one, and whether it is worth retrying.
// Error() returns the plain-language diagnosis (docs/operations.md); it never contains
// a password or AUTH payload. An Error is not modified after Send returns it
// and may be shared between goroutines.
type Error struct {
	Profile   string
	Host      string // host:port
	Step      Step
	Code      int    // SMTP reply code, 0 when there was no reply
	Enhanced  string // enhanced status code "5.7.8", "" when none
	Text      string // the upstream's reply text, or the local reason
	Temporary bool   // retry later (4xx, network, TLS, timeout); false only for a real 5xx
	Ambiguous bool   // the connection broke after the final "." before the reply: possible duplicate
	Err       error  // underlying cause, if any

	// Subject is what the step was about: the username at StepAuth, the
	// envelope sender at StepMail, the recipient at StepRcpt, the
	// recipient domain at StepResolve of a direct profile; "" otherwise.
	Subject string
}

// Error returns the diagnosis: the profile, the host, the step, what went
// wrong and what to do about it.
func (e *Error) Error() string {
	return "profile " + e.Profile + ": " + e.diagnosis()
}

// Unwrap returns the underlying cause (a net, TLS or context error), or nil.
func (e *Error) Unwrap() error { return e.Err }

// reply renders the upstream's answer as "550 5.7.1 text", or "" when there
// was none.
func (e *Error) reply() string {
	if e.Code == 0 {
		return ""
	}
	s := fmt.Sprint(e.Code)
	if e.Enhanced != "" {
		s += " " + e.Enhanced
	}
	if e.Text != "" {
		s += " " + strings.ReplaceAll(e.Text, "\n", " / ")
	}
	return s
}

// retryHint tells the admin what relayd does next with a reply at a step
// that has no specific diagnosis.
func (e *Error) retryHint() string {
	if e.Temporary {
		return "temporary failure, relayd will retry"
	}
	return "permanent failure, the message bounces"
}

func (e *Error) diagnosis() string {
	host, reply := e.Host, e.reply()
	if host == "" {
		host = "the upstream"
	}
	switch {
	case e.Ambiguous:
		return fmt.Sprintf("the connection to %s broke after the message was sent, before %s confirmed it (%s): "+
			"relayd will send it again, so it may arrive twice", host, host, e.Text)
	case e.Step == StepResolve && e.Subject != "":
		what := e.Text
		if reply != "" {
			what = reply
		}
		return fmt.Sprintf("cannot deliver to %s: %s (%s)", e.Subject, what, e.retryHint())
	case e.Step == StepResolve:
		if h, _, err := net.SplitHostPort(host); err == nil {
			host = h
		}
		return fmt.Sprintf("could not resolve %s (%s): check the host name and the DNS", host, e.Text)
	case e.Step == StepConnect && e.Host == "":
		return "the profile cannot be used: " + e.Text
	case e.Step == StepConnect && (errors.Is(e.Err, context.Canceled) || errors.Is(e.Err, ErrClosed)):
		return fmt.Sprintf("delivery through %s was not attempted (%s): the message stays queued", host, e.Text)
	case e.Step == StepConnect && e.Code == 0:
		return fmt.Sprintf("could not connect to %s (%s): the host is not a mail server "+
			"or the port is closed or firewalled", host, e.Text)
	case e.Step == StepBanner && e.Code == 0:
		return fmt.Sprintf("no greeting from %s (%s): on an implicit TLS port (465) set tls = \"implicit\"; "+
			"otherwise the server is overloaded or not a mail server", host, e.Text)
	case (e.Step == StepStartTLS || e.Step == StepTLS) && e.Code == 0:
		return fmt.Sprintf("TLS with %s failed: %s", host, e.Text)
	case e.Step == StepAuth:
		return e.authDiagnosis(host, reply)
	case e.Step == StepMail && e.Code >= 500:
		return fmt.Sprintf("sender address %s rejected by %s: this account may not send as %s; "+
			"set from_address or use the account's own address (%s)", e.Subject, host, e.Subject, reply)
	case e.Step == StepMail && e.Code == 0 && e.Subject != "":
		return fmt.Sprintf("sender address %s cannot be sent to %s: %s", e.Subject, host, e.Text)
	case e.Step == StepRcpt && e.Code != 0:
		return fmt.Sprintf("recipient %s rejected by %s: %s (%s)", e.Subject, host, reply, e.retryHint())
	case e.Step == StepRcpt && e.Subject != "":
		return fmt.Sprintf("recipient %s cannot be sent to %s: %s", e.Subject, host, e.Text)
	case e.Code != 0:
		return fmt.Sprintf("%s answered %s at step %s: %s", host, reply, e.Step, e.retryHint())
	}
	return fmt.Sprintf("step %s with %s failed: %s (%s)", e.Step, host, e.Text, e.retryHint())
}

// authDiagnosis explains an AUTH failure. Upstream AUTH failures are
// temporary (see authError): the admin fixes the password, the queue waits.
func (e *Error) authDiagnosis(host, reply string) string {
	switch {
	case e.Code != 0 && errors.Is(e.Err, ErrOAuth2):
		return fmt.Sprintf("the OAuth2 access token for %s was rejected by %s (%s): "+
			"check that the app has the SMTP scope and that %s may send with OAuth2 (SMTP AUTH enabled "+
			"for the mailbox); queued mail is retried", e.Subject, host, reply, e.Subject)
	case e.Code == 535:
		return fmt.Sprintf("authentication failed for %s at %s: wrong username or password (%s); "+
			"fix the profile's password, queued mail is retried", e.Subject, host, reply)
	case e.Code == 534 || e.Code == 538:
		return fmt.Sprintf("authentication for %s at %s refused (%s): the account needs another "+
			"mechanism, app passwords or OAuth2, or TLS first", e.Subject, host, reply)
	case e.Code != 0:
		return fmt.Sprintf("authentication for %s at %s failed (%s): %s", e.Subject, host, reply, e.retryHint())
	}
	if errors.Is(e.Err, ErrOAuth2) {
		// No access token: the token endpoint, not the upstream, failed.
		return "oauth: " + e.Text
	}
	return fmt.Sprintf("cannot authenticate as %s at %s: %s", e.Subject, host, e.Text)
}

// netError is a failure without a reply: always temporary.
func (c *client) netError(ctx context.Context, step Step, err error) *Error {
	c.broken = true
	return &Error{Profile: c.profile, Host: c.addr, Step: step, Text: netReason(ctx, err),
		Temporary: true, Err: cause(ctx, err)}
}

// localError is a temporary failure decided here, at a session step.
func (c *client) localError(step Step, text string) *Error {
	return &Error{Profile: c.profile, Host: c.addr, Step: step, Text: text, Temporary: true}
}

// replyError is a failure reply about the message: 4xx and unknown codes
// are temporary, 5xx permanent.
func (c *client) replyError(step Step, subject string, r *reply) *Error {
	return &Error{Profile: c.profile, Host: c.addr, Step: step, Code: r.code, Enhanced: r.enhanced,
		Text: r.text, Temporary: r.code < 500 || r.code > 599, Subject: subject}
}

// sessionError is a failure reply before MAIL (banner, EHLO, STARTTLS,
// AUTH). It is temporary even for 5xx: it says nothing about the message,
// only about the connection or the account, which the admin can fix; the
// message waits in the queue instead of bouncing (and bounces after
// max_queue_age if nobody does).
func (c *client) sessionError(step Step, subject string, r *reply) *Error {
	e := c.replyError(step, subject, r)
	e.Temporary = true
	return e
}

// netReason names a network failure for a diagnosis.
func netReason(ctx context.Context, err error) string {
	var dnsErr *net.DNSError
	var sysErr *os.SyscallError
	switch {
	case errors.Is(ctx.Err(), context.DeadlineExceeded):
		return "timeout"
	case ctx.Err() != nil:
		return "cancelled"
	case errors.Is(err, syscall.ECONNREFUSED):
		return "connection refused"
	case isTimeout(err):
		return "timeout"
	case errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE):
		return "connection reset by the server"
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return "connection closed by the server"
	case errors.As(err, &dnsErr):
		return dnsErr.Err
	case errors.As(err, &sysErr):
		return sysErr.Err.Error()
	}
	return err.Error()
}

// cause is the error to wrap: the context's when it ended the attempt.
func cause(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	return err
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.Is(err, context.DeadlineExceeded) || errors.Is(err, os.ErrDeadlineExceeded) ||
		(errors.As(err, &ne) && ne.Timeout())
}

// connResult is the relayd_upstream_connections_total result of a failed
// connection attempt.
func connResult(e *Error) string {
	switch {
	case e.Text == "timeout" || isTimeout(e.Err):
		return "timeout"
	case e.Step == StepConnect && errors.Is(e.Err, syscall.ECONNREFUSED):
		return "refused"
	case e.Step == StepStartTLS || e.Step == StepTLS:
		return "tls_error"
	case e.Step == StepAuth:
		return "auth_failed"
	}
	return "error"
}
