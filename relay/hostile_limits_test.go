package relay

import (
	"strings"
)

// hostileLimitsCases are the hostile table's cases for listener limits and the DATA fast path (TestHostileTable).
func hostileLimitsCases() []hCase {
	var cases []hCase
	add := func(c ...hCase) { cases = append(cases, c...) }

	// --- Limits (docs/relayd.toml.5.md [[listener]], docs/smtp.md).
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
	return cases
}
