package sendmail

import (
	"net/mail"
	"strconv"
	"strings"
)

// Mode is what the invocation does.
type Mode int

// Modes (-bm, -bs, -bp).
const (
	ModeDeliver Mode = iota // -bm, the default: read a message from standard input and submit it
	ModeSMTP                // -bs: SMTP on standard input and output, proxied to the daemon
	ModeQueue               // -bp, or run as mailq: print the queue
)

// Options is a parsed sendmail command line.
type Options struct {
	Mode       Mode
	Sender     string // -f / -r, as given without <>; valid only when SenderSet
	SenderSet  bool
	FullName   string   // -F: display name of the From: field added when the message has none
	Extract    bool     // -t: recipients also from To:, Cc: and Bcc:
	IgnoreDots bool     // -i / -oi: a line with a single dot is data, not the end
	Recipients []string // arguments, split at commas
	Config     string   // -config PATH (relayd's own flag)
	Help       bool     // -h, -help or --help: print the usage and do nothing else
}

// Flags that take a value, attached (-FCronDaemon) or separate (-f root),
// as sendmail's and Postfix's getopt strings have them.
const valueFlags = "bBfrFLo"

// ParseArgs parses sendmail's arguments (without the program name), the
// way getopt does: single-letter flags may be grouped (-ti), a value may be
// attached or the next argument, flags and recipients may be mixed, and
// "--" ends the flags. relayd's -config PATH is accepted too. An unknown
// flag is an *Error with ExitUsage naming it.
func ParseArgs(args []string) (*Options, error) {
	o := &Options{}
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "--":
			for _, r := range args[i+1:] {
				o.Recipients = append(o.Recipients, SplitRecipients(r)...)
			}
			return o, nil
		case a == "-h" || a == "-help" || a == "--help":
			o.Help = true
			continue
		case a == "-config" || a == "--config":
			if i+1 >= len(args) {
				return nil, errorf(ExitUsage, "flag %s needs a value: the config file", a)
			}
			i++
			o.Config = args[i]
			continue
		case strings.HasPrefix(a, "-config=") || strings.HasPrefix(a, "--config="):
			o.Config = a[strings.IndexByte(a, '=')+1:]
			continue
		case len(a) < 2 || a[0] != '-':
			o.Recipients = append(o.Recipients, SplitRecipients(a)...)
			continue
		}
		used, err := o.cluster(a, args[i+1:])
		if err != nil {
			return nil, err
		}
		i += used
	}
	return o, nil
}

// cluster parses one argument of grouped flags, "-ti" or "-f" with its
// value; it returns how many of the following arguments it consumed.
func (o *Options) cluster(a string, next []string) (int, error) {
	for j := 1; j < len(a); j++ {
		c := a[j]
		if strings.IndexByte(valueFlags, c) < 0 {
			switch c {
			case 't':
				o.Extract = true
			case 'i':
				o.IgnoreDots = true
			case 'v': // verbose: no effect
			default:
				return 0, errorf(ExitUsage, "unknown flag %s: relayd sendmail does not support it", quoteFlag("-"+a[j:j+1]))
			}
			continue
		}
		val, used := a[j+1:], 0
		if val == "" {
			if len(next) == 0 {
				return 0, errorf(ExitUsage, "flag -%c needs a value", c)
			}
			val, used = next[0], 1
		}
		return used, o.value(c, val)
	}
	return 0, nil
}

// value applies flag c with its value.
func (o *Options) value(c byte, val string) error {
	switch c {
	case 'b':
		switch val {
		case "m":
			o.Mode = ModeDeliver
		case "s":
			o.Mode = ModeSMTP
		case "p":
			o.Mode = ModeQueue
		default:
			return errorf(ExitUsage, "unknown flag %s: relayd sendmail supports -bm, -bs and -bp", quoteFlag("-b"+val))
		}
	case 'B':
		switch strings.ToUpper(val) {
		case "8BITMIME", "7BIT", "MIME": // the daemon takes 8-bit mail as it comes
		default:
			return errorf(ExitUsage, "unknown flag %s: relayd sendmail supports -B8BITMIME and -BMIME", quoteFlag("-B"+val))
		}
	case 'f', 'r':
		// "addr", "<addr>", "<>" or "Name <addr>": the address only.
		o.Sender, o.SenderSet = strings.TrimSpace(val), true
		if i := strings.LastIndexByte(o.Sender, '<'); i >= 0 && strings.HasSuffix(o.Sender, ">") {
			o.Sender = strings.TrimSpace(o.Sender[i+1 : len(o.Sender)-1])
		}
	case 'F':
		o.FullName = strings.TrimSpace(val)
	case 'L': // syslog tag: no effect
	case 'o':
		// -oi is the only -o option with an effect; -odi, -oem, -oep and
		// any other are accepted without one (docs/relayd.8.md).
		if val == "i" {
			o.IgnoreDots = true
		}
	}
	return nil
}

// quoteFlag shows a flag in a message, quoted when it holds anything but
// printable ASCII.
func quoteFlag(f string) string {
	for i := 0; i < len(f); i++ {
		if f[i] <= ' ' || f[i] >= 0x7f || f[i] == '"' {
			return strconv.Quote(f)
		}
	}
	return f
}

// SplitRecipients splits one recipient argument or header value into
// addresses: RFC 5322 address lists ("Ann <a@x>, b@y") and the bare
// comma- or space-separated lists scripts pass. It never fails: what is
// not an address list is split at commas, and the part between < and > is
// taken when there is one. Empty parts are dropped.
func SplitRecipients(s string) []string {
	if strings.TrimSpace(s) == "" {
		return nil
	}
	if list, err := mail.ParseAddressList(s); err == nil {
		out := make([]string, 0, len(list))
		for _, a := range list {
			// String re-quotes a local part that needs it ("a b"@x).
			q := (&mail.Address{Address: a.Address}).String()
			out = append(out, strings.TrimSuffix(strings.TrimPrefix(q, "<"), ">"))
		}
		return out
	}
	var out []string
	for _, part := range splitOutsideQuotes(dropComments(s)) {
		if i := strings.LastIndexByte(part, '<'); i >= 0 {
			part, _, _ = strings.Cut(part[i+1:], ">")
		}
		out = append(out, strings.Fields(part)...)
	}
	return out
}

// dropComments removes (comments) outside quotes, nested or not.
func dropComments(s string) string {
	var b strings.Builder
	depth, quoted := 0, false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '\\' && i+1 < len(s):
			if depth == 0 {
				b.WriteByte(c)
				b.WriteByte(s[i+1])
			}
			i++
			continue
		case c == '"' && depth == 0:
			quoted = !quoted
		case c == '(' && !quoted:
			depth++
			continue
		case c == ')' && !quoted && depth > 0:
			depth--
			b.WriteByte(' ')
			continue
		}
		if depth == 0 {
			b.WriteByte(c)
		}
	}
	return b.String()
}

// splitOutsideQuotes splits at commas that are not inside "quotes".
func splitOutsideQuotes(s string) []string {
	var out []string
	quoted, start := false, 0
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '\\':
			i++
		case '"':
			quoted = !quoted
		case ',':
			if !quoted {
				out = append(out, s[start:i])
				start = i + 1
			}
		}
	}
	return append(out, s[min(start, len(s)):])
}
