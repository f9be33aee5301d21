package smtpwire

import "bytes"

// unstuffer undoes RFC 5321 §4.5.2 transparency and finds the end of DATA.
// It is written from the RFC, not from go-smtp's DATA reader (whose
// stateDotCR drops a "." and a CR that are message content):
//
//   - mail data is a sequence of lines; a line ends with CRLF (RFC 5321
//     §2.3.8) or, in what relayd receives, with a bare CR (one not followed
//     by LF) or a bare LF (one not after a CR), which bare_lf later refuses
//     or turns into CRLF;
//   - the end of data is a line of just "." that ends with CRLF and begins
//     after a CRLF (or at the start of DATA): CRLF "." CRLF, and nothing
//     else (§4.1.1.4). It is not part of the message;
//   - a line that begins with "." and has other octets before its end loses
//     that first "." (§4.5.2); any other line, a lone "." ended by a bare
//     CR or LF included, is kept as is, line end and all.
//
// So "body\r\n.\rX\r\n" keeps its ".": normalised, its lines are "body",
// ".", "X", and the "." is dot-stuffed again on the way out.
//
// It copies whole stretches between line ends (FuzzUnstuff holds it to a
// line-at-a-time reference written from the same rules).
type unstuffer struct {
	state unstuffState
	bare  bool // the current line began after a bare CR or LF
}

type unstuffState uint8

const (
	usBeginLine unstuffState = iota // start of a line; the initial state
	usDot                           // "." at the start of a line, not yet emitted
	usDotCR                         // ".\r" at the start of a line, not yet emitted
	usCR                            // a CR (emitted) that may end the line
	usData                          // inside a line
)

// feed appends the message octets of in to out. It returns out, how many
// octets of in it consumed and whether they ended with the end-of-data line
// (nothing of in after that line is consumed). A "." or ".\r" at the start
// of a line whose fate depends on octets not yet received is held in the
// state and emitted by a later feed.
func (u *unstuffer) feed(out, in []byte) ([]byte, int, bool) {
	i := 0
	for i < len(in) {
		if u.state == usData {
			j := indexLineEnd(in[i:])
			if j < 0 {
				return append(out, in[i:]...), len(in), false
			}
			out = append(out, in[i:i+j+1]...)
			i += j + 1
			if in[i-1] == '\r' {
				u.state = usCR
			} else {
				u.state, u.bare = usBeginLine, true // a bare LF
			}
			continue
		}
		c := in[i]
		i++
		switch u.state {
		case usBeginLine:
			u.beginLine(c)
			if c == '.' {
				continue
			}
		case usDot:
			switch c {
			case '\r':
				u.state = usDotCR
				continue
			case '\n': // "." ended by a bare LF: kept
				out = append(out, '.')
				u.state, u.bare = usBeginLine, true
			default: // a stuffed dot: dropped
				u.state = usData
			}
		case usDotCR:
			if c == '\n' {
				if !u.bare {
					return out, i, true
				}
				out = append(out, '.', '\r')
				u.state, u.bare = usBeginLine, false
				break
			}
			out = append(out, '.', '\r') // "." ended by a bare CR: kept
			u.bare = true
			u.beginLine(c)
			if c == '.' {
				continue
			}
		case usCR:
			if c == '\n' {
				u.state, u.bare = usBeginLine, false
				break
			}
			u.bare = true
			u.beginLine(c)
			if c == '.' {
				continue
			}
		}
		out = append(out, c)
	}
	return out, i, false
}

// beginLine moves to the state after c, the first octet of a line.
func (u *unstuffer) beginLine(c byte) {
	switch c {
	case '.':
		u.state = usDot
	case '\r':
		u.state = usCR
	case '\n':
		u.state, u.bare = usBeginLine, true
	default:
		u.state = usData
	}
}

// indexLineEnd is the index of the first CR or LF in b, or -1.
func indexLineEnd(b []byte) int {
	i := bytes.IndexByte(b, '\r')
	if i < 0 {
		return bytes.IndexByte(b, '\n')
	}
	if j := bytes.IndexByte(b[:i], '\n'); j >= 0 {
		return j
	}
	return i
}
