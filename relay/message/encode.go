package message

import (
	"bytes"
	"mime/quotedprintable"
	"unicode/utf8"
)

// qpLine is the longest encoded quoted-printable or base64 line
// (RFC 2045 6.7 rule 5, 6.8).
const qpLine = 76

// encodeQP encodes b as quoted-printable with lines of at most 76
// characters. binary encodes CR and LF too (for non-text types, whose
// octets must come back exactly); otherwise CRLF stays a hard line break.
func encodeQP(b []byte, binary bool) ([]byte, error) {
	var buf bytes.Buffer
	buf.Grow(len(b) + len(b)/8)
	w := quotedprintable.NewWriter(&buf)
	w.Binary = binary
	if _, err := w.Write(b); err != nil {
		return nil, err
	}
	if err := w.Close(); err != nil {
		return nil, err
	}
	out := buf.Bytes()
	if binary && bytes.HasSuffix(b, []byte("\r\n")) {
		// Keep the entity ending in a line break, as the input did.
		out = append(out, '=', '\r', '\n')
	}
	return out, nil
}

// rewrapBase64 re-wraps base64 text at 76 characters per line, keeping
// every other octet and a final CRLF if there was one.
func rewrapBase64(b []byte) []byte {
	text := bytes.ReplaceAll(b, []byte("\r\n"), nil)
	out := make([]byte, 0, len(text)+len(text)/qpLine*2+2)
	for len(text) > qpLine {
		out = append(append(out, text[:qpLine]...), '\r', '\n')
		text = text[qpLine:]
	}
	out = append(out, text...)
	if bytes.HasSuffix(b, []byte("\r\n")) && len(text) > 0 {
		out = append(out, '\r', '\n')
	}
	return out
}

// softBreakQP breaks quoted-printable lines over 76 characters with soft
// line breaks ("=" CRLF), never inside an "=XX" escape, so the decoded
// content is unchanged (RFC 2045 6.7 rule 5).
func softBreakQP(b []byte) []byte {
	out := make([]byte, 0, len(b)+len(b)/qpLine*3)
	for len(b) > 0 {
		line, rest := cutLine(b)
		hadCRLF := len(rest) < len(b)-len(line)
		b = rest
		for len(line) > qpLine {
			p := qpLine - 1
			if line[p-1] == '=' {
				p--
			} else if line[p-2] == '=' {
				p -= 2
			}
			out = append(append(out, line[:p]...), '=', '\r', '\n')
			line = line[p:]
		}
		out = append(out, line...)
		if hadCRLF {
			out = append(out, '\r', '\n')
		}
	}
	return out
}

// hardWrap breaks every line over 998 octets with CRLF, at a UTF-8
// character start. It is the last resort for text no encoding applies to.
func hardWrap(b []byte) []byte {
	out := make([]byte, 0, len(b)+len(b)/maxLine*2)
	for len(b) > 0 {
		line, rest := cutLine(b)
		hadCRLF := len(rest) < len(b)-len(line)
		b = rest
		for len(line) > maxLine {
			p := hardBreak(line, maxLine)
			out = append(append(out, line[:p]...), '\r', '\n')
			line = line[p:]
		}
		out = append(out, line...)
		if hadCRLF {
			out = append(out, '\r', '\n')
		}
	}
	return out
}

// detectCharset names the charset of a body without a Content-Type.
func detectCharset(b []byte) string {
	switch {
	case !hasHighBit(b):
		return "us-ascii"
	case utf8.Valid(b):
		return "utf-8"
	default:
		return "unknown-8bit"
	}
}
