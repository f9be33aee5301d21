package relay

import (
	"strings"
)

// hostileSTARTTLSCases are the hostile table's cases for STARTTLS (TestHostileTable).
func hostileSTARTTLSCases() []hCase {
	var cases []hCase
	add := func(c ...hCase) { cases = append(cases, c...) }

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
	return cases
}
