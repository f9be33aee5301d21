package attachments

import (
	"bytes"
	"mime"
	"strings"
)

// field is one header field: raw holds its lines with their line breaks.
type field struct {
	name string // lower case
	raw  []byte
}

func (f field) value() string {
	_, v, _ := bytes.Cut(f.raw, []byte(":"))
	v = bytes.ReplaceAll(v, []byte("\r\n"), nil)
	v = bytes.ReplaceAll(v, []byte("\n"), nil)
	return strings.TrimSpace(string(v))
}

type header []field

// parseHeader splits b into its header fields and returns the offset of
// the body (after the empty line; len(b) when there is none). A line that
// is neither a field nor a continuation is kept as a nameless field, so
// the fields together are always b[:body].
func parseHeader(b []byte) (header, int) {
	var h header
	pos := 0
	for pos < len(b) {
		line := b[pos:]
		next := len(b)
		if i := bytes.IndexByte(line, '\n'); i >= 0 {
			line, next = line[:i+1], pos+i+1
		}
		if len(bytes.TrimRight(line, "\r\n")) == 0 && (len(line) > 0 && line[len(line)-1] == '\n') {
			return h, next
		}
		if (line[0] == ' ' || line[0] == '\t') && len(h) > 0 {
			last := &h[len(h)-1]
			last.raw = b[pos-len(last.raw) : next]
		} else {
			name, _, ok := bytes.Cut(line, []byte(":"))
			n := ""
			if ok {
				n = strings.ToLower(strings.TrimSpace(string(name)))
			}
			h = append(h, field{name: n, raw: b[pos:next]})
		}
		pos = next
	}
	return h, len(b)
}

func (h header) first(name string) (string, bool) {
	for _, f := range h {
		if f.name == name {
			return f.value(), true
		}
	}
	return "", false
}

func (h header) has(name string) bool {
	_, ok := h.first(name)
	return ok
}

// contentType returns the lower-case media type, its parameters and the
// value as given; defType without a Content-Type, text/plain for one
// that cannot be parsed (RFC 2045 5.2).
func (h header) contentType(defType string) (string, map[string]string, string) {
	v, ok := h.first("content-type")
	if !ok {
		return defType, nil, defType
	}
	mt, params, err := mime.ParseMediaType(v)
	if mt == "" || (err != nil && err != mime.ErrInvalidMediaParameter) {
		return "text/plain", nil, "text/plain"
	}
	raw := mt
	if cs := params["charset"]; cs != "" {
		raw = mime.FormatMediaType(mt, map[string]string{"charset": cs})
		if raw == "" {
			raw = mt
		}
	}
	return mt, params, raw
}

// disposition returns the lower-case disposition type and parameters.
func (h header) disposition() (string, map[string]string) {
	v, ok := h.first("content-disposition")
	if !ok {
		return "", nil
	}
	d, params, err := mime.ParseMediaType(v)
	if err != nil && err != mime.ErrInvalidMediaParameter {
		// "attachment; filename=a b.pdf" (unquoted space) is common.
		d, _, _ = strings.Cut(v, ";")
		return strings.ToLower(strings.TrimSpace(d)), nil
	}
	return d, params
}

// encoding returns the lower-case Content-Transfer-Encoding token.
func (h header) encoding() string {
	v, _ := h.first("content-transfer-encoding")
	if i := strings.IndexByte(v, '('); i >= 0 { // RFC 822 comment
		v = v[:i]
	}
	return strings.ToLower(strings.TrimSpace(v))
}
