package relay

import (
	"net/netip"
)

// hostileAdmissionCases are the hostile table's cases for connection admission (TestHostileTable).
func hostileAdmissionCases() []hCase {
	var cases []hCase
	add := func(c ...hCase) { cases = append(cases, c...) }

	// --- Connection admission (docs/relayd.toml.5.md [[listener]], docs/smtp.md).
	add(hCase{
		name: "connections/max_connections+1 is 421 4.3.2",
		cfg:  func(c *Config) { c.Listeners[0].MaxConnections = 2 },
		steps: hSeq(hDial(0, "127.0.0.1"), hExpect("220"), hDial(1, "127.0.0.1"), hOn(1, hExpect("220")),
			hDial(2, "127.0.0.1"), hOn(2, hExpect("421 4.3.2")), hOn(2, hClosed()),
			hstep{op: hOpHangUp, conn: 0}, hstep{op: hOpDialEventual, conn: 3, src: "127.0.0.1", want: "220"},
			hOn(3, hEHLO()), hOn(3, hQuit())),
	}, hCase{
		name: "connections/max_connections_per_ip is 421 4.7.0",
		cfg:  func(c *Config) { c.Listeners[0].MaxConnectionsPerIP = 1 },
		steps: hSeq(hDial(0, "127.0.0.2"), hExpect("220"), hDial(1, "127.0.0.2"), hOn(1, hExpect("421 4.7.0")), hOn(1, hClosed()),
			hDial(2, "127.0.0.3"), hOn(2, hExpect("220")), hOn(2, hEHLO()), hOn(2, hQuit())),
	}, hCase{
		name: "connections/client not in allow_networks is 554 5.7.1",
		cfg: func(c *Config) {
			c.Listeners[0].AllowNetworks = []netip.Prefix{netip.MustParsePrefix("127.0.0.2/32")}
		},
		steps: hSeq(hDial(0, "127.0.0.1"), hExpect("554 5.7.1"), hClosed(),
			hDial(1, "127.0.0.2"), hOn(1, hExpect("220")), hOn(1, hEHLO()), hOn(1, hOKMail), hOn(1, hOKRcpt),
			hOn(1, hSend("DATA\r\n", "354")), hOn(1, hQueued(hBody+".\r\n")), hOn(1, hQuit())),
		deliver: hOne("[127.0.0.2]"),
	})
	return cases
}
