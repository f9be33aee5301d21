package message

import (
	"bytes"
	"errors"
	"mime"
	"strings"
)

// maxDepth bounds MIME nesting FixLongLines walks into; deeper entities
// with long lines are hard-wrapped instead (a hostile message cannot make
// the walk recurse without bound).
const maxDepth = 32

// maxBoundary is the longest boundary FixLongLines accepts. RFC 2046 5.1.1
// allows 70 characters; some generators exceed that a little.
const maxBoundary = 200

// FixLongLines makes every line of the message at most 998 octets
// (RFC 5322 2.1.1), so no downstream MTA breaks lines itself (which would
// corrupt the content and any DKIM signature). It reports whether
// anything changed. It is idempotent: a second call changes nothing.
//
//   - A header line over 998 octets is folded at whitespace (RFC 5322
//     2.2.3); see fold for the rare run of 998 octets without whitespace.
//   - The MIME tree is walked by boundary (multipart/*, RFC 2046 5.1) and
//     into message/rfc822 parts. Only the leaf parts that hold a long line
//     change; every other octet stays identical. A leaf in 7bit, 8bit,
//     binary or an unknown encoding is re-encoded as quoted-printable
//     (RFC 2045 6.7; text/* keeps its line breaks, other types are encoded
//     exactly, CRLF as =0D=0A), its Content-Type kept and its
//     Content-Transfer-Encoding set. A base64 leaf is re-wrapped at 76
//     characters and a quoted-printable leaf gets soft line breaks, both
//     without changing the decoded content.
//   - A non-MIME message is one text leaf: it gains MIME-Version: 1.0 and,
//     without a Content-Type, "text/plain; charset=X", X being us-ascii,
//     utf-8 when the body is valid UTF-8, else unknown-8bit (RFC 1428),
//     because relayd cannot know the legacy application's charset.
//   - Preamble and epilogue (which readers ignore, RFC 2046 5.1.1), a
//     multipart whose boundary is missing or never found, and entities
//     nested deeper than 32 levels cannot be re-encoded; their long lines
//     are broken at 998 octets with CRLF.
//
// The error is non-nil only if encoding fails, which cannot happen with
// the in-memory buffers used today.
func (m *Message) FixLongLines() (bool, error) {
	body, changed, err := longLines.entity(&m.h, m.body, "text/plain", true, 0)
	if err != nil {
		return false, err
	}
	m.body = body
	return changed, nil
}

// repair is one way of walking the MIME tree and changing only the leaf
// parts that need it: FixLongLines (longLines) and Downgrade (sevenBit)
// share the walk and differ in these functions.
type repair struct {
	// header checks or fixes an entity's own header fields; it reports
	// whether it changed them.
	header func(h *header) (bool, error)
	// needs reports whether an entity body (its parts' headers included)
	// needs work; an entity whose body does not is left as it is.
	needs func(body []byte) bool
	// leaf re-encodes a leaf body (and sets its header fields).
	leaf func(h *header, body []byte, mt, cte string, top bool, defType string) ([]byte, error)
	// filler fixes text outside every part: a preamble or epilogue.
	filler func(b []byte) []byte
	// opaque handles a body the walk cannot enter: a multipart whose
	// boundary is missing or never found, an entity nested too deep, a
	// composite in an encoding it may not have.
	opaque func(b []byte) ([]byte, error)
	// composite, when set, sees a composite entity before the walk enters
	// it: it may refuse it (an error), have it re-encoded whole as a leaf
	// (errWhole), or update its header for the fixed parts (nil).
	composite func(h *header, mt, cte string) error
}

// errWhole is repair.composite's answer for a composite entity that is
// re-encoded as a whole, like a leaf, instead of walked into.
var errWhole = errors.New("message: re-encode the entity whole")

// longLines is FixLongLines' repair.
var longLines = &repair{
	header: func(h *header) (bool, error) { return h.foldLongFields(), nil },
	needs:  hasLongLine,
	leaf:   fixLeaf,
	filler: hardWrap,
	opaque: func(b []byte) ([]byte, error) { return hardWrap(b), nil },
}

// entity fixes one entity (header h, body) and returns its new body.
// defType is the implicit Content-Type (RFC 2046 5.1.5 for digests); top
// marks a message header, which may receive MIME-Version.
func (r *repair) entity(h *header, body []byte, defType string, top bool, depth int) ([]byte, bool, error) {
	changed, err := r.header(h)
	if err != nil || !r.needs(body) {
		return body, changed, err
	}
	mt, params := contentType(*h, defType)
	cte := transferEncoding(*h)
	identity := cte == "" || cte == "7bit" || cte == "8bit" || cte == "binary"
	composite := strings.HasPrefix(mt, "multipart/") || mt == "message/rfc822" || mt == "message/global"
	if composite && identity && depth < maxDepth && r.composite != nil {
		switch err := r.composite(h, mt, cte); {
		case err == errWhole:
			composite = false // re-encoded as a leaf
		case err != nil:
			return nil, false, err
		}
	}
	switch {
	case composite && identity && depth < maxDepth && strings.HasPrefix(mt, "multipart/"):
		def := "text/plain"
		if mt == "multipart/digest" {
			def = "message/rfc822"
		}
		if nb, ok, err := r.multipart(body, params["boundary"], def, depth); ok || err != nil {
			return nb, true, err
		}
		nb, err := r.opaque(body)
		return nb, true, err
	case composite && identity && depth < maxDepth:
		ph, pb := splitHeader(body)
		nb, _, err := r.entity(&ph, pb, "text/plain", true, depth+1)
		return join(ph, nb), true, err
	case composite && cte != "base64" && cte != "quoted-printable":
		nb, err := r.opaque(body)
		return nb, true, err
	}
	nb, err := r.leaf(h, body, mt, cte, top, defType)
	return nb, true, err
}

// fixLeaf re-encodes a leaf body that has a long line.
func fixLeaf(h *header, body []byte, mt, cte string, top bool, defType string) ([]byte, error) {
	switch cte {
	case "base64":
		return rewrapBase64(body), nil
	case "quoted-printable":
		return softBreakQP(body), nil
	}
	nb, err := encodeQP(body, !strings.HasPrefix(mt, "text/"))
	if err != nil {
		return nil, err
	}
	setLeafHeader(h, body, top, defType, "quoted-printable")
	return nb, nil
}

// setLeafHeader labels a re-encoded leaf: its Content-Transfer-Encoding,
// and for a message without MIME (RFC 2045 4, 5.2) MIME-Version and the
// text/plain it implicitly was, with the charset the octets show.
func setLeafHeader(h *header, body []byte, top bool, defType, cte string) {
	if top && !h.has("MIME-Version") {
		h.set("MIME-Version", "1.0")
	}
	if !h.has("Content-Type") && defType == "text/plain" {
		h.set("Content-Type", "text/plain; charset="+detectCharset(body))
	}
	h.set("Content-Transfer-Encoding", cte)
}

// multipart fixes the parts of a multipart body that need it, copying
// everything else verbatim. ok is false when the boundary is unusable or
// never found. The CRLF before a delimiter line belongs to the delimiter,
// not to the part (RFC 2046 5.1.1).
func (r *repair) multipart(body []byte, boundary, defType string, depth int) ([]byte, bool, error) {
	if boundary == "" || len(boundary) > maxBoundary {
		return nil, false, nil
	}
	ds := findDelimiters(body, boundary)
	if len(ds) == 0 {
		return nil, false, nil
	}
	var spans []span
	if pre := max(ds[0].start-2, 0); r.needs(body[:pre]) {
		spans = append(spans, span{0, pre, r.filler(body[:pre])})
	}
	for i, d := range ds {
		if d.text > maxLine { // transport padding made the line too long
			clean := "--" + boundary
			if d.close {
				clean += "--"
			}
			spans = append(spans, span{d.start, d.start + d.text, []byte(clean)})
		}
		if d.close {
			if epi := body[d.end:]; r.needs(epi) {
				spans = append(spans, span{d.end, len(body), r.filler(epi)})
			}
			break
		}
		end := len(body) // no close delimiter: the last part runs to the end
		if i+1 < len(ds) {
			end = max(ds[i+1].start-2, d.end)
		}
		part := body[d.end:end]
		if !r.needs(part) {
			continue
		}
		ph, pb := splitHeader(part)
		nb, _, err := r.entity(&ph, pb, defType, false, depth+1)
		if err != nil {
			return nil, true, err
		}
		spans = append(spans, span{d.end, end, join(ph, nb)})
	}
	return splice(body, spans), true, nil
}

// foldLongFields folds the header lines over 998 octets. The fields are
// copied before the first change: parts of h may be shared.
func (h *header) foldLongFields() bool {
	changed := false
	for i := range *h {
		raw, ok := foldLong((*h)[i].raw)
		if !ok {
			continue
		}
		if !changed {
			*h = append(header(nil), *h...)
			changed = true
		}
		(*h)[i].raw = raw
	}
	return changed
}

// contentType returns the lower-case media type and parameters of h, or
// defType when there is no Content-Type. An unparsable one is text/plain
// (RFC 2045 5.2).
func contentType(h header, defType string) (string, map[string]string) {
	v, ok := h.first("Content-Type")
	if !ok {
		return defType, nil
	}
	mt, params, err := mime.ParseMediaType(v)
	if mt == "" || (err != nil && err != mime.ErrInvalidMediaParameter) {
		return "text/plain", nil
	}
	return mt, params
}

// transferEncoding returns the lower-case Content-Transfer-Encoding token.
func transferEncoding(h header) string {
	v, _ := h.first("Content-Transfer-Encoding")
	if i := strings.IndexByte(v, '('); i >= 0 { // RFC 822 comment
		v = v[:i]
	}
	return strings.ToLower(strings.TrimSpace(v))
}

// join puts a header section and a body back together.
func join(h header, body []byte) []byte {
	return append(h.bytes(), body...)
}

// span is a replacement of body[start:end].
type span struct {
	start, end int
	repl       []byte
}

// splice applies spans (sorted, non-overlapping) to b in a new slice.
func splice(b []byte, spans []span) []byte {
	out := make([]byte, 0, len(b)+len(b)/8)
	pos := 0
	for _, s := range spans {
		out = append(out, b[pos:s.start]...)
		out = append(out, s.repl...)
		pos = s.end
	}
	return append(out, b[pos:]...)
}

// delimiter is one boundary delimiter line: body[start:end] holds the line
// and its CRLF; text is its length without CRLF.
type delimiter struct {
	start, end, text int
	close            bool
}

// findDelimiters finds the delimiter lines of boundary in body, up to and
// including the close delimiter (RFC 2046 5.1.1: "--" boundary, "--" for
// the close delimiter, then optional linear whitespace).
func findDelimiters(body []byte, boundary string) []delimiter {
	dash := "--" + boundary
	var ds []delimiter
	for pos := 0; pos < len(body); {
		line, rest := cutLine(body[pos:])
		end := len(body) - len(rest)
		if bytes.HasPrefix(line, []byte(dash)) {
			tail := line[len(dash):]
			closing := bytes.HasPrefix(tail, []byte("--"))
			if closing {
				tail = tail[2:]
			}
			if len(bytes.Trim(tail, " \t")) == 0 {
				ds = append(ds, delimiter{start: pos, end: end, text: len(line), close: closing})
				if closing {
					break
				}
			}
		}
		pos = end
	}
	return ds
}
