// Package message owns the octets of one mail message on its way through
// relayd (docs/architecture.md, "Data flow"):
//
//	SMTP client -> relay (listener, session, limits) -> policy -> spool -> upstream
//	                 ^ message.Read or Parse, checks, header edits, FixLongLines, Flatten
//	                                            result -> message.DSN (bounces)
//
// Implementation summary:
//
//   - Read is relay's acceptance step for DATA and BDAT (docs/smtp.md). It streams
//     the dot-unstuffed reader go-smtp hands the session through a
//     bufio.Reader, enforces the size, line-length and NUL limits while
//     reading, normalises every line ending to CRLF (or refuses bare LF/CR,
//     the SMTP smuggling defence), and then splits the header section and
//     checks it (header size, one From:, Received: loop count). Each check has
//     its own sentinel error so relay maps it to exactly one SMTP reply.
//   - Parse is Read for a message already in memory (relay's DATA fast path
//     collects it): same results, but a message that needs no change (CRLF
//     only, within the limits) is checked in place and not copied.
//   - Flatten gives the message to spool (Bytes) without copying the body
//     either: the edited header section is written in the room Read and
//     Parse leave in front of the message (HeaderRoom).
//   - Message keeps the raw bytes of every header field, so fields relayd
//     does not touch leave byte-identical (DKIM signs them later, at delivery
//     time). Get/Add/Prepend/Set/Del and ApplyEdits are the only header edits.
//   - FixLongLines makes every line at most 998 octets (RFC 5322 2.1.1) by
//     re-encoding only the MIME leaf parts that hold a long line.
//   - Downgrade makes a message 7-bit for an upstream without 8BITMIME
//     on the same MIME walk, re-encoding only the 8-bit leaves;
//     8-bit header fields cannot be (ErrEightBitHeader: a 5.6.3 bounce).
//   - DSN builds the RFC 3464 / RFC 6522 delivery status notification that the
//     delivery side sends for bounces and "still trying" warnings; ParseDSN
//     reads one back.
//
// Package message does no I/O besides the reader given to Read and the
// writer given to WriteTo, and imports only the standard library. A
// *Message is not safe for concurrent use; it may be read from several
// goroutines once nobody modifies it.
package message
