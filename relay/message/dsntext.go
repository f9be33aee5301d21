package message

import (
	"fmt"
	"strings"
)

// explainDSN writes the human-readable first part of a DSN: what happened,
// to which recipient, with the upstream's own words, in plain language
// (say what happened and what to do).
func explainDSN(info DSNInfo) string {
	var failed, delayed []DSNRecipient
	for _, r := range info.Recipients {
		if strings.EqualFold(r.Action, "delayed") {
			delayed = append(delayed, r)
		} else {
			failed = append(failed, r)
		}
	}
	var b strings.Builder
	fmt.Fprintf(&b, "This is the mail system at host %s.\n\n", info.ReportingMTA)
	if len(failed) > 0 {
		b.WriteString("Your message could not be delivered to the following recipients. " +
			"Delivery to them has been given up; check the addresses and the reasons below " +
			"before sending again.\n\n")
		for _, r := range failed {
			fmt.Fprintf(&b, "  <%s>: %s\n", r.Address, reason(r))
		}
		b.WriteString("\n")
	}
	if len(delayed) > 0 {
		b.WriteString("Your message has not been delivered yet to the following recipients. " +
			"It is still being retried; you do not need to send it again. " +
			"You will be told if it finally fails.\n\n")
		for _, r := range delayed {
			fmt.Fprintf(&b, "  <%s>: %s", r.Address, reason(r))
			if !r.WillRetryUntil.IsZero() {
				fmt.Fprintf(&b, " (retrying until %s)", dsnDate(r.WillRetryUntil))
			}
			b.WriteString("\n")
		}
		b.WriteString("\n")
	}
	b.WriteString("The delivery report and the header of your message are attached.\n")
	if info.QueueID != "" {
		fmt.Fprintf(&b, "Queue ID: %s\n", info.QueueID)
	}
	return b.String()
}

// reason is the best one-line account of a recipient's result.
func reason(r DSNRecipient) string {
	s := r.DiagnosticCode
	if i := strings.IndexByte(s, ';'); i >= 0 {
		s = strings.TrimSpace(s[i+1:])
	}
	if s == "" {
		s = "status " + r.Status
	}
	if r.RemoteMTA != "" {
		host := r.RemoteMTA
		if i := strings.IndexByte(host, ';'); i >= 0 {
			host = strings.TrimSpace(host[i+1:])
		}
		s = "host " + host + " said: " + s
	}
	return sanitizeValue(s)
}

// encodeText turns free text into a text/plain body: CRLF line endings,
// lines word-wrapped at 76 octets. It returns "7bit" when that is pure
// ASCII within the 998-octet limit, and quoted-printable otherwise.
func encodeText(s string) ([]byte, string) {
	s = strings.ReplaceAll(s, "\x00", "")
	s = strings.ReplaceAll(s, "\r\n", "\n")
	s = strings.ReplaceAll(s, "\r", "\n")
	s = strings.TrimRight(s, "\n")
	var b []byte
	for _, line := range strings.Split(s, "\n") {
		for _, l := range wrapWords(line, qpLine) {
			b = append(append(b, l...), '\r', '\n')
		}
	}
	if !hasHighBit(b) && !hasLongLine(b) {
		return b, "7bit"
	}
	qp, err := encodeQP(b, false)
	if err != nil { // cannot happen with a bytes.Buffer
		return b, "8bit"
	}
	return qp, "quoted-printable"
}

// wrapWords breaks a line at spaces into lines of at most width octets
// where possible; a longer word stays whole. Continuation lines of an
// indented line are indented two more spaces (list items stay readable).
func wrapWords(line string, width int) []string {
	lead := len(line) - len(strings.TrimLeft(line, " "))
	indent := ""
	if lead > 0 && lead < width/2 {
		indent = strings.Repeat(" ", lead+2)
	}
	var out []string
	for len(line) > width {
		lead := len(line) - len(strings.TrimLeft(line, " "))
		i := strings.LastIndexByte(line[:width+1], ' ')
		if i < lead {
			j := strings.IndexByte(line[lead:], ' ')
			if j < 0 {
				break
			}
			i = lead + j
		}
		out = append(out, strings.TrimRight(line[:i], " "))
		line = indent + strings.TrimLeft(line[i:], " ")
	}
	return append(out, strings.TrimRight(line, " "))
}
