package message

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"mime"
	"strings"
	"time"
)

// DSN subjects (the bounce and the warn_after "still trying" notice).
const (
	SubjectFailed  = "Undelivered Mail Returned to Sender"
	SubjectDelayed = "Delayed Mail (still being retried)"
)

// DSNRecipient is the per-recipient part of a DSN (RFC 3464 2.3).
type DSNRecipient struct {
	// Address is the final recipient's address, written "rfc822; addr"
	// (or "utf-8; addr" with RFC 6533 escapes when it is not ASCII).
	Address string
	// Action is "failed" or "delayed" (RFC 3464 2.3.3).
	Action string
	// Status is the enhanced status code, e.g. "5.1.1" (RFC 3463).
	Status string
	// RemoteMTA is "dns; host" or "" when no host answered; a value
	// without ';' gets "dns; " prepended.
	RemoteMTA string
	// DiagnosticCode is "smtp; 550 5.1.1 user unknown" or ""; a value
	// without ';' gets "smtp; " prepended.
	DiagnosticCode string
	// LastAttempt is the time of the last attempt; zero omits the field.
	LastAttempt time.Time
	// WillRetryUntil is written only for Action "delayed"; zero omits it.
	WillRetryUntil time.Time
}

// DSNInfo is everything DSN needs. Every string is used as given after
// removing CR/LF (see Message); the caller owns Original.
type DSNInfo struct {
	ReportingMTA string    // relayd's hostname (server.hostname)
	From         string    // header From, e.g. "Mail Delivery System <MAILER-DAEMON@host>"
	To           string    // the original envelope sender; "" omits To:
	QueueID      string    // original queue ID, as X-Relayd-Queue-ID; "" omits it
	Arrival      time.Time // when the original arrived; zero omits Arrival-Date
	Date         time.Time // the DSN's Date:; zero means time.Now()
	MessageID    string    // "<...@host>" for the DSN itself; "" omits it
	Recipients   []DSNRecipient
	Original     []byte // the original message; only its header section is used
	Explanation  string // first part's text; "" generates one (explainDSN)
}

// DSN builds an RFC 3464 delivery status notification in an RFC 6522
// multipart/report; report-type=delivery-status with three parts:
// text/plain (Explanation), message/delivery-status, and
// text/rfc822-headers holding only the original's header section. Headers
// only, because the DSN must always be deliverable: a full copy of a 25 MB
// message could itself bounce for size, and the body may be confidential.
// The third part is left out when Original is empty.
//
// Lines end in CRLF and are at most 998 octets (RFC 5322 2.1.1). The DSN
// has Auto-Submitted: auto-replied (RFC 3834) and Subject SubjectFailed,
// or SubjectDelayed when every recipient is "delayed". The boundary is
// derived from the content, so equal input gives equal output (golden
// tests). Non-ASCII text in the delivery-status fields, which RFC 3464
// keeps US-ASCII, is replaced by '?'.
func DSN(info DSNInfo) []byte {
	if info.Date.IsZero() {
		info.Date = time.Now()
	}
	text, textCTE := encodeText(info.Explanation)
	if info.Explanation == "" {
		text, textCTE = encodeText(explainDSN(info))
	}
	parts := [][]byte{
		partBytes(text, "Notification", "text/plain; charset=utf-8", textCTE),
		partBytes(statusFields(info), "Delivery report", "message/delivery-status", ""),
	}
	eightBit := false
	if len(info.Original) > 0 {
		orig := originalHeader(info.Original)
		cte := ""
		if hasHighBit(orig) {
			cte, eightBit = "8bit", true
		}
		parts = append(parts, partBytes(orig, "Undelivered Message Headers", "text/rfc822-headers", cte))
	}
	boundary := chooseBoundary(info, parts)

	var h header
	h.insert(-1, "From", info.From)
	if info.To != "" {
		h.insert(-1, "To", info.To)
	}
	h.insert(-1, "Subject", dsnSubject(info.Recipients))
	h.insert(-1, "Date", info.Date.Format(time.RFC1123Z))
	if info.MessageID != "" {
		h.insert(-1, "Message-ID", info.MessageID)
	}
	h.insert(-1, "Auto-Submitted", "auto-replied")
	h.insert(-1, "MIME-Version", "1.0")
	h.insert(-1, "Content-Type", mime.FormatMediaType("multipart/report",
		map[string]string{"report-type": "delivery-status", "boundary": boundary}))
	if eightBit {
		h.insert(-1, "Content-Transfer-Encoding", "8bit")
	}
	out := h.bytes()
	out = append(out, "This is a MIME-encapsulated message.\r\n"...)
	for _, p := range parts {
		out = append(out, "\r\n--"+boundary+"\r\n"...)
		out = append(out, p...)
	}
	return append(out, "\r\n--"+boundary+"--\r\n"...)
}

func dsnSubject(rs []DSNRecipient) string {
	for _, r := range rs {
		if !strings.EqualFold(r.Action, "delayed") {
			return SubjectFailed
		}
	}
	if len(rs) == 0 {
		return SubjectFailed
	}
	return SubjectDelayed
}

// partBytes builds one body part: its header, an empty line, content.
func partBytes(content []byte, desc, ctype, cte string) []byte {
	var h header
	h.insert(-1, "Content-Description", desc)
	h.insert(-1, "Content-Type", ctype)
	if cte != "" {
		h.insert(-1, "Content-Transfer-Encoding", cte)
	}
	return join(h, content)
}

// statusFields builds the message/delivery-status content: the
// per-message fields, then one block per recipient, separated by empty
// lines (RFC 3464 2.1).
func statusFields(info DSNInfo) []byte {
	var b []byte
	add := func(name, value string) {
		if value = strings.TrimSpace(asciiOnly(sanitizeValue(value))); value != "" {
			b = append(b, fold([]byte(name+": "+value), len(name)+1)...)
		}
	}
	add("Reporting-MTA", "dns; "+info.ReportingMTA)
	add("X-Relayd-Queue-ID", info.QueueID)
	add("Arrival-Date", dsnDate(info.Arrival))
	for _, r := range info.Recipients {
		b = append(b, '\r', '\n')
		add("Final-Recipient", addressField(r.Address))
		add("Action", strings.ToLower(r.Action))
		add("Status", r.Status)
		add("Remote-MTA", withType(r.RemoteMTA, "dns"))
		add("Diagnostic-Code", withType(r.DiagnosticCode, "smtp"))
		add("Last-Attempt-Date", dsnDate(r.LastAttempt))
		if strings.EqualFold(r.Action, "delayed") {
			add("Will-Retry-Until", dsnDate(r.WillRetryUntil))
		}
	}
	return b
}

func dsnDate(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.Format(time.RFC1123Z)
}

// withType prepends "typ; " to a value without a type (RFC 3464 2.3.5-6).
func withType(v, typ string) string {
	if v == "" || strings.Contains(v, ";") {
		return v
	}
	return typ + "; " + v
}

// addressField writes a Final-Recipient value: "rfc822; addr", or for a
// non-ASCII address "utf-8; " with RFC 6533 3 utf-8-addr-xtext escapes
// (\x{HEX} for non-ASCII, '+', '=', '\' and controls).
func addressField(addr string) string {
	addr = sanitizeValue(addr)
	if !hasHighBit([]byte(addr)) {
		return "rfc822; " + addr
	}
	var b strings.Builder
	b.WriteString("utf-8; ")
	for _, r := range addr {
		if r < 0x21 || r > 0x7e || r == '+' || r == '=' || r == '\\' {
			fmt.Fprintf(&b, `\x{%X}`, r)
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

// asciiOnly makes a delivery-status value printable US-ASCII (RFC 3464
// 2.1): a tab becomes a space, other controls and non-ASCII octets '?'.
func asciiOnly(s string) string {
	b := []byte(s)
	for i, c := range b {
		switch {
		case c == '\t':
			b[i] = ' '
		case c < 0x20 || c >= 0x7f:
			b[i] = '?'
		}
	}
	return string(b)
}

// chooseBoundary derives a boundary from the content; "=_" cannot occur in
// quoted-printable text, and a collision with any part is avoided by
// counting up (RFC 2046 5.1.1).
func chooseBoundary(info DSNInfo, parts [][]byte) string {
	sum := sha256.Sum256([]byte(info.QueueID + "\x00" + info.MessageID + "\x00" + info.Date.String()))
	base := "=_relayd_" + hex.EncodeToString(sum[:10])
	for n := 0; ; n++ {
		b := base
		if n > 0 {
			b = fmt.Sprintf("%s_%d", base, n)
		}
		clash := false
		for _, p := range parts {
			if bytes.Contains(p, []byte("--"+b)) {
				clash = true
				break
			}
		}
		if !clash {
			return b
		}
	}
}

// originalHeader extracts the header fields of a raw message, with line
// endings normalised, NUL removed and long lines folded, for the
// text/rfc822-headers part.
func originalHeader(orig []byte) []byte {
	var buf []byte
	for rest := orig; len(rest) > 0; {
		i := indexCRLF(rest)
		if i < 0 {
			i = len(rest)
		}
		line := bytes.ReplaceAll(rest[:i], []byte{0}, nil)
		buf = append(append(buf, line...), '\r', '\n')
		if len(line) == 0 || i == len(rest) {
			break
		}
		if rest[i] == '\r' && i+1 < len(rest) && rest[i+1] == '\n' {
			i++
		}
		rest = rest[i+1:]
	}
	h, _ := splitHeader(buf)
	h.foldLongFields()
	b := h.bytes()
	return b[:len(b)-2]
}
