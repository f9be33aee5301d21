package smtpwire

import "bytes"

// lineScan follows the line structure of a message as it passes through
// Conn: bare CR or LF anywhere (for bare_lf = "reject"), and the
// length of the current line (max_line_length). It works a line at a time
// with bytes.IndexByte; FuzzLineScan holds it to the octet-at-a-time rule:
// an LF not after a CR, or a CR not before an LF, is bare, and every octet
// but LF counts towards the line's length.
type lineScan struct {
	lineLen int64 // octets since the last LF
	prevCR  bool  // the last octet seen was a CR
	bareEOL bool  // a bare CR or LF was seen
}

// scan notes the octets of b and returns how many of them keep the line
// within limit octets (its CRLF included); limit 0 means no limit.
func (s *lineScan) scan(b []byte, limit int64) int {
	i := 0
	for i < len(b) {
		if s.prevCR && b[i] != '\n' {
			s.bareEOL = true
		}
		end := len(b)
		if j := bytes.IndexByte(b[i:], '\n'); j >= 0 {
			end = i + j
		}
		seg := b[i:end]
		if limit > 0 && len(seg) > 0 && s.lineLen+int64(len(seg)) > limit {
			k := i + int(max(0, limit-s.lineLen)) // the octet that goes over
			s.noteCR(b[i : k+1])
			s.lineLen += int64(k - i + 1)
			return k
		}
		s.noteCR(seg)
		s.lineLen += int64(len(seg))
		if end == len(b) {
			return len(b)
		}
		if !s.prevCR {
			s.bareEOL = true // an LF without its CR
		}
		s.prevCR, s.lineLen = false, 0
		i = end + 1
	}
	return len(b)
}

// noteCR notes the CRs of seg, a stretch without LF: one followed by
// another octet of seg is bare; a last one may be followed by an LF.
func (s *lineScan) noteCR(seg []byte) {
	if len(seg) == 0 {
		return
	}
	if bytes.IndexByte(seg[:len(seg)-1], '\r') >= 0 {
		s.bareEOL = true
	}
	s.prevCR = seg[len(seg)-1] == '\r'
}
