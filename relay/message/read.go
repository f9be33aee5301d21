package message

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
)

// Defaults used by Read for a zero Limits field (docs/relayd.toml.5.md [[listener]], docs/smtp.md).
const (
	DefaultMaxSize        = 25 << 20 // octets: max_message_size = "25MB"
	DefaultMaxLineLength  = 1 << 20  // octets: max_line_length = "1MB"
	DefaultMaxHeaderBytes = 1 << 20  // octets: "a header section over 1 MB"
	DefaultMaxReceived    = 100      // fields: "more than 100 Received: fields"
)

// Sentinel errors returned by Read. Compare with errors.Is; relay maps each
// one to its reply (docs/smtp.md).
var (
	// ErrTooBig: more than Limits.MaxSize octets were received (552 5.3.4).
	ErrTooBig = errors.New("message: message too big")
	// ErrLineTooLong: a line is longer than Limits.MaxLineLength octets,
	// not counting its line ending (552 5.3.4).
	ErrLineTooLong = errors.New("message: line too long")
	// ErrHeaderTooBig: the header section, including its closing empty
	// line, is longer than Limits.MaxHeaderBytes octets (552 5.3.4).
	ErrHeaderTooBig = errors.New("message: header section too big")
	// ErrBareLF: with Limits.RejectBareLF, a LF not preceded by CR or a CR
	// not followed by LF was found (550 5.6.0; SMTP smuggling defence).
	ErrBareLF = errors.New("message: bare LF or bare CR")
	// ErrNUL: the message contains a NUL octet (550 5.6.0).
	ErrNUL = errors.New("message: NUL octet")
	// ErrMultipleFrom: more than one From: field (RFC 5322 3.6; 550 5.6.0).
	ErrMultipleFrom = errors.New("message: more than one From: field")
	// ErrLoop: more than Limits.MaxReceived Received: fields (554 5.4.6).
	ErrLoop = errors.New("message: too many Received: fields (mail loop)")
)

// Limits are the acceptance limits Read enforces. A zero field takes the
// matching Default* constant; a negative field means "no limit".
type Limits struct {
	// MaxSize is the most octets accepted, counted as received after
	// dot-unstuffing and before any normalisation or added header.
	// Exceeding it stops reading with ErrTooBig.
	MaxSize int64
	// MaxLineLength is the longest line accepted, in octets without the
	// line ending. Legacy applications send unwrapped HTML, so this is far
	// above RFC 5322's 998; FixLongLines repairs such lines later.
	MaxLineLength int
	// MaxHeaderBytes limits the header section (ErrHeaderTooBig).
	MaxHeaderBytes int
	// MaxReceived is the most Received: fields accepted (ErrLoop).
	MaxReceived int
	// RejectBareLF refuses any bare LF or bare CR with ErrBareLF. When
	// false, every line ending (LF, CR, CRLF) is normalised to CRLF.
	RejectBareLF bool
}

func (l Limits) withDefaults() Limits {
	if l.MaxSize == 0 {
		l.MaxSize = DefaultMaxSize
	}
	if l.MaxLineLength == 0 {
		l.MaxLineLength = DefaultMaxLineLength
	}
	if l.MaxHeaderBytes == 0 {
		l.MaxHeaderBytes = DefaultMaxHeaderBytes
	}
	if l.MaxReceived == 0 {
		l.MaxReceived = DefaultMaxReceived
	}
	return l
}

// Read reads one message from r and returns it parsed and checked.
//
// r is go-smtp's DATA or BDAT reader: dot-unstuffed (RFC 5321 4.5.2
// transparency is undone there), ending at io.EOF, and holding any bare LF
// or CR exactly as the client sent them. A bare LF or
// CR never ends the message (that is go-smtp's CRLF.CRLF rule, RFC 5321
// 4.1.1.4) and here never splits a line either: it is normalised to CRLF or
// refused, so what relayd relays has one unambiguous line structure.
//
// Reading stops at the first violated streaming limit (NUL, bare LF/CR,
// line length, size) without draining r; go-smtp discards the rest. The
// header checks (ErrHeaderTooBig, ErrMultipleFrom, ErrLoop, in that order)
// run once the whole message is in. A final line without a line ending
// gets CRLF. Errors from r itself are returned wrapped, so errors.Is works
// on them (io.ErrUnexpectedEOF, smtp.ErrDataTooLarge, timeouts).
//
// The header section is everything up to the first empty line. If a line
// before it is neither a header field ("name:") nor a continuation line,
// the header section ends just before that line and the body starts with
// it; on output an empty line then separates the two (RFC 5322 2.1). A
// message whose first line is not a field thus has an empty header.
//
// Memory: the normalised message is held once (plus append growth), after
// HeaderRoom free octets for Flatten; the returned Message's fields and
// body point into that buffer. A message already in memory is better
// given to Parse, which does not copy it.
func Read(r io.Reader, lim Limits) (*Message, error) {
	lim = lim.withDefaults()
	br := readers.Get().(*bufio.Reader)
	br.Reset(r)
	n := normaliser{lim: lim, out: make([]byte, HeaderRoom, HeaderRoom+8<<10)}
	err := n.run(br)
	br.Reset(nil) // drop r before pooling
	readers.Put(br)
	if err != nil {
		return nil, err
	}
	return newMessage(n.out, HeaderRoom, lim)
}

// readerSize is the size of Read's bufio.Reader, so the longest chunk
// normaliser.feed is given (Parse cuts the same chunks).
const readerSize = 16 << 10

// readers pools Read's buffers: relayd reads one message per SMTP
// transaction, and the buffer never outlives Read.
var readers = sync.Pool{New: func() any { return bufio.NewReaderSize(nil, readerSize) }}

// newMessage splits the normalised message buf[off:] and checks its header
// section; buf[:off] is room for Flatten.
func newMessage(buf []byte, off int, lim Limits) (*Message, error) {
	h, body := splitHeader(buf[off:])
	m := &Message{h: h, body: body, buf: buf}
	if err := m.check(lim); err != nil {
		return nil, err
	}
	return m, nil
}

// check runs the header section checks (docs/smtp.md, "Message content").
func (m *Message) check(lim Limits) error {
	if lim.MaxHeaderBytes >= 0 && m.h.size()+2 > lim.MaxHeaderBytes {
		return ErrHeaderTooBig
	}
	var from, received int
	for _, f := range m.h {
		switch {
		case strings.EqualFold(f.name, "From"):
			from++
		case strings.EqualFold(f.name, "Received"):
			received++
		}
	}
	if from > 1 {
		return ErrMultipleFrom
	}
	if lim.MaxReceived >= 0 && received > lim.MaxReceived {
		return ErrLoop
	}
	return nil
}

// normaliser turns the client's octets into CRLF-only lines while
// enforcing the streaming limits.
type normaliser struct {
	lim       Limits
	out       []byte // normalised message so far
	dry       bool   // only look for the error: out stays empty
	total     int64  // octets received from r
	lineLen   int    // octets of the current, unfinished line
	pendingCR bool   // the last octet seen was a CR whose successor is unknown
}

// run consumes r to EOF. bufio.Reader.ReadSlice('\n') yields at most one
// line per chunk, so the CR search below stays linear.
func (n *normaliser) run(br *bufio.Reader) error {
	for {
		chunk, err := br.ReadSlice('\n')
		if len(chunk) > 0 {
			if e := n.feed(chunk); e != nil {
				return e
			}
		}
		switch {
		case err == nil, errors.Is(err, bufio.ErrBufferFull):
			continue
		case errors.Is(err, io.EOF):
			return n.finish()
		default:
			return fmt.Errorf("message: read: %w", err)
		}
	}
}

// feed processes one chunk of received octets.
func (n *normaliser) feed(chunk []byte) error {
	n.total += int64(len(chunk))
	if n.lim.MaxSize >= 0 && n.total > n.lim.MaxSize {
		return ErrTooBig
	}
	if bytes.IndexByte(chunk, 0) >= 0 {
		return ErrNUL
	}
	for len(chunk) > 0 {
		if n.pendingCR {
			n.pendingCR = false
			if chunk[0] == '\n' {
				chunk = chunk[1:]
				n.endLine(false)
				continue
			}
			if err := n.endLine(true); err != nil {
				return err
			}
		}
		i := indexCRLF(chunk)
		if i < 0 {
			return n.text(chunk)
		}
		if err := n.text(chunk[:i]); err != nil {
			return err
		}
		c := chunk[i]
		chunk = chunk[i+1:]
		if c == '\r' {
			n.pendingCR = true // decided by the next octet, maybe in the next chunk
			continue
		}
		if err := n.endLine(true); err != nil { // LF without CR
			return err
		}
	}
	return nil
}

// finish handles the end of input: a CR still pending is bare, and an
// unterminated last line gets its CRLF.
func (n *normaliser) finish() error {
	if n.pendingCR {
		n.pendingCR = false
		return n.endLine(true)
	}
	if n.lineLen > 0 {
		n.emit('\r', '\n')
		n.lineLen = 0
	}
	return nil
}

// text appends octets that contain no CR or LF to the current line.
func (n *normaliser) text(b []byte) error {
	n.lineLen += len(b)
	if n.lim.MaxLineLength >= 0 && n.lineLen > n.lim.MaxLineLength {
		return ErrLineTooLong
	}
	n.emit(b...)
	return nil
}

// endLine ends the current line with CRLF. bare reports a lone LF or CR,
// which RFC 5321 2.3.8 forbids in mail data; refusing it (or fixing it
// here, once) is what keeps SMTP smuggling out.
func (n *normaliser) endLine(bare bool) error {
	if bare && n.lim.RejectBareLF {
		return ErrBareLF
	}
	n.emit('\r', '\n')
	n.lineLen = 0
	return nil
}

// emit appends b to the output, unless the run is dry.
func (n *normaliser) emit(b ...byte) {
	if !n.dry {
		n.out = append(n.out, b...)
	}
}

// indexCRLF returns the index of the first CR or LF in b, or -1.
func indexCRLF(b []byte) int {
	i := bytes.IndexByte(b, '\r')
	j := bytes.IndexByte(b, '\n')
	if i < 0 || (j >= 0 && j < i) {
		return j
	}
	return i
}
