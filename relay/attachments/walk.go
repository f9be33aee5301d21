// Package attachments implements attachment limits and links (docs/relayd.toml.5.md,
// [attachments] and [[profile]]): it finds the attachments of a
// message, stores the ones a profile replaces by a link, rewrites the
// message for delivery, and serves the download links.
//
// Its place in the data flow (docs/architecture.md): at the end of DATA relay walks the
// message (Walk) and, before the 250 and before the spool commit, stores
// the attachments that some recipient's profile links (Store.Put, fsync'd
// like the spool). At delivery relay rewrites the message for the
// recipient's profile (Rewrite), before DKIM signs it. The download server
// (Store.Handler) answers the links until the retention ends; Store.GC
// removes expired files and the files of messages that were never
// committed. The package imports no other relayd package.
//
// The walk works on the message's octets and reports byte offsets, so
// that a rewrite changes only the replaced parts and every other octet
// (headers, boundaries, preamble, the other parts) stays identical. The
// standard library's mime/multipart reader cannot do that: it hands out
// decoded parts without their positions. The boundary rules follow
// relay/message's walk (RFC 2046 5.1.1: the CRLF before a delimiter
// belongs to the delimiter; nesting bounded at 32 levels), which is
// internal to that package and rewrites as it walks.
package attachments

import (
	"bytes"
	"mime"
	"path"
	"strings"
)

// Walk limits, as in relay/message.
const (
	maxDepth    = 32
	maxBoundary = 200
)

// Part is one MIME leaf of a message: msg[Start:BodyStart] is its header
// section (with the empty line ending it, if any) and msg[BodyStart:End]
// its body, still in its transfer encoding.
type Part struct {
	Index          int // leaf ordinal in document order, from 0
	Start          int
	BodyStart      int
	End            int
	MediaType      string // lower case, e.g. "application/pdf"
	Encoding       string // Content-Transfer-Encoding, lower case; "" = 7bit
	Disposition    string // "attachment", "inline" or ""
	FileName       string // decoded (RFC 2231, RFC 2047), without directories; "" = none
	ContentID      bool   // has a Content-ID
	InRelated      bool   // inside a multipart/related
	Attachment     bool   // see isAttachment
	Top            bool   // the message itself is this leaf
	rawContentType string // Content-Type as given, for the download
}

// ContentType is the part's Content-Type value as the download serves it:
// the media type with its charset, if any.
func (p Part) ContentType() string { return p.rawContentType }

// Tree is the result of Walk.
type Tree struct {
	Leaves []Part
	// Sealed: the message holds a signed or encrypted structure
	// (multipart/signed, multipart/encrypted, application/pkcs7-mime),
	// which must never be rewritten.
	Sealed bool
}

// Attachments returns the leaves that are attachments.
func (t Tree) Attachments() []Part {
	var out []Part
	for _, p := range t.Leaves {
		if p.Attachment {
			out = append(out, p)
		}
	}
	return out
}

// Walk finds the leaves of msg, a whole message (header and body). It
// never fails: what it cannot enter (a multipart without a usable
// boundary, nesting over 32 levels) is one leaf.
func Walk(msg []byte) Tree {
	var t Tree
	t.entity(msg, 0, len(msg), "text/plain", true, false, 0)
	return t
}

// entity walks msg[start:end], an entity with its header.
func (t *Tree) entity(msg []byte, start, end int, defType string, top, related bool, depth int) {
	h, bodyStart := parseHeader(msg[start:end])
	bodyStart += start
	mt, params, raw := h.contentType(defType)
	cte := h.encoding()
	switch mt {
	case "multipart/signed", "multipart/encrypted", "application/pkcs7-mime", "application/x-pkcs7-mime":
		t.Sealed = true
	}
	identity := cte == "" || cte == "7bit" || cte == "8bit" || cte == "binary"
	disp, dparams := h.disposition()
	if identity && depth < maxDepth {
		if strings.HasPrefix(mt, "multipart/") {
			def := "text/plain"
			if mt == "multipart/digest" {
				def = "message/rfc822"
			}
			if t.multipart(msg, bodyStart, end, params["boundary"], def, related || mt == "multipart/related", depth) {
				return
			}
		} else if (mt == "message/rfc822" || mt == "message/global") && disp != "attachment" {
			t.entity(msg, bodyStart, end, "text/plain", false, false, depth+1)
			return
		}
	}
	p := Part{Index: len(t.Leaves), Start: start, BodyStart: bodyStart, End: end, MediaType: mt, Encoding: cte,
		Disposition: disp, ContentID: h.has("content-id"), InRelated: related, Top: top, rawContentType: raw}
	p.FileName = fileName(dparams["filename"], params["name"])
	p.Attachment = isAttachment(p)
	t.Leaves = append(t.Leaves, p)
}

// isAttachment is the rule of docs/relayd.toml.5.md: a leaf with Content-Disposition:
// attachment, or with a file name that is not inline body text
// (text/plain, text/html). An inline part with a Content-ID inside a
// multipart/related is part of the HTML body (RFC 2387: Outlook's and
// Thunderbird's inline images), not an attachment.
func isAttachment(p Part) bool {
	switch {
	case p.Disposition == "attachment":
		return true
	case p.FileName == "":
		return false
	case p.MediaType == "text/plain" || p.MediaType == "text/html":
		return false
	case p.InRelated && p.ContentID && p.Disposition != "attachment":
		return false
	}
	return true
}

// multipart walks the parts of a multipart body msg[start:end]. It
// reports false when the boundary is unusable or never found.
func (t *Tree) multipart(msg []byte, start, end int, boundary, defType string, related bool, depth int) bool {
	if boundary == "" || len(boundary) > maxBoundary {
		return false
	}
	ds := delimiters(msg[start:end], boundary)
	if len(ds) == 0 {
		return false
	}
	for i, d := range ds {
		if d.close {
			break
		}
		pStart := start + d.end
		pEnd := end // no close delimiter: the last part runs to the end
		if i+1 < len(ds) {
			pEnd = max(start+ds[i+1].start-newlineBefore(msg[start:start+ds[i+1].start]), pStart)
		}
		t.entity(msg, pStart, pEnd, defType, false, related, depth+1)
	}
	return true
}

// newlineBefore is the length of the line break ending b (2 for CRLF, 1
// for a bare LF, 0 at the start): it belongs to the delimiter after it.
func newlineBefore(b []byte) int {
	switch {
	case bytes.HasSuffix(b, []byte("\r\n")):
		return 2
	case bytes.HasSuffix(b, []byte("\n")):
		return 1
	}
	return 0
}

// delimiter is one delimiter line: body[start:end] holds the line and its
// line break.
type delimiter struct {
	start, end int
	close      bool
}

// delimiters finds the delimiter lines of boundary in body up to and
// including the close delimiter ("--" boundary ["--"] then optional
// whitespace, RFC 2046 5.1.1). Only lines at the start of body or after a
// line break count.
//
// It looks for the boundary itself rather than at every line: an
// attachment's base64 is thousands of lines, and a search of the whole
// body (bytes.Index) is several times cheaper than one per line.
func delimiters(body []byte, boundary string) []delimiter {
	dash := []byte("--" + boundary)
	var ds []delimiter
	for pos := 0; pos < len(body); {
		i := bytes.Index(body[pos:], dash)
		if i < 0 {
			break
		}
		if at := pos + i; at > 0 && body[at-1] != '\n' {
			pos = at + 1 // not at the start of a line
			continue
		}
		pos += i
		line := body[pos:]
		next := len(body)
		if i := bytes.IndexByte(line, '\n'); i >= 0 {
			line, next = line[:i+1], pos+i+1
		}
		if bytes.HasPrefix(line, dash) { // not so if the boundary holds a line break
			tail := bytes.TrimRight(line[len(dash):], "\r\n")
			closing := bytes.HasPrefix(tail, []byte("--"))
			if closing {
				tail = tail[2:]
			}
			if len(bytes.Trim(tail, " \t")) == 0 {
				ds = append(ds, delimiter{start: pos, end: next, close: closing})
				if closing {
					break
				}
			}
		}
		pos = next
	}
	return ds
}

// fileName picks the Content-Disposition file name, else the Content-Type
// name, decodes RFC 2047 words (which many clients put there against
// RFC 2047 5) and keeps only the last path element.
func fileName(disp, ctype string) string {
	n := disp
	if n == "" {
		n = ctype
	}
	if strings.Contains(n, "=?") {
		if d, err := new(mime.WordDecoder).DecodeHeader(n); err == nil {
			n = d
		}
	}
	n = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return -1
		}
		if r == '\\' {
			return '/'
		}
		return r
	}, n)
	n = strings.TrimSpace(path.Base(n))
	if n == "." || n == "/" || n == ".." {
		return ""
	}
	return n
}
