package policy

import (
	"regexp"
	"strings"
	"testing"
	"unicode/utf8"
)

// globRegexp is FuzzMatch's reference: the glob translated to a regexp.
// Go's regexp is linear time, folds case like strings.EqualFold under (?i),
// and (?s) lets '.' match a newline as '?' does.
func globRegexp(glob string) *regexp.Regexp {
	var b strings.Builder
	b.WriteString(`(?is)\A`)
	for _, r := range glob {
		switch r {
		case '*':
			b.WriteString(".*")
		case '?':
			b.WriteString(".")
		default:
			b.WriteString(regexp.QuoteMeta(string(r)))
		}
	}
	b.WriteString(`\z`)
	return regexp.MustCompile(b.String())
}

// FuzzMatch compares Match with the regexp reference. Inputs that are not
// valid UTF-8 only have to not panic: regexp refuses such patterns.
func FuzzMatch(f *testing.F) {
	f.Add("*@example.com", "user@EXAMPLE.com")
	f.Add("a*b?c", "axxbyc")
	f.Add("", "anything")
	f.Fuzz(func(t *testing.T, glob, s string) {
		got := Match(glob, s)
		if !utf8.ValidString(glob) || !utf8.ValidString(s) {
			return
		}
		want := glob == "" || globRegexp(glob).MatchString(s)
		if got != want {
			t.Errorf("Match(%q, %q) = %v, reference says %v", glob, s, got, want)
		}
	})
}

// FuzzRewriteHeaders feeds arbitrary header values and settings to Headers:
// it must not panic, and no edit may carry a CR or LF (a header injection).
func FuzzRewriteHeaders(f *testing.F) {
	f.Add("Alice <alice@x.example>", "", "system@example.com", true, "Sales", "help@example.com")
	f.Add("=?utf-8?q?J=C3=B6rg?= <j@x.example>", "r@x.example", "", false, "Jörg", "")
	f.Fuzz(func(t *testing.T, from, replyTo, fromAddress string, rewrite bool, name, defReplyTo string) {
		var kv []string
		if from != "" {
			kv = append(kv, "From", from)
		}
		if replyTo != "" {
			kv = append(kv, "Reply-To", replyTo)
		}
		rw := Rewrite{FromAddress: fromAddress, RewriteHeaderFrom: rewrite, DefaultSenderName: name, DefaultReplyTo: defReplyTo}
		for _, e := range rw.Headers(fields(kv...)) {
			if strings.ContainsAny(e.Value, "\r\n") {
				t.Errorf("edit %+v carries CR or LF", e)
			}
			if e.Name != "From" && e.Name != "Reply-To" {
				t.Errorf("edit %+v of an unexpected field", e)
			}
		}
		if env := rw.Envelope(from); from == "" && env != "" {
			t.Errorf("null sender rewritten to %q", env)
		}
	})
}
