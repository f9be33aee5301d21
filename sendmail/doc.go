// Package sendmail is the client side of `relayd sendmail` (docs/relayd.8.md): the
// program PHP's mail(), cron, mailx and framework "sendmail" transports run
// as /usr/sbin/sendmail. It parses sendmail's command line (args.go), turns
// standard input into a message and its envelope (message.go: the lone-dot
// rule, bare LF, -t recipients from To/Cc/Bcc with Bcc removed, -F), and
// hands it to the running daemon over its unix socket with SMTP
// (submit.go), or proxies an SMTP dialogue there for -bs.
//
//	application -> sendmail (this package) -> [sendmail] socket -> relay -> ...
//
// Every failure is an *Error carrying the sysexits status the caller acts
// on: 75 (daemon down, or a 4xx) means "try again later", so nothing
// accepted is lost and nothing refused is dropped silently. The package is
// the daemon's client only: it does not import relay, spool, policy or
// upstream.
package sendmail

import "fmt"

// Exit statuses (sysexits.h) of `relayd sendmail` (docs/relayd.8.md).
const (
	ExitOK       = 0  // the daemon answered 250
	ExitUsage    = 64 // EX_USAGE: bad command line, no recipients
	ExitDataErr  = 65 // EX_DATAERR: the message was refused with 5xx at DATA
	ExitNoUser   = 67 // EX_NOUSER: a recipient was refused with 5xx
	ExitSoftware = 70 // EX_SOFTWARE: anything else
	ExitTempFail = 75 // EX_TEMPFAIL: the daemon is not reachable or answered 4xx
)

// Error is a failure with the exit status the program ends with. Msg is
// one line for standard error, a sentence without the program name.
type Error struct {
	Code int
	Msg  string
}

// Error implements error.
func (e *Error) Error() string { return e.Msg }

func errorf(code int, format string, a ...any) *Error {
	return &Error{Code: code, Msg: fmt.Sprintf(format, a...)}
}
