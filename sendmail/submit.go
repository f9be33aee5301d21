package sendmail

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"time"

	"github.com/emersion/go-smtp"
)

// Envelope is one submission: the envelope sender ("" for the null
// sender) and the recipients.
type Envelope struct {
	From string
	To   []string
}

// Client submits to the daemon's sendmail socket.
type Client struct {
	Socket  string        // path of the unix socket ([sendmail] socket)
	Helo    string        // EHLO name: the host name
	Timeout time.Duration // whole submission; 0 = 10 minutes
}

// dial connects to the socket; failure is ExitTempFail (the daemon is
// down: the caller should retry).
func (c *Client) dial(ctx context.Context) (net.Conn, error) {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "unix", c.Socket)
	if err != nil {
		return nil, errorf(ExitTempFail, "relayd is not running or its sendmail socket %s cannot be reached (%v): the message was not sent, try again later",
			c.Socket, unwrapOp(err))
	}
	return conn, nil
}

// Submit sends one message (CRLF line endings) in one SMTP transaction.
// Every recipient must be accepted before DATA: if one is refused, nothing
// is sent (ExitNoUser for a 5xx, ExitTempFail for a 4xx), so a caller that
// retries never makes duplicates. The error is always an *Error.
func (c *Client) Submit(ctx context.Context, env Envelope, msg []byte) error {
	timeout := c.Timeout
	if timeout <= 0 {
		timeout = 10 * time.Minute
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	conn, err := c.dial(ctx)
	if err != nil {
		return err
	}
	if dl, ok := ctx.Deadline(); ok {
		conn.SetDeadline(dl)
	}
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()
	sc := smtp.NewClient(conn)
	defer sc.Close()
	if err := sc.Hello(c.Helo); err != nil {
		return failure("the daemon did not accept the connection", err, ExitSoftware)
	}
	utf8 := !isASCII(env.From)
	for _, r := range env.To {
		utf8 = utf8 || !isASCII(r)
	}
	if err := sc.Mail(env.From, &smtp.MailOptions{UTF8: utf8, Size: int64(len(msg))}); err != nil {
		var se *smtp.SMTPError
		if errors.As(err, &se) && se.Code == 552 { // SIZE over max_message_size (RFC 1870)
			return failure("the message is too large", err, ExitDataErr)
		}
		return failure("sender <"+env.From+"> refused", err, ExitSoftware)
	}
	for _, r := range env.To {
		if err := sc.Rcpt(r, nil); err != nil {
			return failure("recipient <"+r+"> refused, nothing was sent", err, ExitNoUser)
		}
	}
	w, err := sc.Data()
	if err != nil {
		return failure("the daemon refused the message", err, ExitDataErr)
	}
	if _, err := w.Write(msg); err != nil {
		return failure("the message could not be sent", err, ExitDataErr)
	}
	if err := w.Close(); err != nil {
		return failure("the message was refused", err, ExitDataErr)
	}
	sc.Quit()
	return nil
}

// failure maps an SMTP error to an exit status: a 4xx reply, or a lost
// connection, is temporary (ExitTempFail); a 5xx is perm (the status of
// the step); anything else is ExitSoftware.
func failure(what string, err error, perm int) *Error {
	var se *smtp.SMTPError
	if errors.As(err, &se) {
		text := fmt.Sprintf("%d", se.Code)
		if se.EnhancedCode != (smtp.EnhancedCode{}) && se.EnhancedCode != smtp.NoEnhancedCode {
			text += fmt.Sprintf(" %d.%d.%d", se.EnhancedCode[0], se.EnhancedCode[1], se.EnhancedCode[2])
		}
		text += " " + oneLine(se.Message)
		switch {
		case se.Code >= 400 && se.Code < 500:
			return errorf(ExitTempFail, "%s for now: %s (try again later)", what, text)
		case se.Code >= 500:
			return errorf(perm, "%s: %s", what, text)
		}
		return errorf(ExitSoftware, "%s: unexpected reply %s", what, text)
	}
	var ne net.Error
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, net.ErrClosed) || errors.As(err, &ne) {
		return errorf(ExitTempFail, "the connection to relayd was lost (%v): the message may not have been sent, try again later", unwrapOp(err))
	}
	return errorf(ExitSoftware, "%s: %v", what, err)
}

// Proxy runs an SMTP dialogue between the caller (in, out: standard input
// and output) and the daemon (-bs), octet for octet, until the daemon
// closes the connection (after QUIT) or the caller's input ends. If the
// daemon cannot be reached, out gets a 421 reply so an SMTP client sees
// why, and the error is ExitTempFail.
func (c *Client) Proxy(ctx context.Context, in io.Reader, out io.Writer) error {
	conn, err := c.dial(ctx)
	if err != nil {
		fmt.Fprintf(out, "421 4.3.0 relayd is not running, try again later\r\n")
		return err
	}
	defer conn.Close()
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()
	go func() {
		io.Copy(conn, in)
		if uc, ok := conn.(*net.UnixConn); ok {
			uc.CloseWrite() // the daemon sees the end of input and closes
		}
	}()
	if _, err := io.Copy(out, conn); err != nil && !errors.Is(err, net.ErrClosed) {
		return errorf(ExitTempFail, "the connection to relayd was lost: %v", unwrapOp(err))
	}
	return nil
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}

// oneLine keeps a multi-line reply on one line of standard error.
func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}

// unwrapOp drops the "dial unix /path:" prefix of a *net.OpError, which
// the message already names.
func unwrapOp(err error) error {
	var op *net.OpError
	if errors.As(err, &op) && op.Err != nil {
		return op.Err
	}
	return err
}
