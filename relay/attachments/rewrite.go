package attachments

import (
	"bytes"
	"errors"
	"fmt"
	"mime/quotedprintable"
	"net/url"
	"time"
)

// Link is what replaces one attachment: the stored file and where it can
// be downloaded until when.
type Link struct {
	Name    string
	Size    int64 // decoded octets
	URL     string
	Expires time.Time
}

// URL builds a link: <base>/a/<token>/<file name>, the name
// percent-encoded as one path segment.
func URL(base, token, name string) string {
	for len(base) > 0 && base[len(base)-1] == '/' {
		base = base[:len(base)-1]
	}
	if name == "" {
		name = "attachment"
	}
	return base + "/a/" + token + "/" + url.PathEscape(name)
}

// ErrStructure: the rewritten message would not have the structure of the
// original (a replacement text that a MIME reader could take for a
// boundary). The caller sends the message as it is.
var ErrStructure = errors.New("attachments: the rewritten message's MIME structure differs from the original")

// Rewrite returns msg with the leaves whose Index is in links replaced by
// a text/plain; charset=utf-8 inline part naming the file, its size, the
// link and the expiry. Every other octet stays as it was: the
// replaced part keeps its header fields other than Content-*. A sealed
// message (Tree.Sealed) is returned unchanged, as is msg when links is
// empty. The result is walked again and checked: every leaf not replaced
// is still there, octet for octet; if not, it fails with ErrStructure.
func Rewrite(msg []byte, links map[int]Link) ([]byte, error) {
	if len(links) == 0 {
		return msg, nil
	}
	t := Walk(msg)
	if t.Sealed {
		return msg, nil
	}
	// One allocation of about the result's size (bytes.Buffer.Grow may
	// take two under the race detector): the message without the replaced
	// parts, and 4 KB for each replacement (its header fields and text).
	size := len(msg)
	for _, p := range t.Leaves {
		if _, ok := links[p.Index]; ok {
			size -= p.End - p.Start - 4096
		}
	}
	out := bytes.NewBuffer(make([]byte, 0, size))
	pos := 0
	for _, p := range t.Leaves {
		l, ok := links[p.Index]
		if !ok {
			continue
		}
		out.Write(msg[pos:p.Start])
		writeReplacement(out, msg[p.Start:p.BodyStart], l)
		pos = p.End
	}
	out.Write(msg[pos:])
	b := out.Bytes()
	after := Walk(b)
	if len(after.Leaves) != len(t.Leaves) || after.Sealed {
		return nil, ErrStructure
	}
	for i, p := range t.Leaves {
		if _, ok := links[p.Index]; !ok && !bytes.Equal(msg[p.Start:p.End], b[after.Leaves[i].Start:after.Leaves[i].End]) {
			return nil, ErrStructure
		}
	}
	return b, nil
}

// writeReplacement writes the replacement entity for a part whose header
// section is hdr: its fields except Content-*, then the new ones.
func writeReplacement(out *bytes.Buffer, hdr []byte, l Link) {
	h, _ := parseHeader(hdr)
	for _, f := range h {
		if len(f.name) >= 8 && f.name[:8] == "content-" || f.name == "" {
			continue
		}
		out.Write(f.raw)
		if !bytes.HasSuffix(f.raw, []byte("\n")) {
			out.WriteString("\r\n")
		}
	}
	out.WriteString("Content-Type: text/plain; charset=utf-8\r\n")
	out.WriteString("Content-Disposition: inline\r\n")
	out.WriteString("Content-Transfer-Encoding: quoted-printable\r\n\r\n")
	qp := quotedprintable.NewWriter(out)
	fmt.Fprintf(qp, "The attachment \"%s\", %s, was replaced by a download link:\r\n\r\n%s\r\n\r\n"+
		"The link works until %s.\r\n", l.Name, HumanSize(l.Size), l.URL, l.Expires.UTC().Format("2 January 2006 15:04 MST"))
	qp.Close()
}

// HumanSize writes n octets for a person: "12.3 MB (12897484 bytes)",
// powers of 1024 as in the configuration's sizes.
func HumanSize(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d bytes", n)
	}
	v, suffix := float64(n)/unit, "KB"
	for _, s := range []string{"MB", "GB", "TB"} {
		if v < unit {
			break
		}
		v, suffix = v/unit, s
	}
	return fmt.Sprintf("%.1f %s (%d bytes)", v, suffix, n)
}
