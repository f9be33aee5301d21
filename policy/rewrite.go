package policy

import (
	"mime"
	"net/mail"
	"strings"
)

// addrParser parses header addresses. Its word decoder knows windows-1252
// and ISO-8859-15 besides net/mail's UTF-8, ISO-8859-1 and US-ASCII.
var addrParser = mail.AddressParser{WordDecoder: &mime.WordDecoder{CharsetReader: charsetReader}}

// FieldError is Rewrite.Validate's error: the TOML key of the profile whose
// value is wrong, and why.
type FieldError struct {
	Key string // "from_address", "rewrite_header_from", "default_sender_name" or "default_reply_to"
	Msg string
}

// Error implements error.
func (e *FieldError) Error() string { return e.Key + ": " + e.Msg }

// Validate reports the first setting Headers and Envelope could not use:
// from_address must be one bare address (user@example.com, it becomes MAIL
// FROM), rewrite_header_from needs from_address, default_sender_name must
// have no control characters, and default_reply_to must be an address list.
// The config loader calls it for every (resolved) profile; a Rewrite that was
// not validated is still safe to use: what cannot be used is skipped.
func (rw Rewrite) Validate() error {
	if rw.FromAddress != "" {
		a, err := addrParser.Parse(rw.FromAddress)
		if err != nil || a.Name != "" || a.Address != strings.TrimSpace(rw.FromAddress) {
			return &FieldError{"from_address", "not a plain address like user@example.com: " + rw.FromAddress}
		}
	}
	if rw.RewriteHeaderFrom && rw.FromAddress == "" {
		return &FieldError{"rewrite_header_from", "needs from_address"}
	}
	if strings.ContainsFunc(rw.DefaultSenderName, isControl) {
		return &FieldError{"default_sender_name", "contains a control character"}
	}
	if rw.DefaultReplyTo != "" {
		if _, err := addrParser.ParseList(rw.DefaultReplyTo); err != nil {
			return &FieldError{"default_reply_to", "not an address list: " + err.Error()}
		}
	}
	return nil
}

func isControl(r rune) bool { return r < ' ' || r == 0x7f }

// Envelope returns the MAIL FROM to use for sender: FromAddress when it is
// set, else sender unchanged. The null sender "" is never rewritten: it marks
// a DSN, which must keep the null reverse-path so that a bounce of a bounce
// cannot loop (RFC 5321 §4.5.5, RFC 3464).
func (rw Rewrite) Envelope(sender string) string {
	if rw.FromAddress == "" || sender == "" {
		return sender
	}
	return rw.FromAddress
}

// Headers returns the header edits of rw for a message whose fields are read
// through get (the unfolded values of every field of that name, in order;
// nil when there is none). The edits are, in order:
//
//   - FromAddress with RewriteHeaderFrom: From is set to FromAddress, keeping
//     the original display name, else DefaultSenderName. The original From
//     is added as Reply-To unless the message has a Reply-To, so replies
//     still reach the real sender. A From that already is FromAddress is not
//     moved to Reply-To. A message without From gets one.
//   - DefaultSenderName: a From without display name gets it.
//   - DefaultReplyTo: added when the message has no Reply-To and none was
//     added above.
//
// Values are re-formatted from the parsed addresses (net/mail): display names
// are quoted, non-ASCII ones become RFC 2047 encoded-words, and no value ever
// contains CR or LF, whatever get returns. A From that is not exactly one
// parsable mailbox (none, several fields, a group, garbage, an unknown
// charset) is left alone: no From or Reply-To edit, never an error, because
// losing a message is worse than not rewriting it. Headers allocates; it does
// not modify anything it is given.
func (rw Rewrite) Headers(get func(name string) []string) []Edit {
	var edits []Edit
	hasReplyTo := len(get("Reply-To")) > 0
	if from, orig, ok := rw.fromEdit(get("From")); ok {
		edits = append(edits, Edit{Op: EditSet, Name: "From", Value: from})
		if orig != "" && !hasReplyTo {
			edits = append(edits, Edit{Op: EditAdd, Name: "Reply-To", Value: orig})
			hasReplyTo = true
		}
	}
	if !hasReplyTo && rw.DefaultReplyTo != "" {
		if list, err := addrParser.ParseList(rw.DefaultReplyTo); err == nil && len(list) > 0 {
			edits = append(edits, Edit{Op: EditAdd, Name: "Reply-To", Value: formatList(list)})
		}
	}
	return edits
}

// fromEdit decides the new From value. orig is the formatted original From
// when it was replaced by FromAddress (it becomes the Reply-To), else "".
func (rw Rewrite) fromEdit(froms []string) (from, orig string, ok bool) {
	var old *mail.Address // nil: the message has no From
	switch len(froms) {
	case 0:
	case 1:
		a, err := addrParser.Parse(froms[0])
		if err != nil {
			return "", "", false
		}
		old = a
	default: // RFC 5322 §3.6 allows one From; relay refuses more, be safe anyway
		return "", "", false
	}
	name := strings.TrimSpace(rw.DefaultSenderName)
	if old != nil && strings.TrimSpace(old.Name) != "" {
		name = old.Name
	}
	if rw.RewriteHeaderFrom && rw.FromAddress != "" {
		if fa, err := addrParser.Parse(rw.FromAddress); err == nil {
			if old == nil || !strings.EqualFold(old.Address, fa.Address) {
				from = (&mail.Address{Name: name, Address: fa.Address}).String()
				if old != nil {
					orig = old.String()
				}
				return from, orig, true
			}
		}
	}
	if old == nil || name == "" || name == old.Name {
		return "", "", false
	}
	return (&mail.Address{Name: name, Address: old.Address}).String(), "", true
}

// formatList formats addresses as an RFC 5322 address-list on one line.
func formatList(list []*mail.Address) string {
	parts := make([]string, len(list))
	for i, a := range list {
		parts[i] = a.String()
	}
	return strings.Join(parts, ", ")
}
