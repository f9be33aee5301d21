package sendmail

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"net/mail"
	"strings"
)

// MaxMessage bounds what ReadMessage holds in memory. The daemon's own
// limit (max_message_size, 25 MB by default) is normally far lower and is
// the one a caller meets.
const MaxMessage = 256 << 20

// ReadMessage reads a message from r (standard input) and returns it with
// CRLF line endings: bare LF is accepted and becomes CRLF, a final line
// without a newline is completed. Unless ignoreDots (-i, -oi), a line with
// a single dot ends the input, as with sendmail; the dot is not part of the
// message. Dot-stuffing is the SMTP client's business, not this one's.
func ReadMessage(r io.Reader, ignoreDots bool) ([]byte, error) {
	br := bufio.NewReaderSize(r, 64<<10)
	var out bytes.Buffer
	for {
		line, err := br.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) {
			// A long line: copy this piece as it is and go on reading the line.
			if out.Len()+len(line) > MaxMessage {
				return nil, tooBig()
			}
			if line[len(line)-1] == '\r' {
				// Keep a CR for the next piece: it may be half of a CRLF.
				line = line[:len(line)-1]
				br.UnreadByte()
			}
			out.Write(line)
			continue
		}
		if err != nil && !errors.Is(err, io.EOF) {
			return nil, errorf(ExitTempFail, "cannot read the message from standard input: %v", err)
		}
		if len(line) > 0 {
			body := bytes.TrimSuffix(bytes.TrimSuffix(line, []byte("\n")), []byte("\r"))
			startOfLine := out.Len() == 0 || bytes.HasSuffix(out.Bytes(), []byte("\n"))
			if !ignoreDots && startOfLine && len(body) == 1 && body[0] == '.' {
				return out.Bytes(), nil
			}
			if out.Len()+len(body)+2 > MaxMessage {
				return nil, tooBig()
			}
			out.Write(body)
			out.WriteString("\r\n")
		}
		if err != nil {
			return out.Bytes(), nil
		}
	}
}

func tooBig() *Error {
	return errorf(ExitDataErr, "the message is larger than %d MB: it was not sent", MaxMessage>>20)
}

// Header is what the envelope needs from a message's header section.
type Header struct {
	Recipients []string // addresses of To:, Cc: and Bcc:, in order
	HasFrom    bool     // a From: field is present
}

// ScanHeader reads the header section of msg (CRLF line endings, as
// ReadMessage returns it): the To:, Cc: and Bcc: addresses, and whether
// there is a From:. With removeBcc, it returns msg without its Bcc: fields
// (each with its continuation lines); otherwise msg itself. The header
// section ends at the first empty line, or at the first line that is
// neither a field nor a continuation (then there is no empty line and that
// line starts the body).
func ScanHeader(msg []byte, removeBcc bool) (Header, []byte) {
	var h Header
	var out []byte
	if removeBcc {
		out = make([]byte, 0, len(msg))
	}
	rest := msg
	var name string // field being read, lower case
	var value strings.Builder
	flush := func() {
		switch name {
		case "to", "cc", "bcc":
			h.Recipients = append(h.Recipients, SplitRecipients(value.String())...)
		case "from":
			h.HasFrom = true
		}
		name = ""
		value.Reset()
	}
	skipping := false
	for len(rest) > 0 {
		line := rest
		if i := bytes.IndexByte(rest, '\n'); i >= 0 {
			line = rest[:i+1]
		}
		content := bytes.TrimRight(line, "\r\n")
		if len(content) == 0 {
			break // the empty line: the body follows
		}
		switch {
		case content[0] == ' ' || content[0] == '\t':
			if name == "" {
				// A continuation with no field before it: not a header.
				return h, pick(removeBcc, out, rest, msg)
			}
			value.Write(content)
		default:
			colon := bytes.IndexByte(content, ':')
			if colon <= 0 || !fieldName(content[:colon]) {
				flush()
				return h, pick(removeBcc, out, rest, msg)
			}
			flush()
			name = strings.ToLower(string(content[:colon]))
			value.Write(content[colon+1:])
			skipping = name == "bcc"
		}
		if removeBcc && !skipping {
			out = append(out, line...)
		}
		rest = rest[len(line):]
	}
	flush()
	return h, pick(removeBcc, out, rest, msg)
}

func pick(removeBcc bool, out, rest, msg []byte) []byte {
	if !removeBcc {
		return msg
	}
	return append(out, rest...)
}

// fieldName reports whether b is an RFC 5322 field name (printable ASCII
// except colon, no space).
func fieldName(b []byte) bool {
	for _, c := range b {
		if c <= ' ' || c >= 0x7f {
			return false
		}
	}
	return true
}

// AddFrom returns msg with a From: field in front naming sender, with name
// as its display name when not empty (-F): "CronDaemon <root@host>". A
// name that is not a plain phrase is quoted or RFC 2047-encoded.
func AddFrom(msg []byte, name, sender string) []byte {
	if sender == "" {
		sender = "MAILER-DAEMON" // the null sender has no address to show
	}
	field := sender
	switch {
	case name != "" && plainPhrase(name):
		field = name + " <" + sender + ">"
	case name != "":
		field = (&mail.Address{Name: name, Address: sender}).String()
	}
	return append([]byte("From: "+field+"\r\n"), msg...)
}

// plainPhrase reports whether s is words of RFC 5322 atext separated by
// single spaces, which a display name may be without quotes.
func plainPhrase(s string) bool {
	for _, w := range strings.Split(s, " ") {
		if w == "" {
			return false
		}
		for i := 0; i < len(w); i++ {
			c := w[i]
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("!#$%&'*+-/=?^_`{|}~", c) >= 0) {
				return false
			}
		}
	}
	return true
}
