package relay

import (
	"github.com/emersion/go-smtp"

	"github.com/relayd/relayd/relay/smtpwire"
)

// One value per reply of docs/smtp.md. Session methods return only these (or an
// *smtp.SMTPError built by reply), never a wrapped or plain error: go-smtp
// sends err.Error() of anything else to the client.
var (
	errNetwork      = reply(554, 5, 7, 1, "Access denied: your address is not in allow_networks")
	errAuthRequired = reply(530, 5, 7, 0, "Authentication required")
	errAuthFailed   = reply(535, 5, 7, 8, "Authentication credentials invalid")
	errAuthTooMany  = reply(421, 4, 7, 0, "Too many authentication failures, closing connection")
	errAuthInTxn    = reply(503, 5, 5, 1, "AUTH not permitted during a mail transaction")
	errAuthTLS      = reply(538, 5, 7, 11, "Encryption required for requested authentication mechanism")
	errNestedMail   = reply(503, 5, 5, 1, "Nested MAIL command")
	errNeedMail     = reply(503, 5, 5, 1, "Need MAIL command first")
	errTooManyRcpts = reply(452, 4, 5, 3, "Too many recipients")
	errTooBig       = smtpwire.ErrTooBig
	errHeaderTooBig = reply(552, 5, 3, 4, "Header section exceeds 1 MB")
	errLineTooLong  = reply(552, 5, 3, 4, "Line too long")
	errBareLF       = reply(550, 5, 6, 0, "Bare LF or bare CR in message: line endings must be CRLF")
	errNUL          = reply(550, 5, 6, 0, "NUL octet in message")
	errMultiFrom    = reply(550, 5, 6, 0, "Message has more than one From: field")
	errLoop         = reply(554, 5, 4, 6, "Too many Received: fields: mail loop")
	errStorage      = reply(452, 4, 3, 1, "Insufficient system storage: message not queued, try again later")
	errTemporary    = reply(451, 4, 3, 0, "Temporary local error, try again later")
	errTimeout      = reply(421, 4, 4, 2, "Timeout exceeded, closing connection")
	errBadAddress   = reply(501, 5, 1, 3, "Bad address syntax")
	errBadSender    = reply(501, 5, 1, 7, "Bad sender address syntax")
	errUTF8Needed   = reply(553, 5, 6, 7, "Non-ASCII address requires SMTPUTF8")
	errAddrTooLong  = reply(501, 5, 1, 3, "Address too long")
	errTooManyErr   = smtpwire.ErrTooManyErrors
)

// errLiteralDirect refuses an address-literal recipient routed to a direct
// profile: direct delivery finds mail hosts by the domain's MX.
var errLiteralDirect = reply(550, 5, 1, 2, "Address-literal recipient domains are not delivered by direct profiles: use the domain name, or ask the admin to route them to a smarthost profile")

// reply builds an SMTP reply with an enhanced status code (RFC 3463).
func reply(code, class, subject, detail int, text string) *smtp.SMTPError {
	return &smtp.SMTPError{
		Code:         code,
		EnhancedCode: smtp.EnhancedCode{class, subject, detail},
		Message:      text,
	}
}
