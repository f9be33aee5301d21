package message

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/mail"
	"net/textproto"
	"strconv"
	"strings"
	"time"
)

// ErrNotDSN is returned by ParseDSN for a message that is not a
// multipart/report with a delivery-status part holding a recipient.
var ErrNotDSN = errors.New("message: not a delivery status notification")

// ParseDSN parses a DSN (RFC 3464 in RFC 6522 multipart/report) and
// returns its per-recipient fields. Final-Recipient's type ("rfc822;",
// "utf-8;") is removed from Address, and RFC 6533 \x{HEX} escapes are
// decoded; RemoteMTA and DiagnosticCode keep their type; unparsable dates
// are zero. It is meant for tests and tools and reads b with net/mail,
// mime and mime/multipart; any malformed input yields an error, never a
// panic.
func ParseDSN(b []byte) ([]DSNRecipient, error) {
	msg, err := mail.ReadMessage(bytes.NewReader(b))
	if err != nil {
		return nil, fmt.Errorf("message: parse dsn: %w", err)
	}
	mt, params, err := mime.ParseMediaType(msg.Header.Get("Content-Type"))
	if err != nil {
		return nil, fmt.Errorf("message: parse dsn: content-type: %w", err)
	}
	if mt != "multipart/report" || params["boundary"] == "" {
		return nil, ErrNotDSN
	}
	mr := multipart.NewReader(msg.Body, params["boundary"])
	for {
		p, err := mr.NextPart()
		if err == io.EOF {
			return nil, ErrNotDSN
		}
		if err != nil {
			return nil, fmt.Errorf("message: parse dsn: %w", err)
		}
		pt, _, _ := mime.ParseMediaType(p.Header.Get("Content-Type"))
		if pt == "message/delivery-status" || pt == "message/global-delivery-status" {
			return parseStatus(p)
		}
	}
}

// parseStatus reads the per-message block and the per-recipient blocks
// of a delivery-status body (RFC 3464 2.1).
func parseStatus(r io.Reader) ([]DSNRecipient, error) {
	tp := textproto.NewReader(bufio.NewReader(r))
	if _, err := tp.ReadMIMEHeader(); err != nil {
		return nil, fmt.Errorf("message: parse dsn: per-message fields: %w", err)
	}
	var rs []DSNRecipient
	for {
		h, err := tp.ReadMIMEHeader()
		if len(h) > 0 {
			rs = append(rs, recipientFrom(h))
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("message: parse dsn: per-recipient fields: %w", err)
		}
	}
	if len(rs) == 0 {
		return nil, ErrNotDSN
	}
	return rs, nil
}

func recipientFrom(h textproto.MIMEHeader) DSNRecipient {
	return DSNRecipient{
		Address:        parseAddressField(h.Get("Final-Recipient")),
		Action:         strings.ToLower(h.Get("Action")),
		Status:         h.Get("Status"),
		RemoteMTA:      h.Get("Remote-MTA"),
		DiagnosticCode: h.Get("Diagnostic-Code"),
		LastAttempt:    parseDate(h.Get("Last-Attempt-Date")),
		WillRetryUntil: parseDate(h.Get("Will-Retry-Until")),
	}
}

func parseDate(s string) time.Time {
	t, err := mail.ParseDate(s)
	if err != nil {
		return time.Time{}
	}
	return t
}

// parseAddressField undoes addressField.
func parseAddressField(v string) string {
	typ, addr, ok := strings.Cut(v, ";")
	if !ok {
		return strings.TrimSpace(v)
	}
	addr = strings.TrimSpace(addr)
	if !strings.EqualFold(strings.TrimSpace(typ), "utf-8") {
		return addr
	}
	var b strings.Builder
	for len(addr) > 0 {
		if strings.HasPrefix(addr, `\x{`) {
			if end := strings.IndexByte(addr, '}'); end > 3 {
				if n, err := strconv.ParseUint(addr[3:end], 16, 32); err == nil {
					b.WriteRune(rune(n))
					addr = addr[end+1:]
					continue
				}
			}
		}
		b.WriteByte(addr[0])
		addr = addr[1:]
	}
	return b.String()
}
