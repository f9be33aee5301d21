package policy

import (
	"strconv"
	"strings"
)

// Quota replies (quota_replies in docs/relayd.toml.5.md): an upstream's answer that the account's
// sending quota is exhausted. Whatever its code, it is temporary: the
// recipient is deferred, never bounced, and relay pauses the profile. The
// decision lives here, not in upstream's Error, because it depends on the
// profile's configuration (quota_replies) and on what relay does about it
// (a pause); upstream keeps reporting what the wire said.

// BuiltinQuotaReplies are the quota replies relayd knows without
// configuration, as patterns (see QuotaReply). Microsoft's 554 5.2.0 is a
// quota reply only when its text names the quota (quotaWords).
var BuiltinQuotaReplies = []string{
	"550 5.4.5", // Gmail: "Daily user sending limit exceeded"
	"421 4.7.0", // throttling ("Try again later")
	"451 4.7.0", // throttling
}

// quotaWords make a 554 5.2.0 of Microsoft 365 a quota reply.
var quotaWords = []string{"submissionquotaexceeded", "recipientratelimitexceeded"}

// QuotaReply reports whether the SMTP reply code, enhanced status code
// ("5.4.5", "" when none) and text say that the account's sending quota is
// exhausted: a built-in quota reply, or one that starts with one of extra
// (the profile's quota_replies). A pattern matches the reply rendered as
// "CODE ENHANCED TEXT" (runs of white space as one space) that starts with
// it, case-insensitively; a pattern ending in a digit does not match a
// longer number ("550 5.4.5" does not match "550 5.4.50"). A reply without
// a code (a network error) is never a quota reply.
func QuotaReply(code int, enhanced, text string, extra []string) bool {
	if code <= 0 {
		return false
	}
	reply := renderReply(code, enhanced, text)
	if code == 554 && enhanced == "5.2.0" {
		t := strings.ToLower(text)
		for _, w := range quotaWords {
			if strings.Contains(t, w) {
				return true
			}
		}
	}
	for _, list := range [][]string{BuiltinQuotaReplies, extra} {
		for _, p := range list {
			if replyStartsWith(reply, p) {
				return true
			}
		}
	}
	return false
}

func renderReply(code int, enhanced, text string) string {
	parts := []string{strconv.Itoa(code)}
	if enhanced != "" {
		parts = append(parts, enhanced)
	}
	parts = append(parts, strings.Fields(text)...)
	return strings.ToLower(strings.Join(parts, " "))
}

func replyStartsWith(reply, pattern string) bool {
	p := strings.ToLower(strings.Join(strings.Fields(pattern), " "))
	if p == "" || !strings.HasPrefix(reply, p) {
		return false
	}
	if len(reply) > len(p) && isDigit(p[len(p)-1]) && isDigit(reply[len(p)]) {
		return false
	}
	return true
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }
