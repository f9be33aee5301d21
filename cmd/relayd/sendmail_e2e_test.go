package main

import (
	"os"
	"os/user"
	"path/filepath"
	"strings"
	"testing"
)

// `relayd sendmail` end to end: the built binary submits to a
// running relayd through its sendmail socket; relayd delivers to a
// loopback go-smtp upstream.

// TestSendmailDeliver: arguments as recipients, -f, -F adds From:, a lone
// dot ends the input without -i, bare LF, argv[0] = sendmail.
func TestSendmailDeliver(t *testing.T) {
	e := startSendmailRelayd(t, "")
	in := "Subject: plain\nX-Test: 1\n\nfirst\n.\nnot part of the message\n"
	code, out, errOut := runProg(t, e.env(), in, e.link, "-f", "app@example.com", "-FBilling App", "alice@example.net")
	if code != 0 || out != "" || errOut != "" {
		t.Fatalf("sendmail: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	m, msg := e.delivered(t)
	wantEnvelope(t, m, "app@example.com", "alice@example.net")
	if got := msg.Header.Get("From"); got != "Billing App <app@example.com>" {
		t.Errorf("From: %q, want the -F name and the sender", got)
	}
	if got := msg.Header.Get("Subject"); got != "plain" {
		t.Errorf("Subject: %q", got)
	}
	wantReceivedLocal(t, msg, currentUser(t))
	if strings.Contains(string(m.Data), "not part") || !strings.HasSuffix(string(m.Data), "\r\n\r\nfirst\r\n") {
		t.Errorf("body: the lone dot must end the input; message:\n%q", m.Data)
	}
}

// TestSendmailExitStatus: the sysexits of docs/relayd.8.md, one stderr line each.
func TestSendmailExitStatus(t *testing.T) {
	e := startSendmailRelayd(t, "")
	long := strings.Repeat("x", 65) + "@example.net" // local part over 64 octets: 501 5.1.3
	for _, tc := range []struct {
		name, stdin string
		args        []string
		code        int
		stderr      string // substring
	}{
		{"unknown flag", "Subject: x\n\nx\n", []string{"-X", "a@example.net"}, 64, "unknown flag -X"},
		{"unknown mode", "Subject: x\n\nx\n", []string{"-bz", "a@example.net"}, 64, "-bz"},
		{"no recipients", "Subject: x\n\nx\n", []string{"-t"}, 64, "no recipients"},
		{"NUL in message", "Subject: x\n\nnul \x00 here\n", []string{"a@example.net"}, 65, "550 5.6.0"},
		{"refused recipient", "Subject: x\n\nx\n", []string{"a@example.net", long}, 67, "recipient <" + long + "> refused"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errOut := runProg(t, e.env(), tc.stdin, e.bin, append([]string{"sendmail"}, tc.args...)...)
			if code != tc.code || !strings.Contains(errOut, tc.stderr) || strings.Count(errOut, "\n") != 1 || out != "" {
				t.Errorf("exit %d, stderr %q, stdout %q; want exit %d and one line with %q", code, errOut, out, tc.code, tc.stderr)
			}
		})
	}
	e.p.stop()
	if n := len(e.up.messages()); n != 0 {
		t.Errorf("upstream got %d messages; every submission was refused", n)
	}
}

// TestSendmailDaemonDown: no daemon → exit 75 and nothing written: not in
// the state directory, the working directory, nor HOME (no dead.letter).
func TestSendmailDaemonDown(t *testing.T) {
	e := startSendmailRelayd(t, "")
	e.p.stop()
	state := filepath.Join(e.p.dir, "state")
	before := listTree(t, state)
	code, out, errOut := runProg(t, e.env(), "Subject: x\n\nbody\n", e.link, "-t", "-i", "a@example.net")
	if code != 75 || out != "" || strings.Count(errOut, "\n") != 1 || !strings.Contains(errOut, "not running") {
		t.Errorf("exit %d, stdout %q, stderr %q; want 75 and one line saying relayd is not running", code, out, errOut)
	}
	if after := listTree(t, state); after != before {
		t.Errorf("state directory changed:\nbefore %s\nafter  %s", before, after)
	}
	if entries, _ := os.ReadDir(e.home); len(entries) != 0 {
		t.Errorf("HOME got %d entries (dead.letter?)", len(entries))
	}
	code, out, _ = runProg(t, e.env(), "EHLO x\r\nQUIT\r\n", e.link, "-bs")
	if code != 75 || !strings.HasPrefix(out, "421 4.3.0 ") {
		t.Errorf("-bs: exit %d, stdout %q; want 75 and a 421 for the SMTP client", code, out)
	}
}

// listTree lists a directory tree with sizes, for before/after checks.
func listTree(t *testing.T, dir string) string {
	t.Helper()
	var b strings.Builder
	filepath.Walk(dir, func(path string, fi os.FileInfo, err error) error {
		if err == nil {
			b.WriteString(strings.TrimPrefix(path, dir) + " " + fi.ModTime().String() + " " + fi.Mode().String() + "\n")
			if !fi.IsDir() {
				b.WriteString(" " + string(rune('0'+fi.Size()%10)))
			}
		}
		return nil
	})
	return b.String()
}

func currentUser(t *testing.T) string {
	t.Helper()
	u, err := user.Current()
	if err != nil {
		t.Fatal(err)
	}
	return u.Username
}
