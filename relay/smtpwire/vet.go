package smtpwire

import (
	"encoding/base64"
	"net"
	"strconv"
	"strings"

	"github.com/emersion/go-smtp"
)

// Command lines Conn answers itself, before go-smtp sees them, because
// go-smtp's own answer is wrong for relayd (issue 14): it counts syntax
// errors against a hard-coded limit of its own (then "500 5.5.1 Too many
// errors" and close, whatever max_errors says), answers undecodable AUTH
// base64 with 454, AUTH without a mechanism with 502, takes "MAIL
// FROM:<>x" for a parameter "X" (500) and keeps the last of two SIZE=
// parameters; and it refuses an over-size SIZE= itself, so relay never
// counted it. Every reply here is counted against max_errors like the
// session's own refusals (conn.addError).
var (
	errUnknownCmd = reply(500, 5, 5, 2, "Syntax error, command unrecognized")
	errAuthNoMech = reply(501, 5, 5, 2, "Syntax error: AUTH needs a mechanism name")
	errAuthBase64 = reply(501, 5, 5, 2, "Invalid base64 data") // RFC 4954 4
	errMailSyntax = reply(501, 5, 5, 2, "Syntax error: a space must separate the address from the MAIL parameters")
	errTooManyErr = reply(421, 4, 7, 0, "Too many errors, closing connection")
	errHeloFirst  = reply(502, 5, 5, 1, goHeloFirst)
)

// needsHelo are the commands go-smtp refuses before EHLO/HELO.
var needsHelo = map[string]bool{"MAIL": true, "RCPT": true, "DATA": true, "BDAT": true, "AUTH": true}

// knownVerbs are the commands go-smtp dispatches; any other verb is
// answered here (go-smtp would count it against its own limit).
var knownVerbs = map[string]bool{"HELO": true, "EHLO": true, "LHLO": true, "MAIL": true, "RCPT": true,
	"VRFY": true, "NOOP": true, "RSET": true, "BDAT": true, "DATA": true, "QUIT": true, "AUTH": true,
	"SEND": true, "SOML": true, "SAML": true, "EXPN": true, "HELP": true, "TURN": true}

// vetCommand returns the reply to line (a command line without its line
// end) that Conn gives instead of go-smtp, with the reason it is
// counted under in relayd_messages_rejected_total; nil: go-smtp runs it.
// helo is whether go-smtp has accepted EHLO/HELO (before that, go-smtp's
// "introduce yourself" answer comes first).
func (l *Conn) vetCommand(line string, helo bool) (*smtp.SMTPError, string) {
	// Split as go-smtp's parseCmd does: a 4-letter verb, then a space.
	// (No allocation: this runs for every command.)
	if len(line) >= 8 && strings.EqualFold(line[:8], "STARTTLS") {
		return nil, ""
	}
	if len(line) < 4 || len(line) == 5 || (len(line) > 5 && line[4] != ' ') {
		return errUnknownCmd, "syntax"
	}
	var v [4]byte
	for i := range v {
		v[i] = upper(line[i])
	}
	verb := string(v[:])
	if !knownVerbs[verb] {
		return errUnknownCmd, "syntax"
	}
	if !helo {
		if l.tlsState.Load() != nil && needsHelo[verb] {
			// After STARTTLS, where go-smtp still has the old EHLO (RFC
			// 3207 4.2: it is forgotten); go-smtp's own words otherwise.
			return errHeloFirst, ""
		}
		return nil, ""
	}
	arg := ""
	if len(line) > 5 {
		arg = strings.TrimSpace(line[5:])
	}
	switch {
	case verb == "AUTH":
		parts := strings.Fields(arg)
		if len(parts) == 0 {
			return errAuthNoMech, "syntax"
		}
		if len(parts) > 1 && !saslResponseOK(parts[1]) {
			return errAuthBase64, "syntax"
		}
	case verb == "MAIL":
		return vetMail(arg, l.opts.Limits().MaxMessageSize)
	}
	return nil, ""
}

// saslResponseOK reports whether s is an AUTH response go-smtp can decode:
// "=" (empty) or base64 (RFC 4954 4). "*" (cancel) is checked by the caller.
func saslResponseOK(s string) bool {
	if s == "=" {
		return true
	}
	_, err := base64.StdEncoding.DecodeString(s)
	return err == nil
}

// vetMail checks what go-smtp gets wrong in MAIL's argument arg: the path
// must be followed by the end of the line or a space (RFC 5321 4.1.1.2),
// no parameter may be given twice, and SIZE= over max_message_size
// (limit; 0: none) is 552 5.3.4, counted as "size" (RFC 1870 6). A line
// whose path go-smtp cannot find either is left to go-smtp's 501.
func vetMail(arg string, limit int64) (*smtp.SMTPError, string) {
	if len(arg) < 5 || !strings.EqualFold(arg[:5], "FROM:") {
		return nil, ""
	}
	rest := strings.TrimSpace(arg[5:])
	end := pathEnd(rest)
	if end < 0 {
		return nil, ""
	}
	params := rest[end:]
	if params != "" && params[0] != ' ' {
		return errMailSyntax, "syntax"
	}
	for rest := params; ; {
		var p string
		if p, rest = nextParam(rest); p == "" {
			return nil, ""
		}
		key, value, _ := strings.Cut(p, "=")
		for before := params[:len(params)-len(rest)-len(p)]; ; {
			var q string
			if q, before = nextParam(before); q == "" {
				break
			}
			if k, _, _ := strings.Cut(q, "="); strings.EqualFold(k, key) {
				return reply(501, 5, 5, 4, "Duplicate MAIL parameter "+strings.ToUpper(key)), "syntax"
			}
		}
		if strings.EqualFold(key, "SIZE") && limit > 0 {
			if n, err := strconv.ParseUint(value, 10, 64); err == nil && n > uint64(limit) {
				return ErrTooBig, "size"
			}
		}
	}
}

// nextParam splits the first parameter off s, as strings.Fields (which
// go-smtp uses) would: "" when there is none.
func nextParam(s string) (param, rest string) {
	s = strings.TrimLeftFunc(s, isSpace)
	i := strings.IndexFunc(s, isSpace)
	if i < 0 {
		return s, ""
	}
	return s[:i], s[i:]
}

func isSpace(r rune) bool {
	return r == ' ' || r == '\t' || r == '\r' || r == '\n' || r == '\v' || r == '\f'
}

func upper(c byte) byte {
	if 'a' <= c && c <= 'z' {
		return c - ('a' - 'A')
	}
	return c
}

// pathEnd returns the length of the reverse-path at the start of s: up to
// and including the '>' that closes "<...>" (a '>' inside a quoted local
// part does not), or up to the first space for a path without brackets,
// which go-smtp accepts; -1 if a '<' is never closed.
func pathEnd(s string) int {
	if !strings.HasPrefix(s, "<") {
		if i := strings.IndexByte(s, ' '); i >= 0 {
			return i
		}
		return len(s)
	}
	quoted := false
	for i := 1; i < len(s); i++ {
		switch c := s[i]; {
		case quoted && c == '\\':
			i++
		case c == '"':
			quoted = !quoted
		case !quoted && c == '>':
			return i + 1
		}
	}
	return -1
}

// saslResponse hands up line, the client's answer to a 334 of AUTH (its
// line end at buf[i]), unless go-smtp would answer undecodable base64 with
// 454 4.7.0: then it hands up "*" instead, and Write turns go-smtp's
// "501 5.0.0 Negotiation cancelled" into RFC 4954's 501 5.5.2. The line
// (a credential) is never logged.
func (l *Conn) saslResponse(line string, i int) {
	if line == "*" || saslResponseOK(line) {
		l.pass = i + 1
		return
	}
	l.buf = append([]byte("*\r\n"), l.buf[i+1:]...)
	l.pass = 3
	l.badSASL.Store(true)
	l.raw.addError(0) // counted; a closing 421 here would end go-smtp's exchange untidily
	l.opts.Reject("syntax")
}

// refuse answers a command line itself with e, counts it (reason) and,
// once the connection has had more than max_errors errors, answers 421
// instead and closes (relayd's max_errors, not go-smtp's).
func (l *Conn) refuse(e *smtp.SMTPError, reason string) error {
	if reason != "" { // "": not the client's error (errHeloFirst)
		l.opts.Reject(reason)
		if l.raw.addError(l.opts.Limits().MaxErrors) {
			l.abort(replyLine(errTooManyErr), "")
			return net.ErrClosed
		}
	}
	return l.answer(replyLine(e))
}

// replyLine is e as one reply line.
func replyLine(e *smtp.SMTPError) string {
	return strconv.Itoa(e.Code) + " " + strconv.Itoa(e.EnhancedCode[0]) + "." + strconv.Itoa(e.EnhancedCode[1]) + "." +
		strconv.Itoa(e.EnhancedCode[2]) + " " + e.Message + "\r\n"
}
