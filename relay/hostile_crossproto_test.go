package relay

// hostileCrossProtocolCases are the hostile table's cases for cross-protocol input (TestHostileTable).
func hostileCrossProtocolCases() []hCase {
	var cases []hCase
	add := func(c ...hCase) { cases = append(cases, c...) }

	// --- Cross-protocol input closes at once (docs/smtp.md).
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
	return cases
}
