// Package smtpwire is the SMTP wire layer under go-smtp: the net.Conn that
// relayd's listeners hand go-smtp's Server, which owns what crosses the
// socket so that go-smtp only ever sees a well-formed dialogue.
//
// In relayd's data flow (docs/architecture.md) it sits between the accepted socket and relay's
// go-smtp Session (relay/session.go): client → socket → smtpwire.Conn →
// go-smtp → relay.session → policy, spool. It owns:
//
//   - command lines: only complete lines go up; lines over 2000 octets,
//     HTTP request lines, unknown verbs, and the arguments go-smtp gets
//     wrong (vet.go) are answered here and counted against max_errors;
//   - DATA and BDAT reading: BDAT chunks are followed octet by octet;
//     DATA is un-stuffed here (unstuff.go, from RFC 5321 4.5.2) into the
//     session's buffer, within the Server's budget for buffered message
//     data (Budget), and go-smtp's DATA reader gets an empty message that
//     ReadData swaps back; max_line_length and bare CR/LF are noted;
//   - timeouts: idle_timeout and session_timeout as read deadlines,
//     answered "421 4.4.2" and closed (sock.go);
//   - STARTTLS: run here, so every check above holds inside TLS too;
//   - replies: go-smtp's greeting is replaced, multi-line replies go out in
//     one write, and AUTH's undecodable-base64 answer is RFC 4954's.
//
// It exists below go-smtp rather than in a fork of it: go-smtp stays the
// protocol engine relay's Session methods plug into, and this layer fixes
// what go-smtp v0.25 cannot be trusted with on a hostile wire. It relies on
// a handful of go-smtp's behaviours (its reply texts, its BDAT and DATA
// readers); they are listed in gosmtp.go, and gosmtp_test.go drives a real
// go-smtp server through a Conn to catch an upgrade that changes one.
//
// The whole interface: New wraps an accepted socket; relay's Session finds
// the Conn again through go-smtp's Conn.Conn() and calls StartMessage at
// MAIL, BeginData/ReadData/EndData/FinishData around a message, AddError
// and Kill for max_errors and AUTH failures, TLSState for the TLS state
// and NetConn for the socket (SO_PEERCRED); IsTimeout classifies a read
// error.
package smtpwire
