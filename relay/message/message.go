package message

import (
	"encoding/binary"
	"io"
)

// Message is one mail message: its header fields, each kept as the exact
// octets received, and its body. All line endings are CRLF. A Message is
// created by Read; it is not safe for concurrent use while being modified.
//
// Header edits take a field name, which must be printable US-ASCII without
// ':' (RFC 5322 2.2); an edit with an invalid name does nothing. Values
// given to Add, Prepend and Set are sanitised: a CR/LF followed by
// whitespace is treated as a fold and removed, any other CR/LF run becomes
// one space, and NUL octets are dropped, so no value can inject a field.
// Values are written as given otherwise (encode non-ASCII text with
// mime.QEncoding first unless the message is SMTPUTF8), folded at
// whitespace to lines of at most 78 octets where possible and never more
// than 998 (RFC 5322 2.1.1, 2.2.3).
type Message struct {
	h    header
	body []byte
	buf  []byte // the storage the message was read into; body is its tail until FixLongLines replaces it
}

// Get returns the unfolded values of every field called name
// (case-insensitive), in order, without leading and trailing whitespace.
func (m *Message) Get(name string) []string { return m.h.get(name) }

// Has reports whether a field called name (case-insensitive) exists.
func (m *Message) Has(name string) bool { return m.h.has(name) }

// Del removes every field called name (case-insensitive).
func (m *Message) Del(name string) { m.h.del(name) }

// Add appends a field name: value at the end of the header section.
func (m *Message) Add(name, value string) { m.h.insert(-1, name, value) }

// Prepend inserts a field name: value at the top of the header section,
// where trace fields such as Received: belong (RFC 5321 4.4).
func (m *Message) Prepend(name, value string) { m.h.insert(0, name, value) }

// Set replaces every field called name by one field name: value, at the
// position of the first old one, or at the end if there was none.
func (m *Message) Set(name, value string) { m.h.set(name, value) }

// HeaderBytes returns a copy of the header section, including the empty
// line (CRLF) that ends it.
func (m *Message) HeaderBytes() []byte { return m.h.bytes() }

// Body returns the body, the octets after the header section. The slice
// is the Message's own storage: callers must not modify it.
func (m *Message) Body() []byte { return m.body }

// WriteTo writes the whole message to w: the header section, its empty
// line, and the body. Every line ends in CRLF and there is no bare CR or
// LF. It does not dot-stuff: the SMTP client's DATA writer does that
// (RFC 5321 4.5.2). It implements io.WriterTo.
func (m *Message) WriteTo(w io.Writer) (int64, error) {
	n, err := w.Write(m.h.bytes())
	if err != nil {
		return int64(n), err
	}
	k, err := w.Write(m.body)
	return int64(n + k), err
}

// Bytes returns the whole message as WriteTo writes it, in a new slice.
func (m *Message) Bytes() []byte {
	b := make([]byte, 0, m.Size())
	for _, f := range m.h {
		b = append(b, f.raw...)
	}
	b = append(b, '\r', '\n')
	return append(b, m.body...)
}

// Flatten returns the whole message as Bytes does, but without copying
// the body where it can: when the body is the one read (FixLongLines did
// not re-encode it) and the header section, with its empty line, fits in
// front of it (in the room Read or Parse left plus the header section as
// received), Flatten writes the header section there and returns the
// storage the message was read into from that point on. Otherwise it
// returns Bytes. The result must not be modified; for a Message from Parse
// it lies in the caller's buffer. m stays usable, its fields now in the
// rewritten header section; a later Flatten rewrites that section, and so
// changes the slice an earlier one returned.
func (m *Message) Flatten() []byte {
	at := len(m.buf) - len(m.body) // where the body starts, if it is buf's tail
	if at < 0 || (len(m.body) > 0 && &m.body[0] != &m.buf[at]) {
		return m.Bytes()
	}
	hb := m.h.bytes() // a copy: the fields may lie where it goes
	start := at - len(hb)
	if start < 0 {
		return m.Bytes()
	}
	copy(m.buf[start:at], hb)
	h := make(header, len(m.h))
	pos := start
	for i, f := range m.h {
		end := pos + len(f.raw)
		h[i] = field{name: f.name, raw: m.buf[pos:end:end]}
		pos = end
	}
	m.h = h
	return m.buf[start:len(m.buf):len(m.buf)]
}

// Size returns the octets WriteTo writes: the message as it is now, with
// normalised line endings and any edited header, which differs from the
// size as received that Limits.MaxSize checks.
func (m *Message) Size() int64 { return int64(m.h.size() + 2 + len(m.body)) }

// EightBit reports whether the header or the body has an octet of 0x80 or
// above, so the upstream must offer 8BITMIME (RFC 6152) or SMTPUTF8.
func (m *Message) EightBit() bool {
	for _, f := range m.h {
		if hasHighBit(f.raw) {
			return true
		}
	}
	return hasHighBit(m.body)
}

// hasHighBit reads b 32 octets at a time (a 100 KiB body is scanned for
// every accepted message).
func hasHighBit(b []byte) bool {
	const high = 0x8080808080808080
	for ; len(b) >= 32; b = b[32:] {
		w := binary.LittleEndian.Uint64(b) | binary.LittleEndian.Uint64(b[8:]) |
			binary.LittleEndian.Uint64(b[16:]) | binary.LittleEndian.Uint64(b[24:])
		if w&high != 0 {
			return true
		}
	}
	for _, c := range b {
		if c >= 0x80 {
			return true
		}
	}
	return false
}

// EditOp is the kind of a header Edit. The values and meanings are those of
// policy.EditOp; relay converts one to the other field by field.
type EditOp int

// The header edit operations.
const (
	// EditSet replaces every field called Name by one field with Value, at
	// the first old field's position, or appends it if there was none.
	EditSet EditOp = iota
	// EditAdd appends a field Name: Value.
	EditAdd
	// EditDelete removes every field called Name; Value is ignored.
	EditDelete
)

// Edit is one header edit decided elsewhere (policy's header rewrites,
// [[profile]] in docs/relayd.toml.5.md). Name is case-insensitive.
type Edit struct {
	Op    EditOp
	Name  string
	Value string
}

// ApplyEdits applies edits in order, with the rules of Set, Add and Del.
// An edit with an unknown Op is ignored.
func (m *Message) ApplyEdits(edits []Edit) {
	for _, e := range edits {
		switch e.Op {
		case EditSet:
			m.Set(e.Name, e.Value)
		case EditAdd:
			m.Add(e.Name, e.Value)
		case EditDelete:
			m.Del(e.Name)
		}
	}
}

// compile-time check: *Message is an io.WriterTo.
var _ io.WriterTo = (*Message)(nil)
