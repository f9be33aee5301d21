package relay

// TestHostileTable is one table of hostile SMTP clients (issue 7): each case
// is a raw client script against the real listener (plain, or STARTTLS with a
// certificate generated here), asserting the exact reply code and enhanced
// code of every step (SPEC §4, RFC 5321/3030/3207/4954) and exactly what
// reached the upstream sink: nothing, or the listed messages with their
// envelope and content. A failing case prints its full transcript.
//
// Everything runs on 127.0.0.0/8. The per-IP cases dial from 127.0.0.2 and
// 127.0.0.3, which Linux routes on lo without configuration.

import (
	"bufio"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"errors"
	"fmt"
	"math/big"
	"net"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"
)

// Identities used by the scripts.
const (
	hFrom = "app@example.com"
	hTo   = "someone@example.org"
	hUser = "crm"
	hPass = "s3cret-pw"
)

// hBody is an ordinary message; cases that do not test content send it.
const hBody = "From: App <app@example.com>\r\nTo: someone@example.org\r\nSubject: hostile\r\n\r\nHello.\r\n"

// hSmuggled is the second transaction a smuggling payload tries to start.
const hSmuggled = "MAIL FROM:<evil@example.com>\r\nRCPT TO:<victim@example.org>\r\nDATA\r\nSubject: smuggled\r\n\r\nx\r\n"

type hOp int

const (
	hOpCmd          hOp = iota // write data (if any), then read one reply when want != ""
	hOpDial                    // open connection conn from src (no read)
	hOpDialEventual            // dial conn from src until its banner matches want (bounded 5 s)
	hOpTLS                     // client TLS handshake on conn
	hOpClosed                  // the server closes conn within 5 s; no 2xx/3xx reply before EOF
	hOpDrip                    // write data one octet per every until a reply arrives, then the rest
	hOpHangUp                  // the client closes conn
	hOpShutWrite               // the client closes its sending side of conn (TCP half-close)
)

// hstep is one step of a client script.
type hstep struct {
	op       hOp
	conn     int
	data     string
	want     string   // "CODE" or "CODE X.Y.Z" of the reply's last line
	has      []string // substrings of the whole reply
	lacks    []string
	src      string        // hOpDial: source address
	minDelay time.Duration // the reply must take at least this long (AUTH failure delay)
	every    time.Duration // hOpDrip: pace
}

// hmsg is one message the sink must receive.
type hmsg struct {
	from  string
	to    []string
	has   []string // substrings of the delivered octets
	lacks []string
	wire  []string // substrings of the sink's wire transcript (both directions)
}

type hCase struct {
	name    string
	cfg     func(*Config) // listener and relay settings on top of baseConfig
	tls     bool          // listener tls = "starttls" with a generated certificate
	steps   []hstep
	deliver []hmsg // exactly these, in order; nil: nothing reaches the sink
	// limit, when set, names a known limitation that keeps relayd from the
	// behaviour the case asserts; the case is skipped with that text.
	limit string
}

// Step constructors.

func hSend(data, want string, has ...string) hstep {
	return hstep{op: hOpCmd, data: data, want: want, has: has}
}
func hWrite(data string) hstep { return hstep{op: hOpCmd, data: data} }
func hExpect(want string, has ...string) hstep {
	return hstep{op: hOpCmd, want: want, has: has}
}
func hClosed() hstep    { return hstep{op: hOpClosed} }
func hShutWrite() hstep { return hstep{op: hOpShutWrite} }
func hTLS() hstep       { return hstep{op: hOpTLS} }
func hDial(conn int, src string) hstep {
	return hstep{op: hOpDial, conn: conn, src: src}
}
func hOn(conn int, s hstep) hstep { s.conn = conn; return s }
func hEHLO() hstep                { return hSend("EHLO client.test\r\n", "250") }
func hQuit() hstep                { return hSend("QUIT\r\n", "221 2.0.0") }
func hQueued(data string) hstep   { return hSend(data, "250 2.0.0", "Ok: queued as ") }

// seq flattens hstep and []hstep arguments.
func hSeq(parts ...any) []hstep {
	var out []hstep
	for _, p := range parts {
		switch v := p.(type) {
		case hstep:
			out = append(out, v)
		case []hstep:
			out = append(out, v...)
		default:
			panic(fmt.Sprintf("seq: %T", p))
		}
	}
	return out
}

// std is a plain session start: dial from 127.0.0.1, banner, EHLO.
func hStd(parts ...any) []hstep {
	return hSeq(hDial(0, "127.0.0.1"), hExpect("220", "relay.test ESMTP relayd"), hEHLO(), hSeq(parts...))
}

// tx opens the usual transaction and answers 354 to DATA.
func hTx() []hstep {
	return hSeq(
		hSend("MAIL FROM:<"+hFrom+">\r\n", "250 2.0.0"),
		hSend("RCPT TO:<"+hTo+">\r\n", "250 2.0.0"),
		hSend("DATA\r\n", "354"),
	)
}

// bdat is a BDAT command with its chunk.
func hBDAT(chunk string, last bool) string {
	l := ""
	if last {
		l = " LAST"
	}
	return fmt.Sprintf("BDAT %d%s\r\n%s", len(chunk), l, chunk)
}

func hB64(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }

// one is "exactly one message from hFrom to hTo containing has".
func hOne(has ...string) []hmsg {
	return []hmsg{{from: hFrom, to: []string{hTo}, has: has}}
}

func hReject(c *Config)              { c.BareLF = BareLFReject }
func hAuthNone(c *Config)            { c.Listeners[0].Auth = "none" }
func hAuthRequired(c *Config)        { c.Listeners[0].Auth = "required" }
func hMaxSize(n int64) func(*Config) { return func(c *Config) { c.Listeners[0].MaxMessageSize = n } }
func hIdle(d time.Duration) func(*Config) {
	return func(c *Config) { c.Listeners[0].IdleTimeout = d }
}

var hPlainAuth = hB64("\x00" + hUser + "\x00" + hPass)

func hostileCases() []hCase {
	var cases []hCase
	add := func(c ...hCase) { cases = append(cases, c...) }

	// --- SMTP smuggling with bare LF / bare CR, both bare_lf modes (SPEC §4).
	type smuggle struct{ name, data string }
	mid := func(sep string) string { return "Subject: smuggle\r\n\r\nfirst" + sep + hSmuggled + ".\r\n" }
	smuggles := []smuggle{
		{"LF.LF", mid("\n.\n")},
		{"CRLF.LF", mid("\r\n.\n")},
		{"LF.CRLF", mid("\n.\r\n")},
		{"CR.CRLF", mid("\r.\r\n")},
		{"CRLF.CR", mid("\r\n.\r")},
		{"CR.CR", mid("\r.\r")},
		{"LF.CR", mid("\n.\r")},
		{"dot-LF at start", ".\n" + hSmuggled + ".\r\n"},
	}
	for _, s := range smuggles {
		add(hCase{
			name:  "smuggling/normalize/" + s.name,
			steps: hStd(hTx(), hQueued(s.data), hQuit()),
			deliver: []hmsg{{from: hFrom, to: []string{hTo},
				has: []string{"MAIL FROM:<evil@example.com>\r\n", "Subject: smuggled"}}},
		}, hCase{
			name:  "smuggling/reject/" + s.name,
			cfg:   hReject,
			steps: hStd(hTx(), hSend(s.data, "550 5.6.0"), hQuit()),
		})
	}
	// Trailing: the bare sequence is the last thing before the real end. A
	// NOOP after it must be message text, not a command: the only replies
	// are the final one and QUIT's.
	for _, s := range []smuggle{{"LF.LF", "\n.\n"}, {"CRLF.LF", "\r\n.\n"}, {"LF.CRLF", "\n.\r\n"}} {
		data := "Subject: trailing\r\n\r\nbody" + s.data + "NOOP\r\n"
		add(hCase{
			name:    "smuggling/normalize/trailing " + s.name,
			steps:   hStd(hTx(), hWrite(data), hQueued("\r\n.\r\n"), hQuit()),
			deliver: hOne("body\r\n", "NOOP\r\n"),
		}, hCase{
			name:  "smuggling/reject/trailing " + s.name,
			cfg:   hReject,
			steps: hStd(hTx(), hWrite(data), hSend("\r\n.\r\n", "550 5.6.0"), hQuit()),
		})
	}
	// Split across TCP writes: the bare sequence straddles read boundaries.
	split := hSeq(hWrite("Subject: split\r\n\r\nfirst\r\n."), hWrite("\n"), hWrite(hSmuggled))
	add(hCase{
		name:    "smuggling/normalize/CRLF.LF split over writes",
		steps:   hStd(hTx(), split, hQueued(".\r\n"), hQuit()),
		deliver: hOne("MAIL FROM:<evil@example.com>\r\n"),
	}, hCase{
		name:  "smuggling/reject/CRLF.LF split over writes",
		cfg:   hReject,
		steps: hStd(hTx(), split, hSend(".\r\n", "550 5.6.0"), hQuit()),
	})
	// A line that is only "." after normalisation must be dot-stuffed
	// upstream, or the upstream would end the message there.
	add(hCase{
		name:  "smuggling/normalize/CR.CRLF is dot-stuffed upstream",
		steps: hStd(hTx(), hQueued(mid("\r.\r\n")), hQuit()),
		deliver: []hmsg{{from: hFrom, to: []string{hTo}, has: []string{"first\r\n.\r\nMAIL FROM:<evil@example.com>\r\n"},
			wire: []string{"first\r\n..\r\nMAIL FROM:<evil@example.com>\r\n"}}},
	})

	// CRLF.CRLF ends the data whatever came before it: here a bare CR
	// (".\r\r\n"), which go-smtp's reader took for part of an end line
	// and then read on, so NOOP became message text (issue 14.2).
	bareCREnd := "Subject: p2\r\n\r\nbody\r\n.\r\r\n.\r\nNOOP\r\n"
	add(hCase{
		name:    "smuggling/normalize/CRLF.CRLF after a bare CR ends the data",
		steps:   hStd(hTx(), hQueued(bareCREnd), hExpect("250 2.0.0", "successfully done nothing"), hQuit()),
		deliver: []hmsg{{from: hFrom, to: []string{hTo}, has: []string{"body\r\n.\r\n\r\n"}, lacks: []string{"NOOP"}}},
	}, hCase{
		name:  "smuggling/reject/CRLF.CRLF after a bare CR ends the data",
		cfg:   hReject,
		steps: hStd(hTx(), hSend(bareCREnd, "550 5.6.0"), hExpect("250 2.0.0", "successfully done nothing"), hQuit()),
	})
	// A "." ended by a bare CR is a line of its own, not a stuffed dot:
	// normalised, the lines are "body", ".", "X" (go-smtp dropped ".\r";
	// issue 14.3), and the "." is stuffed on the way out.
	add(hCase{
		name:  "smuggling/normalize/dot and bare CR at a line start are kept",
		steps: hStd(hTx(), hQueued("Subject: p3\r\n\r\nbody\r\n.\rX\r\n.\r\n"), hQuit()),
		deliver: []hmsg{{from: hFrom, to: []string{hTo}, has: []string{"\r\n\r\nbody\r\n.\r\nX\r\n"},
			wire: []string{"body\r\n..\r\nX\r\n"}}},
	}, hCase{
		name:  "smuggling/reject/dot and bare CR at a line start",
		cfg:   hReject,
		steps: hStd(hTx(), hSend("Subject: p3\r\n\r\nbody\r\n.\rX\r\n.\r\n", "550 5.6.0"), hQuit()),
	}, hCase{
		name:    "smuggling/normalize/stuffed dot after a bare LF is un-stuffed",
		steps:   hStd(hTx(), hQueued("Subject: lf\r\n\r\nbody\n..x\r\n.\r\n"), hQuit()),
		deliver: []hmsg{{from: hFrom, to: []string{hTo}, has: []string{"body\r\n.x\r\n"}, wire: []string{"body\r\n..x\r\n"}}},
	})

	// --- BDAT / CHUNKING (RFC 3030; SPEC §4 "BDAT chunks get the same checks").
	add(hCase{
		name: "bdat/two chunks",
		steps: hStd(hSend("MAIL FROM:<"+hFrom+">\r\n", "250 2.0.0"), hSend("RCPT TO:<"+hTo+">\r\n", "250 2.0.0"),
			hSend(hBDAT("Subject: chunked\r\n\r\npart one, ", false), "250 2.0.0"),
			hQueued(hBDAT("part two\r\n", true)), hQuit()),
		deliver: hOne("Subject: chunked\r\n", "part one, part two\r\n"),
	}, hCase{
		name: "bdat/CRLF.CRLF inside a chunk does not end the message",
		steps: hStd(hSend("MAIL FROM:<"+hFrom+">\r\n", "250 2.0.0"), hSend("RCPT TO:<"+hTo+">\r\n", "250 2.0.0"),
			hSend(hBDAT("Subject: dots\r\n\r\nfirst\r\n.\r\n"+hSmuggled, false), "250 2.0.0"),
			hQueued(hBDAT("last line\r\n", true)), hQuit()),
		deliver: []hmsg{{from: hFrom, to: []string{hTo},
			has:  []string{"first\r\n.\r\nMAIL FROM:<evil@example.com>\r\n", "last line\r\n"},
			wire: []string{"first\r\n..\r\nMAIL FROM:<evil@example.com>\r\n"}}},
	}, hCase{
		name: "bdat/normalize/LAST with smuggled bare LF",
		steps: hStd(hSend("MAIL FROM:<"+hFrom+">\r\n", "250 2.0.0"), hSend("RCPT TO:<"+hTo+">\r\n", "250 2.0.0"),
			hQueued(hBDAT("Subject: b\r\n\r\nfirst\n.\n"+hSmuggled+".\r\n", true)), hQuit()),
		deliver: hOne("first\r\n.\r\nMAIL FROM:<evil@example.com>\r\n"),
	}, hCase{
		name: "bdat/reject/LAST with smuggled bare LF",
		cfg:  hReject,
		steps: hStd(hSend("MAIL FROM:<"+hFrom+">\r\n", "250 2.0.0"), hSend("RCPT TO:<"+hTo+">\r\n", "250 2.0.0"),
			hSend(hBDAT("Subject: b\r\n\r\nfirst\n.\n"+hSmuggled+".\r\n", true), "550 5.6.0"), hQuit()),
	}, hCase{
		name: "bdat/chunk over max_message_size",
		cfg:  hMaxSize(1000),
		steps: hStd(hSend("MAIL FROM:<"+hFrom+">\r\n", "250 2.0.0"), hSend("RCPT TO:<"+hTo+">\r\n", "250 2.0.0"),
			hSend(hBDAT("Subject: big\r\n\r\n"+strings.Repeat("x", 1500)+"\r\n", true), "552 5.3.4"),
			// the transaction is gone: a new MAIL is not nested
			hSend("MAIL FROM:<"+hFrom+">\r\n", "250 2.0.0"), hQuit()),
	}, hCase{
		name: "bdat/chunks add up over max_message_size",
		cfg:  hMaxSize(1000),
		steps: hStd(hSend("MAIL FROM:<"+hFrom+">\r\n", "250 2.0.0"), hSend("RCPT TO:<"+hTo+">\r\n", "250 2.0.0"),
			hSend(hBDAT("Subject: big\r\n\r\n"+strings.Repeat("x", 600)+"\r\n", false), "250 2.0.0"),
			hSend(hBDAT(strings.Repeat("y", 600)+"\r\n", true), "552 5.3.4"), hQuit()),
	}, hCase{
		// RFC 3030 2: a chunk is exactly its size. One cut short by the
		// end of the connection is no message (issue 14.1).
		name: "bdat/connection ends inside the LAST chunk",
		steps: hStd(hSend("MAIL FROM:<"+hFrom+">\r\n", "250 2.0.0"), hSend("RCPT TO:<"+hTo+">\r\n", "250 2.0.0"),
			hWrite("BDAT 100 LAST\r\nSubject: cut\r\n\r\n"+strings.Repeat("c", 50-len("Subject: cut\r\n\r\n"))),
			hShutWrite(), hClosed()),
	}, hCase{
		name: "bdat/connection ends inside a second chunk",
		steps: hStd(hSend("MAIL FROM:<"+hFrom+">\r\n", "250 2.0.0"), hSend("RCPT TO:<"+hTo+">\r\n", "250 2.0.0"),
			hSend(hBDAT("Subject: cut\r\n\r\nfirst\r\n", false), "250 2.0.0"),
			hWrite("BDAT 100 LAST\r\n"+strings.Repeat("c", 50)), hShutWrite(), hClosed()),
	}, hCase{
		name: "bdat/without MAIL is 503 and its chunk is never a command",
		steps: hStd(hSend(hBDAT("MAIL FROM:<evil@example.com>\r\n", true), "502 5.5.1"),
			hSend("MAIL FROM:<"+hFrom+">\r\n", "250 2.0.0"), hQuit()),
	}, hCase{
		name: "bdat/then DATA is 503",
		steps: hStd(hSend("MAIL FROM:<"+hFrom+">\r\n", "250 2.0.0"), hSend("RCPT TO:<"+hTo+">\r\n", "250 2.0.0"),
			hSend(hBDAT("Subject: mixed\r\n\r\nchunk\r\n", false), "250 2.0.0"),
			hSend("DATA\r\n", "502 5.5.1"),
			hQueued(hBDAT("", true)), hQuit()),
		deliver: hOne("Subject: mixed\r\n", "chunk\r\n"),
	}, hCase{
		name: "bdat/NUL in chunk",
		steps: hStd(hSend("MAIL FROM:<"+hFrom+">\r\n", "250 2.0.0"), hSend("RCPT TO:<"+hTo+">\r\n", "250 2.0.0"),
			hSend(hBDAT("Subject: nul\r\n\r\na\x00b\r\n", true), "550 5.6.0"), hQuit()),
	}, hCase{
		name: "bdat/HTTP-looking line in a chunk is message text",
		steps: hStd(hSend("MAIL FROM:<"+hFrom+">\r\n", "250 2.0.0"), hSend("RCPT TO:<"+hTo+">\r\n", "250 2.0.0"),
			hQueued(hBDAT("Subject: http\r\n\r\nGET / HTTP/1.1\r\nHost: example.org\r\n", true)), hQuit()),
		deliver: hOne("\r\n\r\nGET / HTTP/1.1\r\nHost: example.org\r\n"),
	}, hCase{
		name: "bdat/3000-octet line in a chunk (under max_line_length)",
		steps: hStd(hSend("MAIL FROM:<"+hFrom+">\r\n", "250 2.0.0"), hSend("RCPT TO:<"+hTo+">\r\n", "250 2.0.0"),
			hQueued(hBDAT("Subject: long\r\n\r\n"+strings.Repeat("z", 3000)+"\r\n", true)), hQuit()),
		deliver: hOne("Subject: long\r\n"),
	})

	// --- The Server's budget for buffered message data (issue 14.8): a
	// message that does not fit is read to its end and refused with
	// 452 4.3.1; the session goes on, and a message that fits passes.
	budget := func(c *Config) { c.MaxBufferedBytes = 256 << 10 }
	big := "Subject: big\r\n\r\n" + strings.Repeat("0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcde\r\n", 5000)
	add(hCase{
		name: "budget/DATA message over the buffer budget is 452",
		cfg:  budget,
		steps: hStd(hTx(), hSend(big+".\r\n", "452 4.3.1"), hSend("NOOP\r\n", "250 2.0.0"),
			hTx(), hQueued(hBody+".\r\n"), hQuit()),
		deliver: hOne("Subject: hostile"),
	}, hCase{
		name: "budget/BDAT message over the buffer budget is 452",
		cfg:  budget,
		steps: hStd(hSend("MAIL FROM:<"+hFrom+">\r\n", "250 2.0.0"), hSend("RCPT TO:<"+hTo+">\r\n", "250 2.0.0"),
			hSend(hBDAT(big, true), "452 4.3.1"),
			hSend("MAIL FROM:<"+hFrom+">\r\n", "250 2.0.0"), hSend("RCPT TO:<"+hTo+">\r\n", "250 2.0.0"),
			hQueued(hBDAT(hBody, true)), hQuit()),
		deliver: hOne("Subject: hostile"),
	})

	// --- Command sequence. RFC 5321 4.1.4 prefers 503 for commands out of
	// order; go-smtp answers those it checks itself (MAIL before EHLO, RCPT
	// before MAIL, DATA/BDAT before RCPT, DATA after BDAT) with a hard-coded
	// 502 5.5.1, and relayd inherits it. A nested MAIL, which relay checks,
	// is 503.
	add(hCase{
		name: "sequence/second MAIL in a transaction",
		steps: hStd(hSend("MAIL FROM:<"+hFrom+">\r\n", "250 2.0.0"), hSend("MAIL FROM:<evil@example.com>\r\n", "503 5.5.1"),
			hSend("RCPT TO:<"+hTo+">\r\n", "250 2.0.0"), hSend("DATA\r\n", "354"), hQueued(hBody+".\r\n"), hQuit()),
		deliver: hOne("Subject: hostile"),
	}, hCase{
		name:  "sequence/RCPT before MAIL",
		steps: hStd(hSend("RCPT TO:<"+hTo+">\r\n", "502 5.5.1"), hQuit()),
	}, hCase{
		name:  "sequence/DATA before RCPT",
		steps: hStd(hSend("MAIL FROM:<"+hFrom+">\r\n", "250 2.0.0"), hSend("DATA\r\n", "502 5.5.1"), hQuit()),
	}, hCase{
		name:  "sequence/MAIL before EHLO",
		steps: hSeq(hDial(0, "127.0.0.1"), hExpect("220"), hSend("MAIL FROM:<"+hFrom+">\r\n", "502 5.5.1"), hQuit()),
	})

	// --- max_errors is relayd's limit (SPEC §3, §8), not go-smtp's
	// hard-coded "500 5.5.1 Too many errors" at the fourth (issue 14.5):
	// max_errors errors are answered, the next one is 421 and close.
	maxErr := func(n int) func(*Config) { return func(c *Config) { c.Listeners[0].MaxErrors = n } }
	var tenUnknown []hstep
	for range 10 {
		tenUnknown = append(tenUnknown, hSend("XYZZY\r\n", "500 5.5.2"))
	}
	var tenPipelined []hstep
	for range 10 {
		tenPipelined = append(tenPipelined, hExpect("500 5.5.2"))
	}
	add(hCase{
		name:  "errors/max_errors = 10 unknown commands, then 421",
		cfg:   maxErr(10),
		steps: hStd(tenUnknown, hSend("NOOP\r\n", "250 2.0.0"), hSend("XYZZY\r\n", "421 4.7.0"), hClosed()),
	}, hCase{
		name: "errors/max_errors with pipelined junk: nothing after the 421 runs",
		cfg:  maxErr(10),
		steps: hStd(hWrite(strings.Repeat("XYZZY\r\n", 11)+"MAIL FROM:<evil@example.com>\r\n"), tenPipelined,
			hExpect("421 4.7.0"), hClosed()),
	}, hCase{
		name: "errors/every kind of line-level error counts",
		cfg:  maxErr(4),
		steps: hStd(hSend("XY\r\n", "500 5.5.2"), hSend("AUTH\r\n", "501 5.5.2"),
			hSend("MAIL FROM:<>x\r\n", "501 5.5.2"), hSend("MAIL FROM:<> SIZE=1 SIZE=1\r\n", "501 5.5.4"),
			hSend("\r\n", "421 4.7.0"), hClosed()),
	}, hCase{
		name: "errors/session refusals and line errors share the count",
		cfg:  func(c *Config) { c.Listeners[0].MaxErrors = 2; c.Listeners[0].MaxMessageSize = 1000 },
		steps: hStd(hSend("MAIL FROM:<"+hFrom+"> SIZE=1001\r\n", "552 5.3.4"), hSend("MAIL FROM:<"+hFrom+">\r\n", "250 2.0.0"),
			hSend("MAIL FROM:<"+hFrom+">\r\n", "503 5.5.1"), hSend("XYZZY\r\n", "421 4.7.0"), hClosed()),
	})

	// --- AUTH (SPEC §4, RFC 4954).
	add(hCase{
		name: "auth/listener auth=none offers no AUTH and refuses it",
		cfg:  hAuthNone,
		steps: hSeq(hDial(0, "127.0.0.1"), hExpect("220"),
			hstep{op: hOpCmd, data: "EHLO client.test\r\n", want: "250", has: []string{"PIPELINING"}, lacks: []string{"AUTH"}},
			hSend("AUTH PLAIN "+hPlainAuth+"\r\n", "538 5.7.11"), hQuit()),
	}, hCase{
		// RFC 4954 4: 501 5.5.2 (go-smtp's own answer was 454 4.7.0;
		// issue 14.6).
		name:  "auth/bad base64 initial response",
		steps: hStd(hSend("AUTH PLAIN !!!not-base64!!!\r\n", "501 5.5.2"), hSend("AUTH PLAIN "+hPlainAuth+"\r\n", "235 2.0.0"), hQuit()),
	}, hCase{
		name: "auth/bad base64 in LOGIN response",
		steps: hStd(hSend("AUTH LOGIN\r\n", "334", "VXNlcm5hbWU6"), hSend("%%%%\r\n", "501 5.5.2"),
			hSend("MAIL FROM:<"+hFrom+">\r\n", "250 2.0.0"), hQuit()),
	}, hCase{
		name: "auth/bad base64 in PLAIN response, then AUTH succeeds",
		steps: hStd(hSend("AUTH PLAIN\r\n", "334"), hSend("not base64!\r\n", "501 5.5.2"),
			hSend("AUTH PLAIN "+hPlainAuth+"\r\n", "235 2.0.0"), hQuit()),
	}, hCase{
		// go-smtp answered 502 5.5.4 (issue 14.6).
		name:  "auth/AUTH without a mechanism",
		steps: hStd(hSend("AUTH\r\n", "501 5.5.2"), hSend("AUTH   \r\n", "501 5.5.2"), hQuit()),
	}, hCase{
		name: "auth/PLAIN authzid differs from user",
		steps: hStd(hstep{op: hOpCmd, data: "AUTH PLAIN " + hB64("admin\x00"+hUser+"\x00"+hPass) + "\r\n", want: "535 5.7.8",
			minDelay: time.Second}, hQuit()),
	}, hCase{
		name: "auth/cancelled with *",
		steps: hStd(hSend("AUTH PLAIN\r\n", "334"), hSend("*\r\n", "501 5.0.0"),
			hSend("AUTH PLAIN "+hPlainAuth+"\r\n", "235 2.0.0"), hQuit()),
	}, hCase{
		name: "auth/too many failures is 421 and close",
		steps: hStd(
			hstep{op: hOpCmd, data: "AUTH PLAIN " + hB64("\x00"+hUser+"\x00wrong1") + "\r\n", want: "535 5.7.8", minDelay: time.Second},
			hstep{op: hOpCmd, data: "AUTH LOGIN " + hB64(hUser) + "\r\n", want: "334", has: []string{"UGFzc3dvcmQ6"}},
			hstep{op: hOpCmd, data: hB64("wrong2") + "\r\n", want: "535 5.7.8", minDelay: time.Second},
			hstep{op: hOpCmd, data: "AUTH PLAIN " + hB64("\x00"+hUser+"\x00wrong3") + "\r\n", want: "421 4.7.0", minDelay: time.Second},
			hClosed()),
	}, hCase{
		name: "auth/inside a transaction is 503",
		steps: hStd(hSend("MAIL FROM:<"+hFrom+">\r\n", "250 2.0.0"), hSend("AUTH PLAIN "+hPlainAuth+"\r\n", "503 5.5.1"),
			hSend("RCPT TO:<"+hTo+">\r\n", "250 2.0.0"), hSend("DATA\r\n", "354"), hQueued(hBody+".\r\n"), hQuit()),
		deliver: []hmsg{{from: hFrom, to: []string{hTo}, lacks: []string{"authenticated as"}}},
	}, hCase{
		name: "auth/LOGIN succeeds, a second AUTH is 503",
		steps: hStd(hSend("AUTH LOGIN\r\n", "334", "VXNlcm5hbWU6"), hSend(hB64(hUser)+"\r\n", "334", "UGFzc3dvcmQ6"),
			hSend(hB64(hPass)+"\r\n", "235 2.0.0"), hSend("AUTH PLAIN "+hPlainAuth+"\r\n", "503 5.5.1"),
			hTx(), hQueued(hBody+".\r\n"), hQuit()),
		deliver: hOne("with ESMTPA", "(authenticated as crm)"),
	}, hCase{
		name: "auth/required: MAIL before AUTH is 530",
		cfg:  hAuthRequired,
		steps: hStd(hSend("MAIL FROM:<"+hFrom+">\r\n", "530 5.7.0"), hSend("AUTH PLAIN "+hPlainAuth+"\r\n", "235 2.0.0"),
			hTx(), hQueued(hBody+".\r\n"), hQuit()),
		deliver: hOne("(authenticated as crm)"),
	}, hCase{
		name:  "auth/unknown mechanism",
		steps: hStd(hSend("AUTH CRAM-MD5\r\n", "504 5.7.4"), hQuit()),
	})

	// --- Address injection and validation (SPEC §4, RFC 5321 4.1.2, 4.5.3.1, RFC 6531).
	hOKMail := hSend("MAIL FROM:<"+hFrom+">\r\n", "250 2.0.0")
	hOKRcpt := hSend("RCPT TO:<"+hTo+">\r\n", "250 2.0.0")
	hFinish := hSeq(hSend("DATA\r\n", "354"), hQueued(hBody+".\r\n"), hQuit())
	local64 := strings.Repeat("l", 64)
	label63 := strings.Repeat("d", 63)
	add(hCase{
		name:    "address/MAIL with unknown NOTIFY parameter",
		steps:   hStd(hSend("MAIL FROM:<a@example.com> NOTIFY=SUCCESS,FAILURE\r\n", "500 5.5.4"), hOKMail, hOKRcpt, hFinish),
		deliver: hOne(),
	}, hCase{
		// RFC 5321 4.1.1.2: SP between the path and the parameters. go-smtp
		// took "x" for a parameter and answered 500 (issue 14.6).
		name:    "address/MAIL FROM:<>x is a syntax error",
		steps:   hStd(hSend("MAIL FROM:<>x\r\n", "501 5.5.2"), hSend("MAIL FROM:<"+hFrom+">SIZE=10\r\n", "501 5.5.2"), hOKMail, hOKRcpt, hFinish),
		deliver: hOne(),
	}, hCase{
		// go-smtp kept the last SIZE= (issue 14.6).
		name: "address/MAIL with SIZE= twice",
		steps: hStd(hSend("MAIL FROM:<"+hFrom+"> SIZE=10 SIZE=20\r\n", "501 5.5.4"),
			hSend("MAIL FROM:<"+hFrom+"> size=10 BODY=8BITMIME SIZE=10\r\n", "501 5.5.4"), hOKMail, hOKRcpt, hFinish),
		deliver: hOne(),
	}, hCase{
		// The '>' inside the quoted local part does not end the path.
		name:    "address/MAIL quoted local part with '>' and parameters",
		steps:   hStd(hSend("MAIL FROM:<\"a>b\"@example.com> SIZE=10 SIZE=11\r\n", "501 5.5.4"), hOKMail, hOKRcpt, hFinish),
		deliver: hOne(),
	}, hCase{
		name:    "address/RCPT NOTIFY without DSN support",
		steps:   hStd(hOKMail, hSend("RCPT TO:<evil@example.org> NOTIFY=SUCCESS ORCPT=rfc822;x@example.org\r\n", "504 5.5.4"), hOKRcpt, hFinish),
		deliver: hOne(),
	}, hCase{
		name: "address/bare CR splitting a MAIL command",
		steps: hStd(hSend("MAIL FROM:<"+hFrom+">\rRCPT TO:<evil@example.org>\r\n", "501 5.5.2"),
			hOKMail, hOKRcpt, hFinish),
		deliver: hOne(),
	}, hCase{
		// Junk around the path's end: NUL after '>' is a syntax error (a
		// space must come first), CR CR LF
		// and a lone LF end the command line like CRLF (as in Postfix).
		name: "address/line end variants after the path",
		steps: hStd(hSend("MAIL FROM:<"+hFrom+">\x00\r\n", "501 5.5.2"),
			hSend("MAIL FROM:<"+hFrom+">\r\r\n", "250 2.0.0"), hSend("RCPT TO:<"+hTo+">\n", "250 2.0.0"), hFinish),
		deliver: hOne(),
	}, hCase{
		// go-smtp hands the local-part over unquoted; '<' '>' '"' '\\' '@'
		// in it cannot be re-quoted unambiguously, so relay refuses them
		// rather than relay to another mailbox than meant.
		name:  "address/quoted local-part with spaces and angle brackets",
		steps: hStd(hOKMail, hSend("RCPT TO:<\"a>b<c d\"@example.org>\r\n", "501 5.1.3"), hQuit()),
	}, hCase{
		name:  "address/quoted local-part with escaped quote",
		steps: hStd(hOKMail, hSend("RCPT TO:<\"a\\\"b NOTIFY=NEVER\"@example.org>\r\n", "501 5.1.3"), hQuit()),
	}, hCase{
		name:  "address/local-part that is a quoted string is refused",
		steps: hStd(hOKMail, hSend("RCPT TO:<\"\\\"x\\\"\"@example.org>\r\n", "501 5.1.3"), hQuit()),
	}, hCase{
		name:  "address/NUL in MAIL",
		steps: hStd(hSend("MAIL FROM:<a\x00b@example.com>\r\n", "501 5.1.7"), hQuit()),
	}, hCase{
		name:    "address/CR inside a quoted RCPT local-part",
		steps:   hStd(hOKMail, hSend("RCPT TO:<\"a\rb\"@example.org>\r\n", "501 5.1.3"), hOKRcpt, hFinish),
		deliver: hOne(),
	}, hCase{
		name: "address/control characters in RCPT",
		steps: hStd(hOKMail, hSend("RCPT TO:<a\x01b@example.org>\r\n", "501 5.1.3"),
			hSend("RCPT TO:<a\x7fb@example.org>\r\n", "501 5.1.3"), hSend("RCPT TO:<\"a\tb\"@example.org>\r\n", "501 5.1.3"),
			hOKRcpt, hFinish),
		deliver: hOne(),
	}, hCase{
		name:  "address/non-ASCII MAIL without SMTPUTF8",
		steps: hStd(hSend("MAIL FROM:<jörg@example.com>\r\n", "553 5.6.7"), hQuit()),
	}, hCase{
		name:    "address/non-ASCII RCPT without SMTPUTF8",
		steps:   hStd(hOKMail, hSend("RCPT TO:<ñandú@example.org>\r\n", "553 5.6.7"), hOKRcpt, hFinish),
		deliver: hOne(),
	}, hCase{
		name: "address/non-ASCII with SMTPUTF8",
		steps: hStd(hSend("MAIL FROM:<jörg@example.com> SMTPUTF8\r\n", "250 2.0.0"),
			hSend("RCPT TO:<ñandú@exämple.org>\r\n", "250 2.0.0"), hFinish),
		deliver: []hmsg{{from: "jörg@example.com", to: []string{"ñandú@exämple.org"}, has: []string{"with UTF8SMTP"},
			wire: []string{"MAIL FROM:<jörg@example.com>", "SMTPUTF8"}}},
	}, hCase{
		name:  "address/invalid UTF-8 with SMTPUTF8",
		steps: hStd(hSend("MAIL FROM:<j\xffrg@example.com> SMTPUTF8\r\n", "501 5.1.7"), hQuit()),
	}, hCase{
		name: "address/local-part 65 octets refused, 64 accepted",
		steps: hStd(hOKMail, hSend("RCPT TO:<"+local64+"l@example.org>\r\n", "501 5.1.3"),
			hSend("RCPT TO:<"+local64+"@example.org>\r\n", "250 2.0.0"), hFinish),
		deliver: []hmsg{{from: hFrom, to: []string{local64 + "@example.org"}}},
	}, hCase{
		name: "address/domain 256 octets",
		// 4 labels of 63 + 3 dots = 255; one more octet makes 256.
		steps: hStd(hOKMail, hSend("RCPT TO:<a@x"+label63+"."+label63+"."+label63+"."+label63+">\r\n", "501 5.1.3"), hQuit()),
	}, hCase{
		name: "address/path over 256 octets refused, 256 accepted",
		// path = "<" + address + ">": an address of 255 octets is a 257-octet path.
		steps: hStd(hOKMail,
			hSend("RCPT TO:<"+local64+"@"+label63+"."+label63+"."+strings.Repeat("e", 62)+">\r\n", "501 5.1.3"),
			hSend("RCPT TO:<"+local64+"@"+label63+"."+label63+"."+strings.Repeat("e", 61)+">\r\n", "250 2.0.0"), hFinish),
		deliver: []hmsg{{from: hFrom, to: []string{local64 + "@" + label63 + "." + label63 + "." + strings.Repeat("e", 61)}}},
	}, hCase{
		name:    "address/empty RCPT TO:<> refused",
		steps:   hStd(hOKMail, hSend("RCPT TO:<>\r\n", "501 5.5.2"), hOKRcpt, hFinish),
		deliver: hOne(),
	}, hCase{
		name:    "address/null sender MAIL FROM:<> allowed",
		steps:   hStd(hSend("MAIL FROM:<>\r\n", "250 2.0.0"), hOKRcpt, hFinish),
		deliver: []hmsg{{from: "", to: []string{hTo}, wire: []string{"MAIL FROM:<>"}}},
	}, hCase{
		name:    "address/source route is ignored",
		steps:   hStd(hOKMail, hSend("RCPT TO:<@evil.example.net:victim@example.org>\r\n", "250 2.0.0"), hFinish),
		deliver: []hmsg{{from: hFrom, to: []string{"victim@example.org"}, lacks: []string{"evil.example.net"}}},
	}, hCase{
		name:    "address/two @ in an unquoted mailbox",
		steps:   hStd(hOKMail, hSend("RCPT TO:<victim@example.org@evil.example.net>\r\n", "501 5.1.3"), hOKRcpt, hFinish),
		deliver: hOne(),
	})

	// --- Limits (SPEC §3 [[listener]], §4).
	sized := func(n int) string { // a message of exactly n octets
		head := "Subject: size\r\n\r\n"
		return head + strings.Repeat("s", n-len(head)-2) + "\r\n"
	}
	receivedN := func(n int) string {
		return strings.Repeat("Received: from a by b; Mon, 23 Nov 2026 09:00:00 +0000\r\n", n) + "Subject: loop\r\n\r\nx\r\n"
	}
	add(hCase{
		name: "limits/max_recipients+1 is 452 4.5.3, the rest is delivered",
		cfg:  func(c *Config) { c.Listeners[0].MaxRecipients = 3 },
		steps: hStd(hOKMail, hSend("RCPT TO:<a@example.org>\r\n", "250 2.0.0"), hSend("RCPT TO:<b@example.org>\r\n", "250 2.0.0"),
			hSend("RCPT TO:<c@example.org>\r\n", "250 2.0.0"), hSend("RCPT TO:<d@example.org>\r\n", "452 4.5.3"), hFinish),
		deliver: []hmsg{{from: hFrom, to: []string{"a@example.org", "b@example.org", "c@example.org"}}},
	}, hCase{
		name:    "limits/message of exactly max_message_size",
		cfg:     hMaxSize(1000),
		steps:   hStd(hTx(), hQueued(sized(1000)+".\r\n"), hQuit()),
		deliver: hOne("Subject: size"),
	}, hCase{
		name:  "limits/message one octet over max_message_size",
		cfg:   hMaxSize(1000),
		steps: hStd(hTx(), hSend(sized(1001)+".\r\n", "552 5.3.4"), hQuit()),
	}, hCase{
		name: "limits/SIZE= at and over max_message_size",
		cfg:  hMaxSize(1000),
		steps: hStd(hSend("MAIL FROM:<"+hFrom+"> SIZE=1001\r\n", "552 5.3.4"), hSend("MAIL FROM:<"+hFrom+"> SIZE=1000\r\n", "250 2.0.0"),
			hOKRcpt, hFinish),
		deliver: hOne(),
	}, hCase{
		name:  "limits/header section over 1 MB",
		steps: hStd(hTx(), hSend(strings.Repeat("X-Pad: "+strings.Repeat("p", 1000)+"\r\n", 1050)+"\r\nbody\r\n.\r\n", "552 5.3.4"), hQuit()),
	}, hCase{
		name:  "limits/101 Received fields",
		steps: hStd(hTx(), hSend(receivedN(101)+".\r\n", "554 5.4.6"), hQuit()),
	}, hCase{
		name:    "limits/100 Received fields accepted",
		steps:   hStd(hTx(), hQueued(receivedN(100)+".\r\n"), hQuit()),
		deliver: hOne("Subject: loop"),
	}, hCase{
		name:  "limits/two From fields",
		steps: hStd(hTx(), hSend("From: a@example.com\r\nFrom: b@example.com\r\nSubject: two\r\n\r\nx\r\n.\r\n", "550 5.6.0"), hQuit()),
	}, hCase{
		name:  "limits/From and FROM fields",
		steps: hStd(hTx(), hSend("From: a@example.com\r\nSubject: two\r\nFROM: b@example.com\r\n\r\nx\r\n.\r\n", "550 5.6.0"), hQuit()),
	}, hCase{
		name:  "limits/NUL in body",
		steps: hStd(hTx(), hSend("Subject: nul\r\n\r\nbefore\x00after\r\n.\r\n", "550 5.6.0"), hQuit()),
	}, hCase{
		name:  "limits/NUL in header",
		steps: hStd(hTx(), hSend("Subject: n\x00ul\r\n\r\nx\r\n.\r\n", "550 5.6.0"), hQuit()),
	}, hCase{
		name:  "limits/command line of 2001 octets is 500 and close",
		steps: hStd(hSend("NOOP "+strings.Repeat("n", 2001-len("NOOP \r\n"))+"\r\n", "500 5.5.2"), hClosed()),
	}, hCase{
		name:  "limits/command line of 2000 octets is accepted",
		steps: hStd(hSend("NOOP "+strings.Repeat("n", 2000-len("NOOP \r\n"))+"\r\n", "250 2.0.0"), hQuit()),
	}, hCase{
		name:  "limits/DATA line over max_line_length is 552 and close",
		cfg:   func(c *Config) { c.Listeners[0].MaxLineLength = 1000 },
		steps: hStd(hTx(), hSend("Subject: long\r\n\r\n"+strings.Repeat("q", 1500)+"\r\n", "552 5.3.4"), hClosed()),
	}, hCase{
		name:    "limits/DATA line of exactly max_line_length",
		cfg:     func(c *Config) { c.Listeners[0].MaxLineLength = 1000 },
		steps:   hStd(hTx(), hQueued("Subject: long\r\n\r\n"+strings.Repeat("q", 1000)+"\r\n.\r\n"), hQuit()),
		deliver: hOne("Subject: long"),
	})

	// --- The DATA fast path (lineConn collects the message itself): the end
	// of data and dot-stuffing split across reads, and what follows the
	// end-of-data line is vetted as commands again.
	add(hCase{
		name: "data/end-of-data and stuffed dots split across writes",
		steps: hStd(hTx(), hWrite("Subject: split\r\n\r\n."), hWrite(".dot\r"), hWrite("\n.\r"), hWrite("\n"),
			hExpect("250 2.0.0", "Ok: queued as "), hQuit()),
		deliver: []hmsg{{from: hFrom, to: []string{hTo}, has: []string{"\r\n.dot\r\n"}, lacks: []string{"..dot"}}},
	}, hCase{
		name: "data/commands pipelined after the end of data are vetted",
		steps: hStd(hTx(), hSend("Subject: piped\r\n\r\nbody\r\n.\r\nMAIL FROM:<"+strings.Repeat("a", 2100)+"@example.com>\r\n",
			"250 2.0.0"), hExpect("500 5.5.2"), hClosed()),
		deliver: hOne("Subject: piped"),
	}, hCase{
		name: "data/second message on the connection",
		// Both messages are alike: the two deliveries may reach the sink in
		// either order.
		steps: hStd(hTx(), hQueued("Subject: again\r\n\r\n..\r\n.\r\n"), hTx(),
			hQueued("Subject: again\r\n\r\n..\r\n.\r\n"), hQuit()),
		deliver: []hmsg{
			{from: hFrom, to: []string{hTo}, has: []string{"Subject: again\r\n", "\r\n\r\n.\r\n"}, lacks: []string{".."}},
			{from: hFrom, to: []string{hTo}, has: []string{"Subject: again\r\n", "\r\n\r\n.\r\n"}, lacks: []string{".."}}},
	})

	// --- Timeouts (SPEC §4: 421 4.4.2, then closed; nothing sent after the
	// timeout is ever run).
	add(hCase{
		name: "timeout/idle in the middle of a command line",
		cfg:  hIdle(500 * time.Millisecond),
		steps: hStd(hWrite("MAIL FROM:<evil@exa"), hExpect("421 4.4.2"),
			hWrite("mple.com>\r\nRCPT TO:<victim@example.org>\r\nDATA\r\n"), hClosed()),
	}, hCase{
		// The line is complete but for its CRLF: it must never run.
		name: "timeout/idle after a command without its CRLF",
		cfg:  hIdle(500 * time.Millisecond),
		steps: hStd(hWrite("MAIL FROM:<evil@example.com>"), hExpect("421 4.4.2"),
			hWrite("\r\nRCPT TO:<victim@example.org>\r\n"), hClosed()),
	}, hCase{
		name: "timeout/idle inside a transaction, then a pipelined transaction",
		cfg:  hIdle(500 * time.Millisecond),
		steps: hStd(hOKMail, hOKRcpt, hExpect("421 4.4.2"),
			hWrite("DATA\r\n"+hBody+".\r\nMAIL FROM:<evil@example.com>\r\n"), hClosed()),
	}, hCase{
		name: "timeout/session_timeout with a slow-drip client",
		cfg: func(c *Config) {
			c.Listeners[0].IdleTimeout = 5 * time.Second
			c.Listeners[0].SessionTimeout = 700 * time.Millisecond
		},
		steps: hStd(hstep{op: hOpDrip, data: "MAIL FROM:<evil@example.com>\r\nRCPT TO:<victim@example.org>\r\n",
			want: "421 4.4.2", every: 50 * time.Millisecond}, hClosed()),
	}, hCase{
		name: "timeout/session_timeout while a slow-drip message is in DATA",
		cfg: func(c *Config) {
			c.Listeners[0].IdleTimeout = 5 * time.Second
			c.Listeners[0].SessionTimeout = 900 * time.Millisecond
		},
		steps: hStd(hTx(), hstep{op: hOpDrip, data: "Subject: drip\r\n\r\n" + strings.Repeat("d\r\n", 40) + ".\r\nMAIL FROM:<evil@example.com>\r\n",
			want: "421 4.4.2", every: 30 * time.Millisecond}, hClosed()),
	}, hCase{
		name:  "timeout/idle during an AUTH LOGIN exchange",
		cfg:   hIdle(500 * time.Millisecond),
		steps: hStd(hSend("AUTH LOGIN\r\n", "334", "VXNlcm5hbWU6"), hExpect("421 4.4.2"), hWrite(hB64(hUser)+"\r\nNOOP\r\n"), hClosed()),
	}, hCase{
		name: "timeout/idle inside a BDAT chunk",
		cfg:  hIdle(500 * time.Millisecond),
		steps: hStd(hOKMail, hOKRcpt, hWrite("BDAT 100 LAST\r\nSubject: short\r\n"), hExpect("421 4.4.2"),
			hWrite(strings.Repeat("x", 85)+"MAIL FROM:<evil@example.com>\r\n"), hClosed()),
	})

	// --- Cross-protocol input closes at once (SPEC §4).
	add(hCase{
		name:  "cross-protocol/POST",
		steps: hStd(hWrite("POST /api HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"), hClosed()),
	}, hCase{
		name:  "cross-protocol/CONNECT",
		steps: hStd(hWrite("CONNECT 127.0.0.1:25 HTTP/1.1\r\n\r\n"), hClosed()),
	}, hCase{
		name:  "cross-protocol/User-Agent header line",
		steps: hStd(hOKMail, hWrite("User-Agent: curl/8.0\r\n"), hClosed()),
	}, hCase{
		name:  "cross-protocol/host header in lower case",
		steps: hStd(hWrite("host: 127.0.0.1\r\n"), hClosed()),
	}, hCase{
		name:  "cross-protocol/GET before the banner is read",
		steps: hSeq(hDial(0, "127.0.0.1"), hWrite("GET / HTTP/1.1\r\nHost: x\r\n\r\n"), hExpect("220"), hClosed()),
	}, hCase{
		name:  "cross-protocol/GET inside a transaction",
		steps: hStd(hOKMail, hOKRcpt, hWrite("GET /index.html HTTP/1.0\r\n\r\n"), hClosed()),
	}, hCase{
		name:    "cross-protocol/HTTP-looking lines inside DATA are message text",
		steps:   hStd(hTx(), hQueued("Subject: http\r\n\r\nGET / HTTP/1.1\r\nUser-Agent: x\r\nPOST /x HTTP/1.1\r\n.\r\n"), hQuit()),
		deliver: hOne("GET / HTTP/1.1\r\nUser-Agent: x\r\nPOST /x HTTP/1.1\r\n"),
	})

	// --- STARTTLS (RFC 3207).
	add(hCase{
		name: "tls/commands pipelined behind STARTTLS are discarded",
		tls:  true,
		steps: hStd(hSend("STARTTLS\r\nMAIL FROM:<evil@example.com>\r\nRCPT TO:<victim@example.org>\r\n", "220 2.0.0"), hTLS(), hEHLO(),
			hOKMail, hOKRcpt, hFinish),
		deliver: hOne("with ESMTPS"),
	}, hCase{
		name:  "tls/STARTTLS twice",
		tls:   true,
		steps: hStd(hSend("STARTTLS\r\n", "220 2.0.0"), hTLS(), hEHLO(), hSend("STARTTLS\r\n", "502 5.5.1"), hQuit()),
	}, hCase{
		name: "tls/garbage instead of a TLS handshake",
		tls:  true,
		steps: hStd(hSend("STARTTLS\r\n", "220 2.0.0"),
			hWrite("MAIL FROM:<evil@example.com>\r\nRCPT TO:<victim@example.org>\r\nDATA\r\n"+hBody+".\r\n"), hClosed()),
	}, hCase{
		name: "tls/STARTTLS ends the transaction",
		tls:  true,
		steps: hStd(hOKMail, hSend("STARTTLS\r\n", "220 2.0.0"), hTLS(), hEHLO(),
			hSend("RCPT TO:<"+hTo+">\r\n", "502 5.5.1"), hQuit()),
	}, hCase{
		name: "tls/AUTH PLAIN over TLS",
		tls:  true,
		steps: hStd(hSend("STARTTLS\r\n", "220 2.0.0"), hTLS(),
			hstep{op: hOpCmd, data: "EHLO client.test\r\n", want: "250", has: []string{"AUTH PLAIN LOGIN"}, lacks: []string{"STARTTLS"}},
			hSend("AUTH PLAIN "+hPlainAuth+"\r\n", "235 2.0.0"), hTx(), hQueued(hBody+".\r\n"), hQuit()),
		deliver: hOne("with ESMTPSA", "(authenticated as crm)"),
	}, hCase{
		name: "tls/command line of 2001 octets after STARTTLS is 500 and close",
		tls:  true,
		steps: hStd(hSend("STARTTLS\r\n", "220 2.0.0"), hTLS(), hEHLO(),
			hSend("NOOP "+strings.Repeat("n", 2001-len("NOOP \r\n"))+"\r\n", "500 5.5.2"), hClosed()),
	}, hCase{
		// RFC 3207 4.2: the EHLO before STARTTLS is forgotten.
		name: "tls/MAIL right after STARTTLS needs a new EHLO",
		tls:  true,
		steps: hStd(hSend("STARTTLS\r\n", "220 2.0.0"), hTLS(), hSend("MAIL FROM:<"+hFrom+">\r\n", "502 5.5.1"),
			hEHLO(), hOKMail, hOKRcpt, hFinish),
		deliver: hOne("with ESMTPS"),
	}, hCase{
		name: "tls/CRLF.CRLF after a bare CR ends the data after STARTTLS",
		tls:  true,
		steps: hStd(hSend("STARTTLS\r\n", "220 2.0.0"), hTLS(), hEHLO(), hTx(),
			hQueued("Subject: p2\r\n\r\nbody\r\n.\r\r\n.\r\nNOOP\r\n"), hExpect("250 2.0.0"), hQuit()),
		deliver: []hmsg{{from: hFrom, to: []string{hTo}, has: []string{"body\r\n.\r\n\r\n"}, lacks: []string{"NOOP"}}},
	}, hCase{
		name:  "tls/max_errors after STARTTLS",
		tls:   true,
		steps: hStd(hSend("STARTTLS\r\n", "220 2.0.0"), hTLS(), hEHLO(), tenUnknown, hSend("XYZZY\r\n", "421 4.7.0"), hClosed()),
	}, hCase{
		name: "tls/connection ends inside a BDAT chunk after STARTTLS",
		tls:  true,
		steps: hStd(hSend("STARTTLS\r\n", "220 2.0.0"), hTLS(), hEHLO(),
			hSend("MAIL FROM:<"+hFrom+">\r\n", "250 2.0.0"), hSend("RCPT TO:<"+hTo+">\r\n", "250 2.0.0"),
			hWrite("BDAT 100 LAST\r\n"+strings.Repeat("c", 50)), hShutWrite(), hClosed())}, hCase{
		name:    "tls/STARTTLS on a listener without TLS",
		steps:   hStd(hSend("STARTTLS\r\n", "502 5.5.1"), hOKMail, hOKRcpt, hFinish),
		deliver: hOne(),
	})

	// --- Connection admission (SPEC §3, §4).
	add(hCase{
		name: "connections/max_connections+1 is 421 4.3.2",
		cfg:  func(c *Config) { c.Listeners[0].MaxConnections = 2 },
		steps: hSeq(hDial(0, "127.0.0.1"), hExpect("220"), hDial(1, "127.0.0.1"), hOn(1, hExpect("220")),
			hDial(2, "127.0.0.1"), hOn(2, hExpect("421 4.3.2")), hOn(2, hClosed()),
			hstep{op: hOpHangUp, conn: 0}, hstep{op: hOpDialEventual, conn: 3, src: "127.0.0.1", want: "220"},
			hOn(3, hEHLO()), hOn(3, hQuit())),
	}, hCase{
		name: "connections/max_connections_per_ip is 421 4.7.0",
		cfg:  func(c *Config) { c.Listeners[0].MaxConnectionsPerIP = 1 },
		steps: hSeq(hDial(0, "127.0.0.2"), hExpect("220"), hDial(1, "127.0.0.2"), hOn(1, hExpect("421 4.7.0")), hOn(1, hClosed()),
			hDial(2, "127.0.0.3"), hOn(2, hExpect("220")), hOn(2, hEHLO()), hOn(2, hQuit())),
	}, hCase{
		name: "connections/client not in allow_networks is 554 5.7.1",
		cfg: func(c *Config) {
			c.Listeners[0].AllowNetworks = []netip.Prefix{netip.MustParsePrefix("127.0.0.2/32")}
		},
		steps: hSeq(hDial(0, "127.0.0.1"), hExpect("554 5.7.1"), hClosed(),
			hDial(1, "127.0.0.2"), hOn(1, hExpect("220")), hOn(1, hEHLO()), hOn(1, hOKMail), hOn(1, hOKRcpt),
			hOn(1, hSend("DATA\r\n", "354")), hOn(1, hQueued(hBody+".\r\n")), hOn(1, hQuit())),
		deliver: hOne("[127.0.0.2]"),
	})
	return cases
}

// hostileTLS returns the listener's TLS config (a self-signed certificate
// for 127.0.0.1) and a client config that trusts exactly that certificate.
func hostileTLS(t *testing.T) (server, client *tls.Config) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(7),
		Subject:               pkix.Name{CommonName: "relay.test"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
		IPAddresses:           []net.IP{net.ParseIP("127.0.0.1")},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(leaf)
	server = &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}},
		MinVersion: tls.VersionTLS12}
	client = &tls.Config{RootCAs: pool, ServerName: "127.0.0.1", MinVersion: tls.VersionTLS12}
	return server, client
}

func TestHostileTable(t *testing.T) {
	cases := hostileCases()
	if len(cases) < 60 {
		t.Fatalf("%d hostile cases, want at least 60", len(cases))
	}
	srvTLS, cliTLS := hostileTLS(t)
	hash, err := bcrypt.GenerateFromPassword([]byte(hPass), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, tc := range cases {
		if seen[tc.name] {
			t.Fatalf("duplicate case name %q", tc.name)
		}
		seen[tc.name] = true
		t.Run(tc.name, func(t *testing.T) {
			if tc.limit != "" {
				t.Skip("known limitation: " + tc.limit)
			}
			t.Parallel()
			sk := newSink(t)
			cfg := baseConfig(sk.addr)
			cfg.Users = map[string]User{hUser: {PasswordHash: string(hash)}}
			if tc.tls {
				cfg.Listeners[0].TLS = "starttls"
				cfg.Listeners[0].TLSConfig = srvTLS
			}
			if tc.cfg != nil {
				tc.cfg(cfg)
			}
			r := startRelay(t, cfg)
			h := &hrun{t: t, addr: r.addr, cli: cliTLS, conns: map[int]*hconn{}}
			t.Cleanup(h.closeAll) // runs before the relay stops
			h.run(tc.steps)
			h.checkSink(sk, r, tc.deliver)
			switch {
			case h.failed:
				t.Errorf("transcript of %q:\n%s", tc.name, h.transcript())
			case testing.Verbose():
				t.Logf("transcript:\n%s", h.transcript())
			}
		})
	}
}

// hrun executes one client script.
type hrun struct {
	t      *testing.T
	addr   string
	cli    *tls.Config
	conns  map[int]*hconn
	mu     sync.Mutex
	log    strings.Builder
	start  time.Time
	failed bool
}

type hconn struct {
	c  net.Conn
	br *bufio.Reader
}

func (h *hrun) logf(format string, args ...any) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.start.IsZero() {
		h.start = time.Now()
	}
	fmt.Fprintf(&h.log, "%6dms ", time.Since(h.start).Milliseconds())
	fmt.Fprintf(&h.log, format, args...)
	h.log.WriteByte('\n')
}

func (h *hrun) transcript() string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.log.String()
}

func (h *hrun) errorf(format string, args ...any) {
	h.t.Helper()
	h.failed = true
	msg := fmt.Sprintf(format, args...)
	h.logf("!! %s", msg)
	h.t.Error(msg)
}

func (h *hrun) closeAll() {
	for _, hc := range h.conns {
		hc.c.Close()
	}
}

// short shortens long octet strings in the transcript.
func hShort(s string) string {
	if len(s) > 300 {
		return fmt.Sprintf("%q ...(%d octets)... %q", s[:200], len(s)-260, s[len(s)-60:])
	}
	return fmt.Sprintf("%q", s)
}

func (h *hrun) dial(n int, src string) error {
	d := net.Dialer{Timeout: 5 * time.Second, LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}}
	c, err := d.Dial("tcp", h.addr)
	if err != nil {
		return err
	}
	if old := h.conns[n]; old != nil {
		old.c.Close()
	}
	h.conns[n] = &hconn{c: c, br: bufio.NewReader(c)}
	h.logf("C%d: connected from %s to %s", n, src, h.addr)
	return nil
}

// readReply reads one reply (all its lines) within d.
func (h *hrun) readReply(n int, hc *hconn, d time.Duration) ([]string, error) {
	hc.c.SetReadDeadline(time.Now().Add(d))
	var lines []string
	for {
		line, err := hc.br.ReadString('\n')
		if line != "" {
			h.logf("S%d< %s", n, hShort(line))
		}
		if err != nil {
			if line != "" {
				lines = append(lines, strings.TrimRight(line, "\r\n"))
			}
			h.logf("S%d: read: %v", n, err)
			return lines, err
		}
		line = strings.TrimRight(line, "\r\n")
		lines = append(lines, line)
		if len(line) < 4 || line[3] != '-' {
			return lines, nil
		}
	}
}

func (h *hrun) write(n int, hc *hconn, data string) {
	h.logf("C%d> %s", n, hShort(data))
	hc.c.SetWriteDeadline(time.Now().Add(10 * time.Second))
	if _, err := hc.c.Write([]byte(data)); err != nil {
		h.logf("C%d: write: %v", n, err) // the server may have closed: later steps tell
	}
}

// replyIs reports whether the last reply line has want's code and, if
// want names one, exactly that enhanced code.
func hReplyIs(last, want string) bool {
	code, enh, _ := strings.Cut(want, " ")
	if len(last) < 3 || last[:3] != code || (len(last) > 3 && last[3] != ' ') {
		return false
	}
	if enh == "" {
		return true
	}
	tok, _, _ := strings.Cut(strings.TrimPrefix(last[3:], " "), " ")
	return tok == enh
}

// checkReply compares a reply with the step; false if the stream is out of
// sync (no complete reply).
func (h *hrun) checkReply(i int, s hstep, lines []string, err error, took time.Duration) bool {
	h.t.Helper()
	if err != nil || len(lines) == 0 {
		h.errorf("step %d: want %q, got no reply (%v)", i, s.want, err)
		return false
	}
	last := lines[len(lines)-1]
	if !hReplyIs(last, s.want) {
		h.errorf("step %d: got %q, want %q", i, last, s.want)
	}
	all := strings.Join(lines, "\n")
	for _, sub := range s.has {
		if !strings.Contains(all, sub) {
			h.errorf("step %d: reply %q lacks %q", i, all, sub)
		}
	}
	for _, sub := range s.lacks {
		if strings.Contains(all, sub) {
			h.errorf("step %d: reply %q contains %q", i, all, sub)
		}
	}
	if took < s.minDelay {
		h.errorf("step %d: reply after %v, want at least %v", i, took, s.minDelay)
	}
	return true
}

// run executes the steps. A reply with the wrong code is reported and the
// script goes on (later steps show what the server did next); a missing
// reply stops it.
func (h *hrun) run(steps []hstep) {
	h.t.Helper()
	for i, s := range steps {
		hc := h.conns[s.conn]
		if hc == nil && s.op != hOpDial && s.op != hOpDialEventual {
			h.errorf("step %d: connection %d was never opened", i, s.conn)
			return
		}
		switch s.op {
		case hOpDial:
			if err := h.dial(s.conn, s.src); err != nil {
				h.errorf("step %d: dial from %s: %v", i, s.src, err)
				return
			}
		case hOpDialEventual:
			if !h.dialEventually(i, s) {
				return
			}
		case hOpHangUp:
			h.logf("C%d: client closes", s.conn)
			hc.c.Close()
		case hOpShutWrite:
			h.logf("C%d: client closes its sending side", s.conn)
			if cw, ok := hc.c.(interface{ CloseWrite() error }); ok {
				cw.CloseWrite()
			}
		case hOpCmd:
			if s.data != "" {
				h.write(s.conn, hc, s.data)
			}
			if s.want == "" {
				continue
			}
			start := time.Now()
			lines, err := h.readReply(s.conn, hc, 15*time.Second)
			if !h.checkReply(i, s, lines, err, time.Since(start)) {
				return
			}
		case hOpTLS:
			tc := tls.Client(hc.c, h.cli.Clone())
			tc.SetDeadline(time.Now().Add(10 * time.Second))
			if err := tc.Handshake(); err != nil {
				h.errorf("step %d: TLS handshake: %v", i, err)
				return
			}
			tc.SetDeadline(time.Time{})
			h.logf("C%d: TLS %s established", s.conn, tls.VersionName(tc.ConnectionState().Version))
			hc.c, hc.br = tc, bufio.NewReader(tc)
		case hOpClosed:
			h.expectClosed(i, s.conn, hc)
		case hOpDrip:
			if !h.drip(i, s, hc) {
				return
			}
		}
	}
}

func (h *hrun) dialEventually(i int, s hstep) bool {
	h.t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		if err := h.dial(s.conn, s.src); err == nil {
			lines, err := h.readReply(s.conn, h.conns[s.conn], 5*time.Second)
			if err == nil && len(lines) > 0 && hReplyIs(lines[len(lines)-1], s.want) {
				return true
			}
		}
		if time.Now().After(deadline) {
			h.errorf("step %d: no %q banner within 5 s", i, s.want)
			return false
		}
		time.Sleep(25 * time.Millisecond) // poll interval
	}
}

// expectClosed reads until EOF (or reset) within 5 s. Any 2xx or 3xx reply
// before it means a command ran that should not have.
func (h *hrun) expectClosed(i, n int, hc *hconn) {
	h.t.Helper()
	hc.c.SetReadDeadline(time.Now().Add(5 * time.Second))
	var got strings.Builder
	buf := make([]byte, 4096)
	var err error
	for {
		var k int
		k, err = hc.br.Read(buf)
		got.Write(buf[:k])
		if err != nil {
			break
		}
	}
	if got.Len() > 0 {
		h.logf("S%d< %s", n, hShort(got.String()))
	}
	h.logf("S%d: %v", n, err)
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		h.errorf("step %d: connection %d still open 5 s later", i, n)
	}
	for _, line := range strings.Split(got.String(), "\n") {
		if line != "" && (line[0] == '2' || line[0] == '3') {
			h.errorf("step %d: reply %q before the close: a command ran", i, strings.TrimSpace(line))
		}
	}
}

// drip writes s.data one octet per s.every until a reply arrives, checks
// it, then writes what is left (octets sent after the reply).
func (h *hrun) drip(i int, s hstep, hc *hconn) bool {
	h.t.Helper()
	type result struct {
		lines []string
		err   error
	}
	done := make(chan result, 1)
	go func() {
		lines, err := h.readReply(s.conn, hc, 15*time.Second)
		done <- result{lines, err}
	}()
	tick := time.NewTicker(s.every)
	defer tick.Stop()
	sent := 0
	h.logf("C%d> (dripping %s one octet per %v)", s.conn, hShort(s.data), s.every)
	hc.c.SetWriteDeadline(time.Now().Add(15 * time.Second))
	for {
		select {
		case res := <-done:
			h.logf("C%d: %d of %d octets sent before the reply", s.conn, sent, len(s.data))
			ok := h.checkReply(i, s, res.lines, res.err, 0)
			if sent == len(s.data) {
				h.errorf("step %d: the whole drip was sent before the reply: the timeout did not fire in time", i)
			}
			if sent < len(s.data) {
				h.write(s.conn, hc, s.data[sent:])
			}
			return ok
		case <-tick.C:
			if sent < len(s.data) {
				if _, err := hc.c.Write([]byte{s.data[sent]}); err == nil {
					sent++
				}
			}
		}
	}
}

// checkSink asserts that exactly want reached the sink.
func (h *hrun) checkSink(sk *sink, r *testRelay, want []hmsg) {
	h.t.Helper()
	for i, w := range want {
		var m sinkMsg
		select {
		case m = <-sk.msgs:
		case <-time.After(10 * time.Second):
			h.errorf("sink: message %d of %d did not arrive within 10 s", i+1, len(want))
			return
		}
		h.logf("SINK: message from %q to %q, %d octets", m.From, m.To, len(m.Data))
		if m.From != w.from || strings.Join(m.To, "\x00") != strings.Join(w.to, "\x00") {
			h.errorf("sink: message %d envelope from %q to %q, want from %q to %q", i+1, m.From, m.To, w.from, w.to)
		}
		for _, sub := range w.has {
			if !strings.Contains(string(m.Data), sub) {
				h.errorf("sink: message %d lacks %q:\n%s", i+1, sub, m.Data)
			}
		}
		for _, sub := range w.lacks {
			if strings.Contains(string(m.Data), sub) {
				h.errorf("sink: message %d contains %q:\n%s", i+1, sub, m.Data)
			}
		}
		for _, sub := range w.wire {
			if !strings.Contains(sk.transcript(), sub) {
				h.errorf("sink: wire lacks %q:\n%s", sub, sk.transcript())
			}
		}
		if p := hBareEOL(m.Data); p >= 0 {
			h.errorf("sink: message %d has a bare CR or LF at %d: %q", i+1, p, m.Data)
		}
	}
	r.idle()
	select {
	case m := <-sk.msgs:
		h.errorf("sink: unexpected message from %q to %q:\n%s", m.From, m.To, m.Data)
	default:
	}
}

// bareEOL returns the offset of the first bare CR or LF in b, or -1.
func hBareEOL(b []byte) int {
	for i, ch := range b {
		if ch == '\n' && (i == 0 || b[i-1] != '\r') {
			return i
		}
		if ch == '\r' && (i+1 >= len(b) || b[i+1] != '\n') {
			return i
		}
	}
	return -1
}
