package relay

import "strings"

// sameAddress reports whether two envelope addresses name the same
// mailbox: the domain compared case-insensitively, the local part exactly
// (RFC 5321 2.4: a local part may be case-sensitive; only its host knows).
// Both are addresses checkAddress accepted.
func sameAddress(a, b string) bool {
	i, j := strings.LastIndexByte(a, '@'), strings.LastIndexByte(b, '@')
	if i < 0 || j < 0 {
		return a == b
	}
	return i == j && a[:i] == b[:j] && strings.EqualFold(a[i+1:], b[j+1:])
}

// hasRecipient reports whether to is already a recipient of the open
// transaction (each address is delivered once).
func (s *session) hasRecipient(to string) bool {
	for _, r := range s.rcpts {
		if sameAddress(r, to) {
			return true
		}
	}
	return false
}

// literalOnDirect reports whether to has an address-literal domain
// ("x@[127.0.0.1]", "x@[IPv6:::1]") and is routed to a type "direct"
// profile, which relayd refuses at RCPT with 550 5.1.2: direct
// delivery finds mail hosts by the domain's MX, and a literal would let a
// local client choose any host, internal ones included, for relayd to
// connect to.
func (gen *generation) literalOnDirect(to, profile string) bool {
	if !strings.HasSuffix(to, "]") || !strings.Contains(to, "@[") {
		return false
	}
	p, ok := gen.cfg.Profiles[profile]
	return ok && p.Upstream.Type == "direct"
}
