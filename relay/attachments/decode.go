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
		return &base64Reader{r: body}
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
	chars, pad := countChars(body), 0
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

// countChars counts the octets of b in the base64 alphabet, eight at a
// time into four sums (a fifth less time than one sum an octet at a time).
func countChars(b []byte) int {
	var s0, s1, s2, s3 uint
	for len(b) >= 8 {
		s0 += uint(base64Class[b[0]]&classChar) + uint(base64Class[b[4]]&classChar)
		s1 += uint(base64Class[b[1]]&classChar) + uint(base64Class[b[5]]&classChar)
		s2 += uint(base64Class[b[2]]&classChar) + uint(base64Class[b[6]]&classChar)
		s3 += uint(base64Class[b[3]]&classChar) + uint(base64Class[b[7]]&classChar)
		b = b[8:]
	}
	n := int(s0 + s1 + s2 + s3)
	for _, c := range b {
		n += int(base64Class[c] & classChar)
	}
	return n
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

// base64Reader decodes base64 from r, skipping the octets outside the
// alphabet, in chunks of up to 12 KiB: encoding/base64's decoder behind
// a filter did the same in chunks of 768 octets, filtering line breaks a
// second time, and Store.writeFile paid a write(2) per chunk. It reports
// what encoding/base64's decoder reports: a CorruptInputError for
// misplaced padding or data after it, io.ErrUnexpectedEOF for an
// incomplete last group.
type base64Reader struct {
	r      io.Reader
	err    error
	padded bool   // a group with padding was decoded: nothing may follow
	out    []byte // decoded, not yet returned
	carry  []byte // alphabet octets after the last whole group read (at most 3)
	cbuf   [4]byte
	qbuf   [base64Chunk + 4]byte // the carry, then a chunk read
	obuf   [(base64Chunk + 4) / 4 * 3]byte
}

const base64Chunk = 16 << 10

func (d *base64Reader) Read(p []byte) (int, error) {
	for len(d.out) == 0 {
		if d.err != nil {
			return 0, d.err
		}
		d.fill()
	}
	n := copy(p, d.out)
	d.out = d.out[n:]
	return n, nil
}

// WriteTo writes the decoded content to w chunk by chunk (io.Copy uses
// it: no buffer of its own, no copy).
func (d *base64Reader) WriteTo(w io.Writer) (int64, error) {
	var total int64
	for {
		if len(d.out) > 0 {
			n, err := w.Write(d.out)
			total += int64(n)
			d.out = d.out[n:]
			if err != nil {
				return total, err
			}
		}
		if d.err != nil {
			if d.err == io.EOF {
				return total, nil
			}
			return total, d.err
		}
		d.fill()
	}
}

// fill reads a chunk of r and decodes its whole groups into d.out.
func (d *base64Reader) fill() {
	c := copy(d.qbuf[:], d.carry)
	n, err := d.r.Read(d.qbuf[c : c+base64Chunk])
	q := d.qbuf[:c+n]
	if err == nil && d.decodeLines(q) {
		return
	}
	d.decodeFiltered(q, err)
}

// decodeLines is the fast path for base64 in lines (all a client writes):
// encoding/base64 skips CR and LF itself, so q is decoded up to its last
// whole group without a copy. It reports false, having decoded nothing,
// when q holds other octets or is not valid there; decodeFiltered then
// decides.
func (d *base64Reader) decodeLines(q []byte) bool {
	chars := len(q) - bytes.Count(q, []byte{'\r'}) - bytes.Count(q, []byte{'\n'})
	cut := len(q)
	for k := chars % 4; k > 0 && cut > 0; {
		cut--
		if q[cut] != '\r' && q[cut] != '\n' {
			k--
		}
	}
	if d.padded && chars >= 4 {
		return false
	}
	m, err := base64.StdEncoding.Decode(d.obuf[:], q[:cut])
	if err != nil {
		return false
	}
	d.out = d.obuf[:m]
	if last := bytes.TrimRight(q[:cut], "\r\n"); len(last) > 0 && last[len(last)-1] == '=' {
		d.padded = true
	}
	d.keep(q[cut:])
	return true
}

// decodeFiltered drops the octets outside the alphabet from q and decodes
// its whole groups; err is the read's.
func (d *base64Reader) decodeFiltered(q []byte, err error) {
	k := 0
	for _, c := range q {
		q[k] = c
		if base64Class[c] != classJunk {
			k++
		}
	}
	q = q[:k]
	whole := len(q) / 4 * 4
	if whole > 0 {
		if d.padded {
			d.err = base64.CorruptInputError(0)
			return
		}
		m, derr := base64.StdEncoding.Decode(d.obuf[:], q[:whole])
		d.out = d.obuf[:m]
		if derr != nil {
			d.err = derr
			return
		}
		d.padded = q[whole-1] == '='
	}
	d.keep(q[whole:])
	switch {
	case err == io.EOF && len(d.carry) > 0:
		d.err = io.ErrUnexpectedEOF
	case err != nil:
		d.err = err
	}
}

// keep carries the alphabet octets of tail (at most 3) to the next fill.
func (d *base64Reader) keep(tail []byte) {
	d.carry = d.cbuf[:0]
	for _, c := range tail {
		if base64Class[c] != classJunk {
			d.carry = append(d.carry, c)
		}
	}
}
