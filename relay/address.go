package relay

import (
	"strings"
	"unicode/utf8"

	"github.com/emersion/go-smtp"

	"github.com/relayd/relayd/upstream"
)

// RFC 5321 4.5.3.1: local-part 64 octets, domain 255, path 256 (less "<>").
const (
	maxLocalPart = 64
	maxDomain    = 255
	maxAddress   = 254
)

// checkAddress re-validates an envelope address as go-smtp parsed it (the
// mailbox with its local-part unquoted). It is stored this way and re-quoted
// by upstream when sent, so a quoted local-part can never turn into ESMTP
// parameters. "" (the null sender) is valid only when null is true.
func checkAddress(addr string, smtputf8, null bool, bad *smtp.SMTPError) *smtp.SMTPError {
	if addr == "" {
		if null {
			return nil
		}
		return bad
	}
	at := strings.LastIndexByte(addr, '@')
	if at <= 0 || at == len(addr)-1 {
		return bad
	}
	local, domain := addr[:at], addr[at+1:]
	if len(local) > maxLocalPart || len(domain) > maxDomain || len(addr) > maxAddress {
		return errAddrTooLong
	}
	if !utf8.ValidString(addr) {
		return bad
	}
	for i := 0; i < len(addr); i++ {
		c := addr[i]
		if c < 0x20 || c == 0x7f {
			return bad
		}
		if c >= 0x80 && !smtputf8 {
			return errUTF8Needed
		}
	}
	if !validDomain(domain) {
		return bad
	}
	// go-smtp hands over the local-part unquoted, so '"', '\\' and '@' in it
	// cannot be told from quoting or a second domain ("a@b"@c vs a@b@c):
	// refuse them rather than relay to a different mailbox than meant.
	if strings.ContainsAny(local, "\"\\@<>") {
		return bad
	}
	// Whatever is accepted here must be sendable: upstream re-quotes it.
	if _, err := upstream.FormatAddress(addr); err != nil {
		return bad
	}
	return nil
}

// validDomain accepts an RFC 5321 Domain (letters, digits, hyphens, dots,
// and UTF-8 U-labels) or an address literal in brackets.
func validDomain(d string) bool {
	if strings.HasPrefix(d, "[") {
		return strings.HasSuffix(d, "]") && len(d) > 2 && !strings.ContainsAny(d[1:len(d)-1], "[]\\ ")
	}
	for _, label := range strings.Split(d, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for _, r := range label {
			if r < 0x80 && !(r == '-' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z') {
				return false
			}
		}
	}
	return true
}
