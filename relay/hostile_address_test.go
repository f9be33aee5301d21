package relay

import (
	"strings"
)

// hostileAddressCases are the hostile table's cases for address injection and validation (TestHostileTable).
func hostileAddressCases() []hCase {
	var cases []hCase
	add := func(c ...hCase) { cases = append(cases, c...) }

	// --- Address injection and validation (docs/smtp.md, RFC 5321 4.1.2, 4.5.3.1, RFC 6531).
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
	return cases
}
