package policy

import (
	"fmt"
	"io"
	"strings"
	"unicode/utf8"
)

// Legacy Windows applications often encode display names in windows-1252 or
// ISO-8859-15, which mime.WordDecoder does not know (it knows UTF-8,
// ISO-8859-1 and US-ASCII). Without them such a From would be unparsable and
// left alone, so rewrite_header_from would silently not happen. Both differ
// from ISO-8859-1 in a few positions only; these tables hold the differences.
var (
	cp1252High = [32]rune{ // 0x80..0x9F; undefined bytes map to C1 controls, as WHATWG does
		0x20AC, 0x0081, 0x201A, 0x0192, 0x201E, 0x2026, 0x2020, 0x2021,
		0x02C6, 0x2030, 0x0160, 0x2039, 0x0152, 0x008D, 0x017D, 0x008F,
		0x0090, 0x2018, 0x2019, 0x201C, 0x201D, 0x2022, 0x2013, 0x2014,
		0x02DC, 0x2122, 0x0161, 0x203A, 0x0153, 0x009D, 0x017E, 0x0178,
	}
	latin9Diff = map[byte]rune{
		0xA4: 0x20AC, 0xA6: 0x0160, 0xA8: 0x0161, 0xB4: 0x017D,
		0xB8: 0x017E, 0xBC: 0x0152, 0xBD: 0x0153, 0xBE: 0x0178,
	}
)

// charsetReader is a mime.WordDecoder CharsetReader for windows-1252 and
// ISO-8859-15. Any other charset is an error, which makes the address
// unparsable.
func charsetReader(charset string, input io.Reader) (io.Reader, error) {
	var decode func(b byte) rune
	switch strings.ToLower(strings.TrimSpace(charset)) {
	case "windows-1252", "cp1252", "x-cp1252":
		decode = func(b byte) rune {
			if b >= 0x80 && b <= 0x9F {
				return cp1252High[b-0x80]
			}
			return rune(b)
		}
	case "iso-8859-15", "iso8859-15", "latin-9", "latin9":
		decode = func(b byte) rune {
			if r, ok := latin9Diff[b]; ok {
				return r
			}
			return rune(b)
		}
	default:
		return nil, fmt.Errorf("policy: unsupported charset %q", charset)
	}
	// An encoded-word is at most 75 octets (RFC 2047 §2), but a hostile one
	// is not; it is still bounded by the header field it came from.
	raw, err := io.ReadAll(input)
	if err != nil {
		return nil, err
	}
	out := make([]byte, 0, len(raw)*2)
	for _, b := range raw {
		out = utf8.AppendRune(out, decode(b))
	}
	return strings.NewReader(string(out)), nil
}
