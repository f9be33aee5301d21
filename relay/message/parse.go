package message

import "bytes"

// HeaderRoom is how many free octets Read leaves in front of the message
// it reads, and what relay leaves in front of a message it hands to Parse:
// enough for the fields relayd adds on acceptance (Received:, and
// Message-ID: and Date: when missing), so that Flatten can put the edited
// header section in front of the body without copying the body.
const HeaderRoom = 1 << 10

// Parse is Read for a message already in memory: buf[off:] holds the
// octets Read would read from its reader, and Parse returns the same
// Message or the same error as Read does for them (FuzzParse holds it to
// that), with the same limits.
//
// buf[:off] is free room: Flatten may write the header section there.
// off may be 0; HeaderRoom is enough for the fields relay adds.
//
// Ownership: Parse takes buf over. When the message needs no change
// (every line ends in CRLF, no NUL, every limit kept: what a well-behaved
// client sends), which is checked without copying, the Message's fields
// and body point into buf and nothing is copied; otherwise Parse
// normalises into a new buffer, and buf is no longer used once Parse
// returns. Either way the caller must not modify buf while the Message or
// a slice from Flatten is in use.
func Parse(buf []byte, off int, lim Limits) (*Message, error) {
	lim = lim.withDefaults()
	b := buf[off:]
	k := cleanPrefix(b, lim)
	if k < len(b) {
		// Start over from the first line that needs work, in the chunks
		// Read's bufio.Reader would give normaliser.feed, so the first
		// error found is the one Read finds. A message over MaxSize fails
		// (with ErrTooBig at the latest): a dry run finds the error without
		// copying the message. A bare LF grows to CRLF: len(b)/32 of slack
		// spares a regrowth for a few of them.
		n := normaliser{lim: lim, total: int64(k), dry: lim.MaxSize >= 0 && int64(len(b)) > lim.MaxSize}
		if !n.dry {
			n.out = append(make([]byte, off, off+len(b)+len(b)/32+2), b[:k]...)
		}
		for rest := b[k:]; len(rest) > 0; {
			chunk := nextChunk(rest)
			rest = rest[len(chunk):]
			if err := n.feed(chunk); err != nil {
				return nil, err
			}
		}
		if err := n.finish(); err != nil {
			return nil, err
		}
		if n.dry {
			return nil, ErrTooBig // not reached: feed has counted more than MaxSize
		}
		buf = n.out
	}
	return newMessage(buf, off, lim)
}

// cleanPrefix returns the length of the longest prefix of b made of whole
// lines that the normaliser passes through unchanged and without error:
// each ends in CRLF, holds no other CR and no NUL, is at most
// MaxLineLength octets without its CRLF, and ends within MaxSize. It reads
// b a line at a time with bytes.IndexByte and never copies.
func cleanPrefix(b []byte, lim Limits) int {
	end := len(b) // a clean line ends by end
	if z := bytes.IndexByte(b, 0); z >= 0 {
		end = z
	}
	if lim.MaxSize >= 0 && int64(end) > lim.MaxSize {
		end = int(lim.MaxSize)
	}
	pos := 0
	for {
		i := bytes.IndexByte(b[pos:end], '\n')
		if i < 1 || b[pos+i-1] != '\r' {
			return pos // no complete line left, or a bare LF
		}
		text := b[pos : pos+i-1]
		if (lim.MaxLineLength >= 0 && len(text) > lim.MaxLineLength) || bytes.IndexByte(text, '\r') >= 0 {
			return pos
		}
		pos += i + 1
	}
}

// nextChunk returns the first chunk of b that bufio.Reader.ReadSlice('\n')
// returns from a reader of b with Read's buffer size: up to and including
// the first LF, or readerSize octets of a longer line.
func nextChunk(b []byte) []byte {
	b = b[:min(len(b), readerSize)]
	if i := bytes.IndexByte(b, '\n'); i >= 0 {
		return b[:i+1]
	}
	return b
}
