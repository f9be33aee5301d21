package main

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"math/rand/v2"
	"time"
)

// The messages of the attachments phase are built as a mail client builds
// an invoice mail: multipart/mixed with a quoted-printable text/plain body
// and an application/pdf attachment in base64 lines of 76 characters.

// pdfLike returns sizeKB KiB that look like a PDF file to a MIME walker
// (it only sees the declared type) and do not compress: a PDF header, seeded
// pseudo-random bytes, the end-of-file marker.
func pdfLike(sizeKB int) []byte {
	const head, tail = "%PDF-1.4\n%\xe2\xe3\xcf\xd3\n", "\n%%EOF\n"
	b := make([]byte, 0, sizeKB<<10)
	b = append(b, head...)
	r := rand.New(rand.NewPCG(19, 2026))
	for len(b) < sizeKB<<10-len(tail) {
		b = append(b, byte(r.Uint32()))
	}
	return append(b, tail...)
}

// attachMessage is message i of the attachments phase: a text body and pdf
// as invoice-i.pdf, whose first line carries i so that no two attachments
// are the same file. CRLF line endings.
func attachMessage(i int, pdf []byte) []byte { return newAttachMaker(pdf).message(i) }

// attachMaker makes the attachments phase's messages without encoding the
// whole file for each: the file's first line, the only one that differs,
// is 57 octets, one base64 line of 76 characters, so the encoded rest is
// the same for every message and is encoded once. The load generator runs
// on the machine it measures, and its CPU is taken from the daemon's.
type attachMaker struct {
	rest []byte // the base64 lines of pdf after its first line, CRLF between them
}

// invoicePrefix is the file's first line for message i: 57 octets.
func invoicePrefix(i int) []byte { return fmt.Appendf(nil, "%%PDF-1.4 %% invoice %-37d\n", i) }

func newAttachMaker(pdf []byte) *attachMaker {
	enc := base64.StdEncoding.EncodeToString(pdf[9:]) // after "%PDF-1.4\n"
	var b bytes.Buffer
	for len(enc) > 76 {
		b.WriteString(enc[:76])
		b.WriteString("\r\n")
		enc = enc[76:]
	}
	b.WriteString(enc)
	return &attachMaker{rest: b.Bytes()}
}

// message is message i.
func (m *attachMaker) message(i int) []byte { return m.appendMessage(nil, i) }

// appendMessage appends message i to dst: a sender reuses its buffer, so
// the generator does not allocate (and the kernel fault in) 140 KB per
// message on the machine it measures.
func (m *attachMaker) appendMessage(dst []byte, i int) []byte {
	boundary := fmt.Sprintf("=_relayd-bench_%d_%x", i, time.Now().UnixNano())
	if cap(dst) < len(m.rest)+2048 {
		dst = make([]byte, 0, len(m.rest)+2048)
	}
	b := bytes.NewBuffer(dst[:0])
	fmt.Fprintf(b, "From: Bench Sender <sender@bench.test>\r\nTo: <%d.rcpt@bench.test>\r\n"+
		"Subject: Invoice %d\r\nDate: %s\r\nMessage-ID: <%d.%d@bench.test>\r\nMIME-Version: 1.0\r\n"+
		"Content-Type: multipart/mixed; boundary=\"%s\"\r\n\r\n"+
		"This is a multi-part message in MIME format.\r\n\r\n--%s\r\n"+
		"Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n"+
		"Hello,\r\n\r\nplease find attached invoice %d. Payment is due within 30 days.\r\n\r\n"+
		"Kind regards,\r\nAccounts =E2=80=94 relayd-bench\r\n\r\n--%s\r\n"+
		"Content-Type: application/pdf; name=\"invoice-%d.pdf\"\r\nContent-Transfer-Encoding: base64\r\n"+
		"Content-Disposition: attachment; filename=\"invoice-%d.pdf\"\r\n\r\n",
		i, i, time.Now().Format(time.RFC1123Z), time.Now().UnixNano(), i, boundary, boundary, i, boundary, i, i)
	b.WriteString(base64.StdEncoding.EncodeToString(invoicePrefix(i))) // 76 characters
	b.WriteString("\r\n")
	b.Write(m.rest)
	fmt.Fprintf(b, "\r\n--%s--\r\n", boundary)
	return b.Bytes()
}
