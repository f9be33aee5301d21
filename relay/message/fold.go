package message

import "bytes"

// Line length limits of RFC 5322 2.1.1, in octets without CRLF.
const (
	maxLine  = 998 // MUST
	softLine = 78  // SHOULD
)

// fold folds one unfolded header line (no CRLF) at whitespace so that each
// line is at most 78 octets where whitespace allows, and at most 998
// always (RFC 5322 2.2.3: CRLF is inserted before a WSP, which stays).
// Folds only happen after offset after (just after the field's colon, so the
// name and "name:" stay on the first line). A run of more than 998 octets
// without whitespace cannot be folded; it is broken at 998 (at a UTF-8
// character start) with CRLF SP, which inserts one space into the value:
// the only way to keep the line limit. The result ends in CRLF. The work
// is linear in len(line).
func fold(line []byte, after int) []byte {
	out := make([]byte, 0, len(line)+len(line)/softLine*3+2)
	last := len(bytes.TrimRight(line, " \t")) // fold points must be < last
	start, pad := 0, 0                        // current output line: pad spaces + line[start:]
	for pad+len(line)-start > softLine {
		p := foldPoint(line, start, max(after, start), last, pad)
		if p < 0 {
			if pad+len(line)-start <= maxLine {
				break
			}
			p = start + hardBreak(line[start:], maxLine-pad)
			out = append(append(out, line[start:p]...), '\r', '\n', ' ')
			start, pad = p, 1
			continue
		}
		out = append(append(out, line[start:p]...), '\r', '\n')
		start, pad = p, 0
	}
	out = append(out, line[start:]...)
	return append(out, '\r', '\n')
}

// foldPoint returns where to insert CRLF in the output line pad+line[start:]:
// at a WSP that follows a non-WSP octet (so no line ends in WSP or is all
// WSP), after offset after, before last (so a non-WSP octet follows). It prefers
// the last such point within 78 octets, else the first within 998; -1 if
// none.
func foldPoint(line []byte, start, after, last, pad int) int {
	best := -1
	end := min(last, start+maxLine-pad+1)
	for p := after + 1; p < end; p++ {
		if !isWSP(line[p]) || isWSP(line[p-1]) {
			continue
		}
		if pad+p-start <= softLine {
			best = p
			continue
		}
		if best >= 0 {
			return best
		}
		return p
	}
	return best
}

// hardBreak returns a cut point at most n that does not split a UTF-8
// sequence (it backs off over at most three continuation octets).
func hardBreak(b []byte, n int) int {
	p := n
	for i := 0; i < 3 && p > 1 && b[p]&0xC0 == 0x80; i++ {
		p--
	}
	return p
}

func isWSP(c byte) bool { return c == ' ' || c == '\t' }

// foldLong refolds the physical lines of raw (a field with CRLFs) that are
// longer than 998 octets and reports whether it changed anything. Shorter
// lines are kept as they are.
func foldLong(raw []byte) ([]byte, bool) {
	if !hasLongLine(raw) {
		return raw, false
	}
	var out []byte
	first := true
	for rest := raw; len(rest) > 0; {
		line, next := cutLine(rest)
		rest = next
		after := 0
		if first {
			after = bytes.IndexByte(line, ':') + 1
			first = false
		}
		if len(line) > maxLine {
			out = append(out, fold(line, after)...)
			continue
		}
		out = append(append(out, line...), '\r', '\n')
	}
	return out, true
}

// hasLongLine reports whether b has a line over 998 octets (a last line
// without CRLF counts too).
func hasLongLine(b []byte) bool {
	for len(b) > maxLine {
		i := bytes.IndexByte(b, '\n')
		if i < 0 {
			return len(b) > maxLine
		}
		n := i
		if n > 0 && b[n-1] == '\r' {
			n--
		}
		if n > maxLine {
			return true
		}
		b = b[i+1:]
	}
	return false
}
