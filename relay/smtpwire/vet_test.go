package smtpwire

import "testing"

// TestVetMail: what Conn answers itself for MAIL's argument (issue
// 14.6 and 14.7); "" means go-smtp runs the command.
func TestVetMail(t *testing.T) {
	for _, tc := range []struct{ arg, want, reason string }{
		{"FROM:<a@example.com>", "", ""},
		{"FROM:<>", "", ""},
		{"FROM:<a@example.com> SIZE=1000 BODY=8BITMIME", "", ""},
		{"FROM:<a@example.com>  SIZE=10", "", ""},
		{"FROM: <a@example.com> SIZE=10", "", ""},
		{"FROM:<>x", "501 5.5.2", "syntax"},
		{"FROM:<a@example.com>SIZE=10", "501 5.5.2", "syntax"},
		{"FROM:<a@example.com>\tSIZE=10", "501 5.5.2", "syntax"},
		{"FROM:<a@example.com> SIZE=10 size=10", "501 5.5.4", "syntax"},
		{"FROM:<a@example.com> BODY=7BIT SMTPUTF8 BODY=8BITMIME", "501 5.5.4", "syntax"},
		{"FROM:a@example.com SIZE=1 SIZE=2", "501 5.5.4", "syntax"},
		{"FROM:<\"a>b\"@example.com> SIZE=1 SIZE=2", "501 5.5.4", "syntax"},
		{"FROM:<\"a\\\"> x\"@example.com>", "", ""},
		{"FROM:<a@example.com> SIZE=1001", "552 5.3.4", "size"},
		{"FROM:<a@example.com> SIZE=1000", "", ""},
		{"FROM:<a@example.com> SIZE=99999999999999999999", "", ""}, // go-smtp's 501
		{"FROM:<a@example.com", "", ""},                            // go-smtp's 501
		{"TO:<a@example.com>", "", ""},
	} {
		e, reason := vetMail(tc.arg, 1000)
		got := ""
		if e != nil {
			got = replyLine(e)[:len("501 5.5.2")]
		}
		if got != tc.want || reason != tc.reason {
			t.Errorf("vetMail(%q) = %q %q, want %q %q", tc.arg, got, reason, tc.want, tc.reason)
		}
	}
}

// TestVetCommandAllocs: vetting an ordinary command line allocates
// nothing (it runs for every command).
func TestVetCommandAllocs(t *testing.T) {
	l := &Conn{opts: Options{Limits: func() Limits { return Limits{MaxMessageSize: 1 << 20} }}}
	for _, line := range []string{"MAIL FROM:<app@example.com> SIZE=12345 BODY=8BITMIME", "rcpt TO:<b@example.org>",
		"DATA", "NOOP", "EHLO client.test"} {
		if n := testing.AllocsPerRun(100, func() { l.vetCommand(line, true) }); n != 0 {
			t.Errorf("vetCommand(%q): %v allocations", line, n)
		}
	}
}
