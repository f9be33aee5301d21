package message

import (
	"bytes"
	"strings"
)

// field is one header field. raw holds its exact octets, continuation
// lines included, ending in CRLF, so an untouched field is written back
// byte-identical.
type field struct {
	name string // as written, without trailing WSP (obs-optional, RFC 5322 4.5.3)
	raw  []byte
}

// value returns the unfolded field body (RFC 5322 2.2.3: CRLF before WSP
// removed) without leading and trailing WSP.
func (f field) value() string {
	i := bytes.IndexByte(f.raw, ':')
	v := bytes.ReplaceAll(f.raw[i+1:], []byte("\r\n"), nil)
	return strings.Trim(string(v), " \t")
}

// header is an ordered header section.
type header []field

// size returns the octets of the fields, without the closing empty line.
func (h header) size() int {
	n := 0
	for _, f := range h {
		n += len(f.raw)
	}
	return n
}

// bytes returns the header section including the closing empty line.
func (h header) bytes() []byte {
	b := make([]byte, 0, h.size()+2)
	for _, f := range h {
		b = append(b, f.raw...)
	}
	return append(b, '\r', '\n')
}

func (h header) get(name string) []string {
	var vs []string
	for _, f := range h {
		if strings.EqualFold(f.name, name) {
			vs = append(vs, f.value())
		}
	}
	return vs
}

// first returns the value of the first field called name.
func (h header) first(name string) (string, bool) {
	for _, f := range h {
		if strings.EqualFold(f.name, name) {
			return f.value(), true
		}
	}
	return "", false
}

func (h header) has(name string) bool {
	for _, f := range h {
		if strings.EqualFold(f.name, name) {
			return true
		}
	}
	return false
}

// del removes every field called name and returns the index the first
// one had, or -1. It builds a new slice so fields shared with an older
// header value are never overwritten.
func (h *header) del(name string) int {
	at := -1
	kept := make(header, 0, len(*h))
	for _, f := range *h {
		if strings.EqualFold(f.name, name) {
			if at < 0 {
				at = len(kept)
			}
			continue
		}
		kept = append(kept, f)
	}
	*h = kept
	return at
}

// insert puts a new field at index at (append when at < 0 or past the
// end). An invalid field name is ignored: see Message.Add.
func (h *header) insert(at int, name, value string) {
	f, ok := newField(name, value)
	if !ok {
		return
	}
	if at < 0 || at >= len(*h) {
		*h = append(*h, f)
		return
	}
	nh := make(header, 0, len(*h)+1)
	nh = append(nh, (*h)[:at]...)
	nh = append(nh, f)
	*h = append(nh, (*h)[at:]...)
}

func (h *header) set(name, value string) {
	if !validName(name) {
		return
	}
	at := h.del(name)
	h.insert(at, name, value)
}

// newField builds a folded field from a name and a sanitised value.
func newField(name, value string) (field, bool) {
	if !validName(name) {
		return field{}, false
	}
	line := name + ": " + sanitizeValue(value)
	return field{name: name, raw: fold([]byte(line), len(name)+1)}, true
}

// validName reports whether s is a field name: one or more printable
// US-ASCII characters except ':' (RFC 5322 2.2, ftext).
func validName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 33 || c > 126 || c == ':' {
			return false
		}
	}
	return true
}

// sanitizeValue makes a caller's value safe to put in a header: a CR/LF
// run followed by WSP is removed (it was a fold), any other CR/LF run
// becomes one space, and NUL octets are dropped. No value can thus start
// a new field or end the header section (no header injection).
func sanitizeValue(v string) string {
	if !strings.ContainsAny(v, "\r\n\x00") {
		return v
	}
	var b strings.Builder
	for i := 0; i < len(v); i++ {
		c := v[i]
		switch {
		case c == 0:
		case c == '\r' || c == '\n':
			for i+1 < len(v) && (v[i+1] == '\r' || v[i+1] == '\n') {
				i++
			}
			if i+1 < len(v) && (v[i+1] == ' ' || v[i+1] == '\t') {
				continue
			}
			b.WriteByte(' ')
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// splitHeader splits CRLF-normalised data into header fields and body. The
// header section ends at the first empty line (which is consumed) or just
// before the first line that is neither a field nor a continuation (see
// Read). A last line without CRLF gets one in the field's raw bytes.
func splitHeader(data []byte) (header, []byte) {
	var h header
	start, pos := -1, 0 // start: offset of the open field
	name := ""
	closeField := func() {
		if start >= 0 {
			h = append(h, field{name: name, raw: withCRLF(data[start:pos:pos])})
		}
	}
	for pos < len(data) {
		line, next := cutLine(data[pos:])
		end := len(data) - len(next)
		switch {
		case len(line) == 0:
			closeField()
			return h, data[end:]
		case line[0] == ' ' || line[0] == '\t':
			if start < 0 {
				return h, data[pos:]
			}
		default:
			n, ok := fieldName(line)
			if !ok {
				closeField()
				return h, data[pos:]
			}
			closeField()
			start, name = pos, n
		}
		pos = end
	}
	closeField()
	return h, data[len(data):]
}

// withCRLF returns b, copied with CRLF appended if it lacks one.
func withCRLF(b []byte) []byte {
	if bytes.HasSuffix(b, []byte("\r\n")) {
		return b
	}
	return append(append(make([]byte, 0, len(b)+2), b...), '\r', '\n')
}

// cutLine returns the line at the start of b without its CRLF, and the
// rest after it.
func cutLine(b []byte) (line, rest []byte) {
	i := bytes.IndexByte(b, '\n')
	if i < 0 {
		return b, nil
	}
	return bytes.TrimSuffix(b[:i], []byte("\r")), b[i+1:]
}

// fieldName returns the name of a field's first line: ftext up to the
// colon, allowing WSP before the colon (obs-optional, RFC 5322 4.5.3).
func fieldName(line []byte) (string, bool) {
	i := bytes.IndexByte(line, ':')
	if i <= 0 {
		return "", false
	}
	name := bytes.TrimRight(line[:i], " \t")
	if !validName(string(name)) {
		return "", false
	}
	return string(name), true
}
