// Package wiretest holds reference implementations that tests of the wire
// layer (relay/smtpwire) and of relay compare smtpwire's results with.
// They are written for clarity, not speed, and are used only by tests.
package wiretest

import "strconv"

// UnstuffReference is the end of DATA and the removal of stuffed dots
// written line by line from RFC 5321 (§2.3.8, §4.1.1.4, §4.5.2), the
// reference for unstuffer: the input is cut into lines at CRLF, bare CR and
// bare LF; a line "." that ends with CRLF and begins after a CRLF (or at
// the start) ends the data; a line that starts with "." and has more octets
// loses the "."; everything else is kept. A last line whose fate depends on
// octets not given (a "." or ".\r" alone) is not emitted.
func UnstuffReference(in []byte) (out []byte, consumed int, end bool) {
	afterCRLF := true
	for i := 0; i < len(in); {
		j := i
		for j < len(in) && in[j] != '\r' && in[j] != '\n' {
			j++
		}
		line := in[i:j]
		if j == len(in) || (in[j] == '\r' && j+1 == len(in)) { // the end is not known yet
			if string(line) == "." {
				return out, len(in), false
			}
			if len(line) > 1 && line[0] == '.' {
				line = line[1:]
			}
			return append(append(out, line...), in[j:]...), len(in), false
		}
		eol := in[j : j+1]
		if in[j] == '\r' && in[j+1] == '\n' {
			eol = in[j : j+2]
		}
		if string(line) == "." && string(eol) == "\r\n" && afterCRLF {
			return out, j + 2, true
		}
		if len(line) > 1 && line[0] == '.' {
			line = line[1:]
		}
		out = append(append(out, line...), eol...)
		afterCRLF = string(eol) == "\r\n"
		i = j + len(eol)
	}
	return out, len(in), false
}

// Lines is at least n octets of CRLF lines, every seventh starting with a
// dot: a message body to send (dot-stuffed) through DATA.
func Lines(n int) string {
	var b []byte
	for i := 0; len(b) < n; i++ {
		if i%7 == 0 {
			b = append(b, ".dot at the start of line "+strconv.Itoa(i)+"\r\n"...)
		}
		b = append(b, "line "+strconv.Itoa(i)+" of the message, with some text to fill it up\r\n"...)
	}
	return string(b)
}
