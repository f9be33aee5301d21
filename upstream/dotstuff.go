package upstream

import (
	"bufio"
	"bytes"
)

// writeDotStuffed writes body as the DATA payload (RFC 5321 §4.5.2): a
// line starting with "." gets another ".", a bare LF becomes CRLF, a body
// that does not end with a line ending gets CRLF, and ".\r\n" ends it.
//
// It writes the same octets as textproto.DotWriter (FuzzDotStuff holds it
// to that) but a line at a time: spooled bodies are CRLF-only already, and
// DotWriter's octet-at-a-time state machine was the delivery side's largest
// cost for 100 KB messages.
func writeDotStuffed(w *bufio.Writer, body []byte) error {
	for len(body) > 0 {
		if body[0] == '.' {
			w.WriteByte('.')
		}
		i := bytes.IndexByte(body, '\n')
		if i < 0 { // a last line without a line ending
			w.Write(body)
			w.WriteString("\r\n")
			break
		}
		if i == 0 || body[i-1] != '\r' {
			w.Write(body[:i])
			w.WriteString("\r\n")
		} else {
			w.Write(body[:i+1])
		}
		body = body[i+1:]
	}
	w.WriteString(".\r\n")
	return w.Flush()
}
