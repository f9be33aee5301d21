package upstream

import (
	"context"
	"encoding/base64"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

// transcriptLine is the format of every line of a transcript file.
var transcriptLine = regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z \[[a-z0-9]+-\d+\] (C: |S: |\* )[^\r\n]*$`)

// readTranscript returns the file's lines, failing on a line that is not
// whole and well-formed, or on a file mode other than 0600.
func readTranscript(t *testing.T, path string) []string {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("%s: mode %v, want 0600", path, fi.Mode().Perm())
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(b) > 0 && b[len(b)-1] != '\n' {
		t.Errorf("%s does not end with a whole line", path)
	}
	lines := strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
	for i, l := range lines {
		if !transcriptLine.MatchString(l) {
			t.Fatalf("%s line %d is not a whole transcript line: %q", path, i+1, l)
		}
	}
	return lines
}

// checkRedacted fails when any form of the test password is in text.
func checkRedacted(t *testing.T, text string) {
	t.Helper()
	for _, secret := range []string{
		testPass,
		base64.StdEncoding.EncodeToString([]byte(testPass)),
		base64.StdEncoding.EncodeToString([]byte("\x00" + testUser + "\x00" + testPass)),
		base64.StdEncoding.EncodeToString([]byte(testUser + "\x00" + testUser + "\x00" + testPass)),
	} {
		if strings.Contains(text, secret) {
			t.Errorf("the transcript contains the secret %q", secret)
		}
	}
}

func countLines(lines []string, substr string) int {
	n := 0
	for _, l := range lines {
		if strings.Contains(l, substr) {
			n++
		}
	}
	return n
}

func TestTranscriptConcurrent(t *testing.T) {
	s := newTestServer(t, serverConfig{mechs: []string{"PLAIN", "LOGIN", "CRAM-MD5"}, insecureAuth: true})
	p, _ := newTestPool(t, Options{})
	path := filepath.Join(t.TempDir(), "smtp.log")
	var profs []*Target
	for _, mech := range []string{"PLAIN", "LOGIN", "CRAMMD"} {
		prof := s.profile(strings.ToLower(mech))
		prof.Username, prof.Password, prof.Transcript = testUser, testPass, path
		prof.AuthMechanisms = []string{strings.Replace(mech, "CRAMMD", "CRAM-MD5", 1)}
		prof.MaxConns, prof.MaxPerConn = 4, 2
		profs = append(profs, prof)
	}
	const n = 30
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { mustSend(t, p, profs[i%len(profs)], testEnv("bob@example.org")) })
	}
	wg.Wait()
	p.Close() // QUIT on the idle connections, into the transcript too
	lines := readTranscript(t, path)
	checkRedacted(t, strings.Join(lines, "\n"))
	if got := countLines(lines, fmt.Sprintf("] C: <message body, %d octets>", len(testBody))); got != n {
		t.Errorf("%d body summaries, want %d", got, n)
	}
	for _, want := range []string{"] C: AUTH PLAIN <redacted>", "] C: AUTH LOGIN", "] C: AUTH CRAM-MD5",
		"] S: 334 VXNlcm5hbWU6", "] C: MAIL FROM:<sender@example.com>", "] S: 250 2.0.0 OK: queued",
		"] C: QUIT", "] * connection closed", "] * connected to 127.0.0.1:"} {
		if countLines(lines, want) == 0 {
			t.Errorf("no line with %q", want)
		}
	}
	// LOGIN sends the user and the password, CRAM-MD5 the digest.
	logins, crams := countLines(lines, "] C: AUTH LOGIN"), countLines(lines, "] C: AUTH CRAM-MD5")
	if got := countLines(lines, "] C: <redacted>"); got != 2*logins+crams {
		t.Errorf("%d redacted AUTH responses for %d LOGIN and %d CRAM-MD5", got, logins, crams)
	}
	if strings.Contains(strings.Join(lines, "\n"), "Hello.") {
		t.Error("the message body is in the transcript")
	}
	for _, prof := range profs { // the sessions of every profile went into the one shared file
		if countLines(lines, "["+prof.Name+"-") == 0 {
			t.Errorf("no line of profile %s", prof.Name)
		}
	}
}

func TestTranscriptRotation(t *testing.T) {
	s := newTestServer(t, serverConfig{})
	const limit = 4000
	p, _ := newTestPool(t, Options{TranscriptMaxSize: limit})
	path := filepath.Join(t.TempDir(), "t.log")
	prof := s.profile("rot")
	prof.Transcript = path
	for range 40 {
		mustSend(t, p, prof, testEnv("bob@example.org"))
	}
	for _, f := range []string{path, path + ".1"} {
		fi, err := os.Stat(f)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Size() > limit {
			t.Errorf("%s has %d octets, limit %d", f, fi.Size(), limit)
		}
		readTranscript(t, f)
	}
	if _, err := os.Stat(path + ".2"); err == nil {
		t.Error("more than one rotated file kept")
	}
}

// TestTranscriptReopen: a file renamed by someone else (logrotate, or
// `relayd test` in another process rotating it) is noticed within a
// second and a new one is created; an existing file's mode is tightened.
func TestTranscriptReopen(t *testing.T) {
	s := newTestServer(t, serverConfig{})
	clock := &testClock{}
	p, _ := newTestPool(t, Options{Now: clock.now, IdleTimeout: -1})
	path := filepath.Join(t.TempDir(), "t.log")
	if err := os.WriteFile(path, []byte("old\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	prof := s.profile("re")
	prof.Transcript = path
	mustSend(t, p, prof, testEnv("bob@example.org"))
	b, _ := os.ReadFile(path)
	if !strings.HasPrefix(string(b), "old\n") || !strings.Contains(string(b), "C: EHLO client.test") {
		t.Errorf("not appended: %q", b)
	}
	if err := os.Rename(path, path+".moved"); err != nil {
		t.Fatal(err)
	}
	clock.advance(2 * time.Second)
	mustSend(t, p, prof, testEnv("bob@example.org"))
	lines := readTranscript(t, path) // also checks the mode 0600
	if countLines(lines, "C: EHLO client.test") != 1 {
		t.Errorf("new file: %q", lines)
	}
}

func TestTranscriptProbeAndOff(t *testing.T) {
	s := newTestServer(t, serverConfig{mechs: []string{"PLAIN"}, insecureAuth: true})
	p, _ := newTestPool(t, Options{})
	path := filepath.Join(t.TempDir(), "probe.log")
	prof := s.profile("pr")
	prof.Username, prof.Password, prof.Transcript = testUser, testPass, path
	steps := p.Probe(context.Background(), prof, ProbeOptions{From: testUser, Envelope: true, To: []string{"b@example.org"}})
	if len(steps) == 0 || !steps[len(steps)-1].OK {
		t.Fatalf("probe failed: %+v", steps)
	}
	lines := readTranscript(t, path)
	for _, want := range []string{"C: AUTH PLAIN <redacted>", "C: RCPT TO:<b@example.org>", "C: RSET", "C: QUIT"} {
		if countLines(lines, want) != 1 {
			t.Errorf("%q not once in %q", want, lines)
		}
	}
	checkRedacted(t, strings.Join(lines, "\n"))

	// The same profile without a transcript takes new connections and
	// writes nothing more.
	prof2 := *prof
	prof2.Transcript = ""
	mustSend(t, p, &prof2, testEnv("b@example.org"))
	if got := readTranscript(t, path); len(got) != len(lines) {
		t.Errorf("%d lines written without debug_transcript", len(got)-len(lines))
	}
}

func TestTranscriptUnwritable(t *testing.T) {
	s := newTestServer(t, serverConfig{})
	p, logs := newTestPool(t, Options{})
	prof := s.profile("bad")
	prof.Transcript = filepath.Join(t.TempDir(), "missing-dir", "t.log")
	mustSend(t, p, prof, testEnv("bob@example.org")) // a transcript never fails a delivery
	mustSend(t, p, prof, testEnv("bob@example.org"))
	if n := strings.Count(logs.String(), "cannot open the debug transcript"); n != 1 {
		t.Errorf("%d warnings, want 1:\n%s", n, logs)
	}
}

// TestTranscriptOAuth2: the access tokens (and the initial responses that
// carry them) never reach the transcript, also when the first token is
// rejected and Probe logs in again with a refreshed one.
func TestTranscriptOAuth2(t *testing.T) {
	for _, mech := range []string{"XOAUTH2", "OAUTHBEARER"} {
		t.Run(mech, func(t *testing.T) {
			o := newOAuthSetup(t, "XOAUTH2", "OAUTHBEARER")
			o.prof.AuthMechanisms = []string{mech}
			o.prof.Transcript = filepath.Join(t.TempDir(), "oauth.log")
			o.s.set(func(s *testServer) {
				s.bearer = func(user, token string) bool { return token != "access-token-2-qq" } // the first one issued
			})
			steps := o.p.Probe(context.Background(), o.prof, ProbeOptions{})
			if got := stepNames(steps); got != "resolve connect banner ehlo starttls auth quit" {
				t.Fatalf("steps %q: %+v", got, steps)
			}
			if d := steps[5].Detail; !strings.Contains(d, mech+" as "+testUser+" with an OAuth2 access token") ||
				!strings.Contains(d, "refreshed") {
				t.Errorf("auth detail %q", d)
			}
			mustSend(t, o.p, o.prof, testEnv("bob@example.org"))
			o.p.Close()
			lines := readTranscript(t, o.prof.Transcript)
			text := strings.Join(lines, "\n")
			if n := countLines(lines, "C: AUTH "+mech+" <redacted>"); n != 3 {
				t.Errorf("%d redacted AUTH lines, want 3 (rejected, probe, delivery):\n%s", n, text)
			}
			for _, secret := range o.ep.secrets() {
				for _, form := range []string{secret, base64.StdEncoding.EncodeToString([]byte(secret)),
					base64.StdEncoding.EncodeToString([]byte("user=" + testUser + "\x01auth=Bearer " + secret + "\x01\x01"))} {
					if strings.Contains(text, form) {
						t.Errorf("secret %q in the transcript", form)
					}
				}
			}
		})
	}
}
