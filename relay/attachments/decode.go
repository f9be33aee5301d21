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
// broken encoding cannot hide a big part from the limit. Well-formed
// base64 is counted from its encoded length, without decoding.
func (p Part) Size(msg []byte) int64 {
	switch p.Encoding {
	case "", "7bit", "8bit", "binary":
		return int64(p.End - p.BodyStart)
	case "base64":
		if n, ok := base64Size(msg[p.BodyStart:p.End]); ok {
			return n
		}
	}
	n, err := io.Copy(io.Discard, p.Content(msg))
	if err != nil {
		return max(n, int64(p.End-p.BodyStart))
	}
	return n
}

// base64Size is the decoded size of b, base64 with junk between the
// characters of its alphabet, when b is well formed: its padding only at
// the end and as long as the last group needs. Otherwise ok is false and
// the caller decodes to see what comes out.
func base64Size(b []byte) (n int64, ok bool) {
	body, tail := b, []byte(nil)
	if i := bytes.IndexByte(b, '='); i >= 0 {
		body, tail = b[:i], b[i:]
	}
	chars, pad := 0, 0
	for _, c := range body {
		chars += int(base64Class[c] & classChar)
	}
	for _, c := range tail {
		switch base64Class[c] {
		case classChar:
			return 0, false
		case classPad:
			pad++
		}
	}
	want := [4]int{0, -1, 2, 1}[chars%4]
	if want < 0 || pad != want {
		return 0, false
	}
	return int64(chars/4*3 + [4]int{0, 0, 1, 2}[chars%4]), true
}

const (
	classJunk = iota
	classChar
	classPad
)

// base64Class sorts the octets: the base64 alphabet, the pad '=', and
// junk (line breaks and whatever a generator left between the lines).
var base64Class = func() (t [256]byte) {
	for _, c := range []byte("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/") {
		t[c] = classChar
	}
	t['='] = classPad
	return t
}()

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
			p[k] = c
			if base64Class[c] != classJunk {
				k++
			}
		}
		if k > 0 || err != nil {
			return k, err
		}
	}
}
