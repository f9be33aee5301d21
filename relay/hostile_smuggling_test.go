package relay

// hostileSmugglingCases are the hostile table's cases for SMTP smuggling with bare LF / bare CR (TestHostileTable).
func hostileSmugglingCases() []hCase {
	var cases []hCase
	add := func(c ...hCase) { cases = append(cases, c...) }

	// --- SMTP smuggling with bare LF / bare CR, both bare_lf modes (docs/smtp.md).
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
	return cases
}
