package relay

import (
	"strings"
)

// hostileErrorsCases are the hostile table's cases for command sequence and max_errors (TestHostileTable).
func hostileErrorsCases() []hCase {
	var cases []hCase
	add := func(c ...hCase) { cases = append(cases, c...) }

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

	// --- max_errors is relayd's limit (docs/relayd.toml.5.md), not go-smtp's
	// hard-coded "500 5.5.1 Too many errors" at the fourth (issue 14.5):
	// max_errors errors are answered, the next one is 421 and close.
	maxErr := func(n int) func(*Config) { return func(c *Config) { c.Listeners[0].MaxErrors = n } }
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
	return cases
}
