package policy

import (
	"unicode"
	"unicode/utf8"
)

// Match reports whether s matches glob. '*' matches any run of characters
// (including none), '?' exactly one character (one UTF-8 rune; an invalid
// byte counts as one), and every other character matches itself under
// Unicode simple case folding, as strings.EqualFold does. There are no other
// metacharacters and no escapes. The empty glob matches anything, so an unset
// [[route]] field does not restrict the rule.
//
// Match never backtracks further than the most recent '*', so it runs in
// O(len(glob)*len(s)) time at worst and allocates nothing: a hostile glob
// such as "*a*a*a*a*b" or a hostile address cannot make it exponential.
func Match(glob, s string) bool {
	if glob == "" {
		return true
	}
	// gi, si: current positions. starG, starS: where to resume after the
	// most recent '*' when the literal run after it fails to match: the
	// star then swallows one more rune of s. Earlier stars never need to be
	// revisited, because the latest star can absorb anything they could.
	gi, si := 0, 0
	starG, starS := -1, 0
	for gi < len(glob) || si < len(s) {
		if gi < len(glob) {
			g, gw := utf8.DecodeRuneInString(glob[gi:])
			switch g {
			case '*':
				starG, starS = gi, si
				gi += gw
				continue
			case '?':
				if si < len(s) {
					_, sw := utf8.DecodeRuneInString(s[si:])
					gi, si = gi+gw, si+sw
					continue
				}
			default:
				if si < len(s) {
					c, sw := utf8.DecodeRuneInString(s[si:])
					if foldEq(g, c) {
						gi, si = gi+gw, si+sw
						continue
					}
				}
			}
		}
		if starG < 0 || starS >= len(s) {
			return false
		}
		_, sw := utf8.DecodeRuneInString(s[starS:])
		starS += sw
		gi, si = starG+1, starS
	}
	return true
}

// foldEq reports whether a and b are equal under Unicode simple case folding
// (the relation strings.EqualFold and regexp's (?i) use).
func foldEq(a, b rune) bool {
	if a == b {
		return true
	}
	if a < utf8.RuneSelf && b < utf8.RuneSelf {
		return lowerASCII(a) == lowerASCII(b)
	}
	for r := unicode.SimpleFold(a); r != a; r = unicode.SimpleFold(r) {
		if r == b {
			return true
		}
	}
	return false
}

func lowerASCII(r rune) rune {
	if 'A' <= r && r <= 'Z' {
		return r + 'a' - 'A'
	}
	return r
}
