package relay

import (
	"strings"
)

// hostileBDATCases are the hostile table's cases for BDAT / CHUNKING (TestHostileTable).
func hostileBDATCases() []hCase {
	var cases []hCase
	add := func(c ...hCase) { cases = append(cases, c...) }

	// --- BDAT / CHUNKING (RFC 3030; BDAT chunks get the same checks as DATA).
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
	return cases
}
