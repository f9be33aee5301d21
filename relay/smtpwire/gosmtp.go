package smtpwire

import "github.com/emersion/go-smtp"

// The go-smtp (v0.25) behaviours this layer depends on, all in one place.
// gosmtp_test.go drives a real go-smtp Server through a Conn on loopback
// and fails if an upgrade changes any of them; the numbers below are its
// subtests' names.
//
//  1. Greeting: the first thing go-smtp writes is one line starting "220 "
//     ("<domain> ESMTP Service Ready"); Write replaces it (goGreeting).
//  2. Replies: writeResponse writes each line of a reply in its own Write
//     (textproto flushes every line), continuation lines "ddd-" first and
//     the last line "ddd " in the same call, so Write can hold the
//     continuation lines and send the reply in one write.
//  3. EHLO/HELO: accepted with a reply starting "250" (goOK), which is how
//     Write learns go-smtp has a HELO; before one, MAIL and AUTH get
//     "502 5.5.1 Please introduce yourself first." (errHeloFirst uses the
//     same words after STARTTLS, where go-smtp still has the old EHLO).
//  4. Commands: parseCmd takes the first four octets as the verb and wants
//     a space after them; go-smtp dispatches exactly knownVerbs (plus
//     STARTTLS, which it never gets from a Conn). vetCommand splits the
//     same way and answers any other verb itself.
//  5. AUTH: challenges are "334 " lines (goAuthChallenge): the next line is
//     the client's response, not a command. A response "*" is answered
//     "501 5.0.0 Negotiation cancelled" (a "501 " line, goAuthCancelled),
//     which Write turns into RFC 4954's "501 5.5.2 Invalid base64 data"
//     after saslResponse swapped undecodable base64 for "*".
//  6. STARTTLS: with Server.TLSConfig set, EHLO advertises it as the line
//     "250-STARTTLS" (goSTARTTLSCap) whenever go-smtp's own connection is
//     not a *tls.Conn, which is always, since go-smtp never runs STARTTLS
//     here; Write drops that line once this layer has. Because go-smtp
//     never runs the handshake, its "550 5.0.0 Handshake error" is no
//     longer matched (it was before this layer ran STARTTLS), and
//     Conn.Conn() of go-smtp's Conn stays the net.Conn the listener's
//     Accept returned, which is how relay's Session finds its connection.
//  7. BDAT: handleBdat splits the arguments with strings.Fields, wants a
//     size (strconv.ParseUint, 32 bits) and at most "LAST" after it, and
//     then reads exactly size octets, even when it refuses the command
//     (no MAIL or RCPT, too big); with bad arguments it reads none
//     (bdatSize mirrors this). It reads a chunk with io.Copy, which takes
//     io.EOF for its end: Read gives ErrChunkCut instead.
//  8. DATA: after the 354, go-smtp's DATA reader, given ".\r\n" at once,
//     is an empty message: Session.Data's reader returns io.EOF and
//     nothing after the line is read, so the commands behind it stay
//     with this layer. ReadData swaps the message collected here back.
//  9. Errors: an error from Read reaches Session.Data's reader unchanged
//     (smtp.ErrTooLongLine, goLineTooLong, for max_line_length, which relay
//     maps to its 552); a Read error net.ErrClosed ends go-smtp's Serve
//     loop without a reply, so this layer's own last reply (421 4.4.2 on a
//     timeout) is the last line the client gets.
var (
	goGreeting      = []byte("220 ")                     // 1
	goOK            = []byte("250")                      // 3
	goAuthChallenge = []byte("334 ")                     // 5
	goAuthCancelled = []byte("501 ")                     // 5
	goSTARTTLSCap   = []byte("250-STARTTLS\r\n")         // 6
	goLineTooLong   = smtp.ErrTooLongLine                // 9
	goHeloFirst     = "Please introduce yourself first." // 3
)
