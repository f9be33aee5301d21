package relay

// hostileCases is the hostile table (TestHostileTable, hostile_run_test.go):
// its cases come by group, one file each (hostile_<group>_test.go), in
// this order.
func hostileCases() []hCase {
	var cases []hCase
	for _, group := range [][]hCase{
		hostileSmugglingCases(),
		hostileBDATCases(),
		hostileBudgetCases(),
		hostileErrorsCases(),
		hostileAuthCases(),
		hostileAddressCases(),
		hostileLimitsCases(),
		hostileTimeoutsCases(),
		hostileCrossProtocolCases(),
		hostileSTARTTLSCases(),
		hostileAdmissionCases(),
	} {
		cases = append(cases, group...)
	}
	return cases
}

// Steps shared by the groups: an accepted MAIL and RCPT, DATA with hBody
// then QUIT, and ten unknown commands (each counted against max_errors).
var (
	hOKMail = hSend("MAIL FROM:<"+hFrom+">\r\n", "250 2.0.0")
	hOKRcpt = hSend("RCPT TO:<"+hTo+">\r\n", "250 2.0.0")
	hFinish = hSeq(hSend("DATA\r\n", "354"), hQueued(hBody+".\r\n"), hQuit())

	tenUnknown = func() (steps []hstep) {
		for range 10 {
			steps = append(steps, hSend("XYZZY\r\n", "500 5.5.2"))
		}
		return steps
	}()
)
