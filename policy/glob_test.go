package policy

import (
	"strings"
	"testing"
)

func TestMatch(t *testing.T) {
	tests := []struct {
		glob, s string
		want    bool
	}{
		{"", "", true},
		{"", "anything@example.com", true},
		{"*", "", true},
		{"*", "a@b", true},
		{"?", "", false},
		{"?", "a", true},
		{"?", "ab", false},
		{"?", "ö", true}, // one rune, two bytes
		{"a@b", "a@b", true},
		{"a@b", "a@bc", false},
		{"a@b", "xa@b", false},
		{"*@example.com", "user@example.com", true},
		{"*@example.com", "User@EXAMPLE.COM", true},
		{"*@EXAMPLE.com", "user@example.com", true},
		{"*@example.com", "user@example.org", false},
		{"*@example.com", "user@sub.example.com", false},
		{"*@*.example.com", "user@sub.example.com", true},
		{"*example.com", "user@sub.example.com", true},
		{"billing-??@example.com", "billing-01@example.com", true},
		{"billing-??@example.com", "billing-1@example.com", false},
		{"billing-??@example.com", "billing-123@example.com", false},
		{"a*b*c", "abc", true},
		{"a*b*c", "aXbYc", true},
		{"a*b*c", "aXbYcZ", false},
		{"a*b*c", "acb", false},
		{"**", "x", true},
		{"*?", "", false},
		{"*?", "x", true},
		{"*a", "aaaa", true},
		{"*ab", "aab", true},
		{"vip@*", "vip@", true},
		{"vip@*", "vi@", false},
		{"[a-z]@x", "a@x", false}, // no character classes: '[' is literal
		{"[a-z]@x", "[A-Z]@X", true},
		{`a\*`, `a\bc`, true}, // no escapes: '\' is literal
		{"a.b", "aXb", false}, // '.' is literal
		{"JÖRG@*", "jörg@example.com", true},
		{"k@x", "\u212a@x", true}, // Kelvin sign folds to k, as in strings.EqualFold
		{"straße@*", "STRASSE@x", false},
		{"*", "\xff\xfe", true},
		{"?", "\xff", true},
		{"a?b", "a\xffb", true},
	}
	for _, tt := range tests {
		if got := Match(tt.glob, tt.s); got != tt.want {
			t.Errorf("Match(%q, %q) = %v, want %v", tt.glob, tt.s, got, tt.want)
		}
	}
}

// TestMatchHostile runs patterns that make naive recursive matchers
// exponential. It is not timed: a backtracking implementation would simply
// never finish within the test timeout.
func TestMatchHostile(t *testing.T) {
	as := strings.Repeat("a", 10000)
	tests := []struct {
		glob, s string
		want    bool
	}{
		{"*a*a*a*a*a*a*a*b", as, false},
		{"*a*a*a*a*a*a*a*a", as, true},
		{strings.Repeat("*a", 100) + "b", as, false},
		{strings.Repeat("a*", 100) + "b", as, false},
		{strings.Repeat("?", 10001), as, false},
		{strings.Repeat("*?", 5000), as, true},
		// The quadratic worst case: every position of s starts a long
		// partial match of the literal run after the star.
		{"*" + as[:1000] + "b", as[:3000], false},
	}
	for _, tt := range tests {
		if got := Match(tt.glob, tt.s); got != tt.want {
			t.Errorf("Match(%.20q..., %.20q...) = %v, want %v", tt.glob, tt.s, got, tt.want)
		}
	}
}
