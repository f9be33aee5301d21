package message

import (
	"bytes"
	"encoding/base64"
	"errors"
	"strings"
)

// Errors of Downgrade: the message cannot be made 7-bit without changing
// what its reader sees (it bounces with 5.6.3). The texts are
// sentences a person reads in a DSN.
var (
	// ErrEightBitHeader: a header field (of the message or of a part) has
	// 8-bit octets. Header fields have no transfer encoding; only SMTPUTF8
	// (RFC 6531, RFC 6532) carries them.
	ErrEightBitHeader = errors.New("a header field holds 8-bit octets (raw non-ASCII text); " +
		"the sending application must encode it (RFC 2047)")
	// ErrNotDowngradable: 8-bit octets in a body that cannot be re-encoded:
	// a multipart whose boundary is missing, a signed multipart
	// (re-encoding would break its signature), MIME nested deeper than 32
	// levels, or a composite part in an encoding it may not have.
	ErrNotDowngradable = errors.New("the message body holds 8-bit octets in a MIME structure that " +
		"cannot be re-encoded without changing or breaking it")
)

// Downgrade makes the message 7-bit for an upstream that offers no
// 8BITMIME (RFC 6152 3), changing only the MIME leaf parts that
// hold 8-bit octets, as FixLongLines does for long lines (the same walk):
//
//   - a leaf in 7bit, 8bit, binary or an unknown encoding is re-encoded:
//     text/* as quoted-printable (its line breaks kept), anything else as
//     base64, its Content-Type kept and its Content-Transfer-Encoding set;
//     a message without MIME becomes text/plain with the charset its
//     octets show (utf-8 or unknown-8bit) and MIME-Version: 1.0;
//   - a quoted-printable leaf with raw 8-bit octets gets them escaped as
//     =XX and a base64 leaf loses them (RFC 2045 6.8: decoders ignore
//     them), so the decoded content is what a lenient reader saw;
//   - a multipart or message/rfc822 in 8bit or binary is walked into and
//     then labelled 7bit (RFC 2045 6.4); a message/global part (RFC 6532,
//     whose header may be UTF-8) is encoded whole in base64;
//   - 8-bit octets in a preamble or epilogue, which readers ignore
//     (RFC 2046 5.1.1), become '?'.
//
// The decoded content of every part is unchanged. It fails with
// ErrEightBitHeader or ErrNotDowngradable where that is impossible; the
// Message may then be partly changed and must not be sent. It reports
// whether anything changed; a 7-bit message is left as it is.
func (m *Message) Downgrade() (bool, error) {
	body, changed, err := sevenBit.entity(&m.h, m.body, "text/plain", true, 0)
	if err != nil {
		return false, err
	}
	m.body = body
	return changed, nil
}

// sevenBit is Downgrade's repair.
var sevenBit = &repair{
	header: func(h *header) (bool, error) {
		for _, f := range *h {
			if hasHighBit(f.raw) {
				return false, ErrEightBitHeader
			}
		}
		return false, nil
	},
	needs:  hasHighBit,
	leaf:   sevenBitLeaf,
	filler: questionMarks,
	opaque: func([]byte) ([]byte, error) { return nil, ErrNotDowngradable },
	composite: func(h *header, mt, cte string) error {
		switch mt {
		case "multipart/signed": // RFC 1847 2.1: its content must stay octet for octet
			return ErrNotDowngradable
		case "message/global": // RFC 6532 3.5: may be encoded whole, its 8-bit header included
			return errWhole
		}
		if cte == "8bit" || cte == "binary" {
			h.set("Content-Transfer-Encoding", "7bit")
		}
		return nil
	},
}

// sevenBitLeaf re-encodes a leaf body that holds 8-bit octets.
func sevenBitLeaf(h *header, body []byte, mt, cte string, top bool, defType string) ([]byte, error) {
	switch cte {
	case "base64":
		return rewrapBase64(dropHigh(body)), nil
	case "quoted-printable":
		return softBreakQP(escapeHigh(body)), nil
	}
	if strings.HasPrefix(mt, "text/") {
		nb, err := encodeQP(body, false)
		if err != nil {
			return nil, err
		}
		setLeafHeader(h, body, top, defType, "quoted-printable")
		return nb, nil
	}
	setLeafHeader(h, body, top, defType, "base64")
	return encodeBase64(body), nil
}

// encodeBase64 encodes b in lines of 76 characters (RFC 2045 6.8), the
// last one ending in CRLF when b did (a part's last CRLF belongs to the
// delimiter that follows, RFC 2046 5.1.1; a message's is its end).
func encodeBase64(b []byte) []byte {
	enc := make([]byte, base64.StdEncoding.EncodedLen(len(b)))
	base64.StdEncoding.Encode(enc, b)
	out := make([]byte, 0, len(enc)+len(enc)/qpLine*2+2)
	for len(enc) > qpLine {
		out = append(append(out, enc[:qpLine]...), '\r', '\n')
		enc = enc[qpLine:]
	}
	out = append(out, enc...)
	if bytes.HasSuffix(b, []byte("\r\n")) {
		out = append(out, '\r', '\n')
	}
	return out
}

// escapeHigh writes each octet >= 0x80 of quoted-printable text as =XX.
func escapeHigh(b []byte) []byte {
	const hex = "0123456789ABCDEF"
	out := make([]byte, 0, len(b)+len(b)/8)
	for _, c := range b {
		if c >= 0x80 {
			out = append(out, '=', hex[c>>4], hex[c&15])
			continue
		}
		out = append(out, c)
	}
	return out
}

// dropHigh removes the octets >= 0x80 (not in the base64 alphabet).
func dropHigh(b []byte) []byte {
	out := make([]byte, 0, len(b))
	for _, c := range b {
		if c < 0x80 {
			out = append(out, c)
		}
	}
	return out
}

// questionMarks replaces each octet >= 0x80 by '?'.
func questionMarks(b []byte) []byte {
	out := make([]byte, len(b))
	for i, c := range b {
		if c >= 0x80 {
			c = '?'
		}
		out[i] = c
	}
	return out
}
