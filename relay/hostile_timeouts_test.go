package relay

import (
	"strings"
	"time"
)

// hostileTimeoutsCases are the hostile table's cases for timeouts (TestHostileTable).
func hostileTimeoutsCases() []hCase {
	var cases []hCase
	add := func(c ...hCase) { cases = append(cases, c...) }

	// --- Timeouts (docs/smtp.md: 421 4.4.2, then closed; nothing sent after the
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
	return cases
}
