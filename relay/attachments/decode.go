package attachments

import (
	"bytes"
	"encoding/base64"
	"io"
	"mime/quotedprintable"
)

// Content returns a reader of the part's decoded content, streaming from
// msg (no copy of the part is made). Base64 is decoded leniently, as mail
// readers do: octets outside the alphabet are skipped (RFC 2045 6.8).
func (p Part) Content(msg []byte) io.Reader {
	body := bytes.NewReader(msg[p.BodyStart:p.End])
	switch p.Encoding {
	case "base64":
		return base64.NewDecoder(base64.StdEncoding, &alphabetOnly{r: body})
	case "quoted-printable":
		return quotedprintable.NewReader(body)
	}
	return body
}

// Size is the part's decoded size in octets. A part whose encoding is
// broken counts what decodes, or its encoded size if that is larger, so a
// broken encoding cannot hide a big part from the limit.
func (p Part) Size(msg []byte) int64 {
	n, err := io.Copy(io.Discard, p.Content(msg))
	if err != nil {
		return max(n, int64(p.End-p.BodyStart))
	}
	return n
}

// alphabetOnly passes on only the base64 alphabet and '=': line breaks
// and junk a generator left between the lines are dropped.
type alphabetOnly struct {
	r   io.Reader
	buf [4096]byte
}

func (a *alphabetOnly) Read(p []byte) (int, error) {
	for {
		n, err := a.r.Read(a.buf[:min(len(p), len(a.buf))])
		k := 0
		for _, c := range a.buf[:n] {
			if c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '+' || c == '/' || c == '=' {
				p[k] = c
				k++
			}
		}
		if k > 0 || err != nil {
			return k, err
		}
	}
}
