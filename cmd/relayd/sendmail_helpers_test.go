package main

import (
	"bytes"
	"context"
	"errors"
	"net/mail"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// smEnv is a running relayd with its sendmail socket, a loopback go-smtp
// upstream, and a directory holding a `sendmail` link to the binary.
type smEnv struct {
	p      *proc
	up     *e2eUpstream
	bin    string // the relayd binary
	link   string // DIR/bin/sendmail -> bin (argv[0] dispatch)
	socket string
	home   string // HOME of the programs: nothing may be written there
}

// startSendmailRelayd starts relayd on the e2e config plus extra TOML, in
// which @UPPORT@ and @CAFILE@ stand for the upstream's port and CA file.
func startSendmailRelayd(t *testing.T, extra string) *smEnv {
	t.Helper()
	pki := newPKI(t, t.TempDir())
	up := newUpstream(t, pki)
	up.start()
	extra = strings.NewReplacer("@UPPORT@", strconv.Itoa(up.port), "@CAFILE@", pki.caFile).Replace(extra)
	cfg := e2eConfig(cfgParams{SMTPPort: freePort(t), AdminPort: freePort(t), UpstreamPort: up.port, CAFile: pki.caFile}) + extra
	p := startRelayd(t, cfg)
	e := &smEnv{p: p, up: up, bin: relaydBinary(t), socket: filepath.Join(p.dir, "state", "sendmail.sock"), home: t.TempDir()}
	e.link = sendmailLink(t, e.bin)
	return e
}

// sendmailLink makes DIR/sendmail and DIR/mailq links to bin.
func sendmailLink(t *testing.T, bin string) string {
	t.Helper()
	dir := t.TempDir()
	for _, name := range []string{"sendmail", "mailq"} {
		if err := os.Symlink(bin, filepath.Join(dir, name)); err != nil {
			t.Fatal(err)
		}
	}
	return filepath.Join(dir, "sendmail")
}

// env is the programs' environment: the config through $RELAYD_CONFIG,
// HOME in an empty directory.
func (e *smEnv) env() []string {
	return append(peerEnv(), "RELAYD_CONFIG="+e.p.cfgPath, "HOME="+e.home) // the last value wins
}

// runProg runs a program with stdin, bounded to 20 s, and returns its exit
// status, standard output and standard error.
func runProg(t *testing.T, env []string, stdin string, name string, args ...string) (int, string, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env, cmd.Dir = env, t.TempDir()
	cmd.Stdin = strings.NewReader(stdin)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var exit *exec.ExitError
	if err != nil && !errors.As(err, &exit) {
		t.Fatalf("%s %s: %v", name, strings.Join(args, " "), err)
	}
	if ctx.Err() != nil {
		t.Fatalf("%s %s: did not finish within 20 s", name, strings.Join(args, " "))
	}
	return cmd.ProcessState.ExitCode(), stdout.String(), stderr.String()
}

// delivered waits for exactly one transaction at the upstream and parses it.
func (e *smEnv) delivered(t *testing.T) (upMsg, *mail.Message) {
	t.Helper()
	e.up.waitMessages(t, 1, 15*time.Second)
	e.p.stop() // nothing can arrive after this: "exactly one" is final
	got := e.up.messages()
	if len(got) != 1 {
		t.Fatalf("upstream got %d transactions, want exactly 1", len(got))
	}
	m, err := mail.ReadMessage(bytes.NewReader(got[0].Data))
	if err != nil {
		t.Fatalf("delivered message does not parse: %v\n%s", err, got[0].Data)
	}
	return got[0], m
}

// wantEnvelope checks the envelope of a delivered transaction.
func wantEnvelope(t *testing.T, m upMsg, from string, to ...string) {
	t.Helper()
	if m.From != from {
		t.Errorf("envelope sender %q, want %q", m.From, from)
	}
	if strings.Join(m.To, " ") != strings.Join(to, " ") {
		t.Errorf("envelope recipients %q, want %q", m.To, to)
	}
}

// wantReceivedLocal checks that relayd's Received: names a local user.
func wantReceivedLocal(t *testing.T, m *mail.Message, user string) {
	t.Helper()
	for _, r := range m.Header["Received"] {
		if strings.Contains(r, "from local user "+user+" (uid ") && strings.Contains(r, "(relayd)") {
			return
		}
	}
	t.Errorf("no Received: naming local user %s: %q", user, m.Header["Received"])
}
