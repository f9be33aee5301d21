package relay

import (
	"bytes"
	"fmt"
	"io"
	"mime"
	"net/mail"
	"strings"
	"unicode"

	"golang.org/x/text/encoding/htmlindex"
)

// The header fields a queue item shows (docs/admin-api.md: from and subject, decoded
// to UTF-8, so that a person finds the mail to retract). They are decoded
// once, at acceptance, and kept in the envelope: listing the queue never
// reads bodies.

// maxShownField bounds a stored from or subject, in runes: enough to tell
// mails apart, and the envelope is rewritten at every state change.
const maxShownField = 200

// wordDecoder decodes RFC 2047 encoded-words in any charset the WHATWG
// encoding index knows (windows-1252, ISO-8859-15, Shift_JIS, GB18030...),
// not only the UTF-8, US-ASCII and ISO-8859-1 of mime's default.
var wordDecoder = &mime.WordDecoder{CharsetReader: func(charset string, r io.Reader) (io.Reader, error) {
	enc, err := htmlindex.Get(charset)
	if err != nil {
		return nil, fmt.Errorf("unknown charset %q", charset)
	}
	return enc.NewDecoder().Reader(r), nil
}}

// shownFrom is the From field as a person reads it: `Name <addr>` with
// encoded-words decoded, addresses separated by ", ". A field that does
// not parse is shown decoded as it is.
func shownFrom(values []string) string {
	if len(values) == 0 {
		return ""
	}
	p := mail.AddressParser{WordDecoder: wordDecoder}
	list, err := p.ParseList(values[0])
	if err != nil || len(list) == 0 {
		return shownText(values[0])
	}
	parts := make([]string, len(list))
	for i, a := range list {
		parts[i] = "<" + a.Address + ">"
		if a.Name != "" {
			parts[i] = a.Name + " " + parts[i]
		}
	}
	return shownText(strings.Join(parts, ", "))
}

// shownSubject is the first Subject field, decoded.
func shownSubject(values []string) string {
	if len(values) == 0 {
		return ""
	}
	return shownText(values[0])
}

// shownText decodes encoded-words (keeping the text as it is where they
// do not decode), makes it valid UTF-8, turns control characters into
// spaces, collapses runs of blanks and bounds the length.
func shownText(v string) string {
	if d, err := wordDecoder.DecodeHeader(v); err == nil {
		v = d
	}
	v = strings.ToValidUTF8(v, "\uFFFD")
	var b strings.Builder
	space, n := false, 0
	for _, r := range strings.TrimSpace(v) {
		if unicode.IsControl(r) || unicode.IsSpace(r) {
			space = true
			continue
		}
		if space && b.Len() > 0 {
			b.WriteByte(' ')
			n++
		}
		space = false
		if n == maxShownField-1 {
			b.WriteString("…")
			break
		}
		b.WriteRune(r)
		n++
	}
	return b.String()
}

// noticeFields returns from and subject of a message relayd generated
// itself (a DSN or an alert), from its header section.
func noticeFields(body []byte) (from, subject string) {
	end := bytes.Index(body, []byte("\r\n\r\n"))
	if end < 0 {
		return "", ""
	}
	m, err := mail.ReadMessage(bytes.NewReader(body[:end+4]))
	if err != nil {
		return "", ""
	}
	return shownFrom(m.Header["From"]), shownSubject(m.Header["Subject"])
}
