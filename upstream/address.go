package upstream

import (
	"errors"
	"net/netip"
	"strings"
	"unicode"
	"unicode/utf8"
)

// maxPath is the longest address FormatAddress returns: RFC 5321
// §4.5.3.1.3 limits a path to 256 octets including the angle brackets.
const maxPath = 254

// Address errors returned by FormatAddress.
var (
	errAddrEmpty   = errors.New("empty address")
	errAddrControl = errors.New("address contains a control character (CR, LF, NUL, ...)")
	errAddrUTF8    = errors.New("address is not valid UTF-8")
	errAddrNoAt    = errors.New("address has no @domain")
	errAddrAngle   = errors.New("address contains '<' or '>' outside quotes")
	errAddrLocal   = errors.New("address has an empty local part")
	errAddrDomain  = errors.New("address has an invalid domain")
	errAddrLong    = errors.New("address is longer than 254 octets (RFC 5321 4.5.3.1.3)")
)

// FormatAddress returns the canonical form of addr to put between the angle
// brackets of MAIL FROM:<...> or RCPT TO:<...> (RFC 5321 §4.1.2 Mailbox).
//
// addr is "local@domain". The local part is either a quoted-string
// ("john doe"@example.org) or raw, as go-smtp's server hands it over after
// unquoting (john doe@example.org): everything before the last '@'. A local
// part that is not a valid Dot-string is quoted, with '"' and '\' escaped,
// so spaces or "NOTIFY=..." inside it can never become ESMTP parameters.
// Non-ASCII (RFC 6531) is kept as is; the caller asks for SMTPUTF8.
//
// It rejects control characters anywhere (CR, LF, NUL, DEL, C1), '<' and '>'
// outside quotes, invalid UTF-8, an empty local part, an invalid domain and
// results over 254 octets. It is pure and safe for concurrent use.
func FormatAddress(addr string) (string, error) {
	if addr == "" {
		return "", errAddrEmpty
	}
	if !utf8.ValidString(addr) {
		return "", errAddrUTF8
	}
	for _, r := range addr {
		if unicode.IsControl(r) || r == '\u2028' || r == '\u2029' {
			return "", errAddrControl
		}
	}
	local, domain, err := splitAddress(addr)
	if err != nil {
		return "", err
	}
	if local == "" {
		return "", errAddrLocal
	}
	if !validDomain(domain) {
		return "", errAddrDomain
	}
	out := quoteLocal(local) + "@" + domain
	if len(out) > maxPath {
		return "", errAddrLong
	}
	return out, nil
}

// splitAddress returns the unquoted local part and the domain of addr.
func splitAddress(addr string) (local, domain string, err error) {
	if addr[0] == '"' {
		if l, rest, ok := unquote(addr); ok && strings.HasPrefix(rest, "@") {
			return l, rest[1:], nil
		}
	}
	at := strings.LastIndexByte(addr, '@')
	if at < 0 {
		return "", "", errAddrNoAt
	}
	local, domain = addr[:at], addr[at+1:]
	if strings.ContainsAny(local, "<>") {
		return "", "", errAddrAngle
	}
	return local, domain, nil
}

// unquote reads the quoted-string at the start of s (RFC 5321 §4.1.2
// Quoted-string with quoted-pairSMTP) and returns its content and the rest.
func unquote(s string) (content, rest string, ok bool) {
	var b strings.Builder
	for i := 1; i < len(s); i++ {
		switch c := s[i]; c {
		case '\\':
			if i+1 == len(s) {
				return "", "", false
			}
			i++
			b.WriteByte(s[i])
		case '"':
			return b.String(), s[i+1:], true
		default:
			b.WriteByte(c)
		}
	}
	return "", "", false
}

// quoteLocal returns local as a Dot-string when it is one, else as a
// Quoted-string (RFC 5321 §4.1.2; RFC 6531 allows UTF-8 in both).
func quoteLocal(local string) string {
	if isDotString(local) {
		return local
	}
	var b strings.Builder
	b.WriteByte('"')
	for i := 0; i < len(local); i++ {
		if c := local[i]; c == '"' || c == '\\' {
			b.WriteByte('\\')
		}
		b.WriteByte(local[i])
	}
	b.WriteByte('"')
	return b.String()
}

func isDotString(s string) bool {
	for _, atom := range strings.Split(s, ".") {
		if atom == "" {
			return false
		}
		for i := 0; i < len(atom); i++ {
			if !isAtext(atom[i]) {
				return false
			}
		}
	}
	return true
}

// isAtext reports whether c is RFC 5322 atext, or a byte of a UTF-8
// sequence (RFC 6531 §3.3 extends atext with UTF8-non-ascii).
func isAtext(c byte) bool {
	switch {
	case c >= 0x80, c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		return true
	}
	return strings.IndexByte("!#$%&'*+-/=?^_`{|}~", c) >= 0
}

// validDomain accepts a Domain of letters, digits, '-', '_' and UTF-8
// U-labels separated by dots, or an address literal "[...]" of dtext
// (RFC 5321 §4.1.2, §4.1.3). Nothing in it can end the path or add a
// parameter: no space, quote, bracket or '@'.
func validDomain(d string) bool {
	if d == "" || len(d) > 255 {
		return false
	}
	if d[0] == '[' {
		if len(d) < 3 || d[len(d)-1] != ']' {
			return false
		}
		return validLiteral(d[1 : len(d)-1])
	}
	for _, label := range strings.Split(d, ".") {
		if label == "" {
			return false
		}
		for i := 0; i < len(label); i++ {
			c := label[i]
			if c < 0x80 && c != '-' && c != '_' && !(c >= '0' && c <= '9') &&
				!(c >= 'a' && c <= 'z') && !(c >= 'A' && c <= 'Z') {
				return false
			}
		}
	}
	return true
}

// validLiteral reports whether lit (without its brackets) is an address
// literal relayd passes on: IPv4, "IPv6:" and an IPv6 address, or a
// General-address-literal (RFC 5321 §4.1.3) of a tag, ':' and letters,
// digits, '.', '-' and ':'. RFC 5321's dcontent would also allow '"',
// '<', '>' and more, which servers cannot be trusted to read as part of
// the path (a '>' would end it early).
func validLiteral(lit string) bool {
	if a, err := netip.ParseAddr(lit); err == nil {
		return a.Is4()
	}
	tag, content, ok := strings.Cut(lit, ":")
	if !ok || tag == "" || content == "" {
		return false
	}
	if strings.EqualFold(tag, "IPv6") {
		a, err := netip.ParseAddr(content)
		return err == nil && a.Is6() && a.Zone() == ""
	}
	for i := 0; i < len(lit); i++ {
		c := lit[i]
		if !(c >= '0' && c <= '9') && !(c >= 'a' && c <= 'z') && !(c >= 'A' && c <= 'Z') &&
			c != '.' && c != '-' && c != ':' {
			return false
		}
	}
	return tag[len(tag)-1] != '-'
}
