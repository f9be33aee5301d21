package relay

import "bytes"

// unstuffer undoes RFC 5321 §4.5.2 transparency and finds the end of DATA
// exactly as go-smtp's DATA reader does (data.go, dataReader.Read), so the
// fast path of lineConn (takeData) and go-smtp agree on every octet:
//
//   - a line starts at the beginning of DATA and after a CRLF whose CR
//     did not itself follow a CR ("\r\r\n" does not start a line);
//   - a "." at the start of a line is dropped, and so is a CR right after
//     it; ".\r\n" there ends the message and is not part of it;
//   - everything else, bare CR and bare LF included, is kept as is.
//
// Unlike go-smtp's reader, which takes an octet at a time, it copies
// whole stretches up to the next CR (FuzzUnstuff holds it to an octet-wise
// reference).
type unstuffer struct {
	state unstuffState
}

type unstuffState uint8

const (
	usBeginLine unstuffState = iota // start of a line; the initial state
	usDot                           // "." at the start of a line
	usDotCR                         // ".\r" at the start of a line
	usCR                            // "\r" (maybe the end of a line)
	usData                          // inside a line
)

// feed appends the message octets of in to out. It returns out, how many
// octets of in it consumed and whether they ended with the end-of-data line
// (nothing of in after that line is consumed).
func (u *unstuffer) feed(out, in []byte) ([]byte, int, bool) {
	i := 0
	for i < len(in) {
		if u.state == usData {
			j := bytes.IndexByte(in[i:], '\r')
			if j < 0 {
				return append(out, in[i:]...), len(in), false
			}
			out = append(out, in[i:i+j+1]...)
			i += j + 1
			u.state = usCR
			continue
		}
		c := in[i]
		i++
		switch u.state {
		case usBeginLine:
			switch c {
			case '.':
				u.state = usDot
				continue
			case '\r':
				u.state = usCR
			default:
				u.state = usData
			}
		case usDot:
			if c == '\r' {
				u.state = usDotCR
				continue
			}
			u.state = usData
		case usDotCR:
			if c == '\n' {
				return out, i, true
			}
			u.state = usData
		case usCR:
			if c == '\n' {
				u.state = usBeginLine
			} else {
				u.state = usData
			}
		}
		out = append(out, c)
	}
	return out, i, false
}
