package relay

import (
	"time"
)

// hostileAuthCases are the hostile table's cases for AUTH (TestHostileTable).
func hostileAuthCases() []hCase {
	var cases []hCase
	add := func(c ...hCase) { cases = append(cases, c...) }

	// --- AUTH (docs/smtp.md, RFC 4954).
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
	return cases
}
