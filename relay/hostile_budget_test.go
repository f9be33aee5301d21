package relay

import (
	"strings"
)

// hostileBudgetCases are the hostile table's cases for the Server's budget for buffered message data (TestHostileTable).
func hostileBudgetCases() []hCase {
	var cases []hCase
	add := func(c ...hCase) { cases = append(cases, c...) }

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
	return cases
}
