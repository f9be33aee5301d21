package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestE2EQueueRetract is the seeds' "oops, I didn't mean to send those":
// with a send delay, a message is listed by `relayd queue list`, deleted
// through the CLI against the running daemon, and never delivered; another
// is held, released and sent at once with `queue retry`.
func TestE2EQueueRetract(t *testing.T) {
	pki := newPKI(t, t.TempDir())
	up := newUpstream(t, pki)
	up.start()
	p := startRelayd(t, e2eConfig(cfgParams{SMTPPort: freePort(t), AdminPort: freePort(t),
		UpstreamPort: up.port, CAFile: pki.caFile,
		Secret: fmt.Sprintf("password_env = %q\nsend_delay = \"1h\"", e2ePassEnv)}))
	queue := func(args ...string) (int, string, string) {
		t.Helper()
		return runRelayd(t, p.dir, p.env, append([]string{"queue", "-config", p.cfgPath}, args...)...)
	}
	oops, err := sendMail(p.smtpAddr, "app@example.com", []string{"wrong@example.org"},
		"From: =?UTF-8?Q?B=C3=A4rbel?= <app@example.com>\r\nSubject: =?UTF-8?Q?oops_=E2=80=93_wrong_list?=\r\n\r\nno\r\n", 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	keep, err := sendMail(p.smtpAddr, "app@example.com", []string{"right@example.org"}, "Subject: keep\r\n\r\nyes\r\n", 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}

	code, out, errOut := queue("list", "-state", "delayed")
	if code != 0 || !strings.Contains(out, oops.QueueID) || !strings.Contains(out, keep.QueueID) {
		t.Fatalf("queue list: exit %d\n%s%s", code, out, errOut)
	}
	// The admin finds the mistaken mail by its From and Subject.
	code, out, errOut = queue("list")
	if code != 0 || !strings.Contains(out, "Bärbel <app@example.com>") || !strings.Contains(out, "oops – wrong list") {
		t.Fatalf("queue list: exit %d\n%s%s", code, out, errOut)
	}
	if code, out, errOut = queue("delete", oops.QueueID); code != 0 {
		t.Fatalf("queue delete: exit %d\n%s%s", code, out, errOut)
	}
	if code, out, _ = queue("list"); code != 0 || strings.Contains(out, oops.QueueID) || !strings.Contains(out, keep.QueueID) {
		t.Errorf("queue list after the delete shows the journal:\n%s", out)
	}
	if code, out, _ = queue("list", "-all"); code != 0 || !strings.Contains(out, oops.QueueID) || !strings.Contains(out, "cancelled") {
		t.Errorf("queue list -all lacks the cancelled message:\n%s", out)
	}
	code, out, errOut = queue("show", oops.QueueID)
	if code != 0 || !strings.Contains(out, "subject:  oops – wrong list\n") || !strings.Contains(out, "from:     Bärbel <app@example.com>\n") {
		t.Errorf("queue show: exit %d\n%s%s", code, out, errOut)
	}
	if code, _, errOut = queue("hold", oops.QueueID); code != 1 || errOut != "relayd queue hold: message "+oops.QueueID+" is cancelled: it cannot be held\n" {
		t.Errorf("holding a cancelled message: exit %d %q", code, errOut)
	}
	if st := queueState(t, queue, oops.QueueID); st != "cancelled" {
		t.Fatalf("deleted message is %q, want cancelled (kept in the journal)", st)
	}
	if code, _, errOut = queue("delete", oops.QueueID); code != 1 || !strings.Contains(errOut, "is cancelled: it cannot be deleted") {
		t.Errorf("deleting twice: exit %d %q, want 1 and the API's 409 text", code, errOut)
	}

	if code, out, errOut = queue("hold", keep.QueueID); code != 0 || queueState(t, queue, keep.QueueID) != "held" {
		t.Fatalf("queue hold: exit %d\n%s%s", code, out, errOut)
	}
	if code, out, errOut = queue("release", keep.QueueID); code != 0 || queueState(t, queue, keep.QueueID) != "delayed" {
		t.Fatalf("queue release: exit %d\n%s%s", code, out, errOut)
	}
	if code, out, errOut = queue("retry", keep.QueueID); code != 0 {
		t.Fatalf("queue retry: exit %d\n%s%s", code, out, errOut)
	}
	msgs := up.waitMessages(t, 1, 15*time.Second)
	if err := poll(10*time.Second, func() (bool, error) { return queueState(t, queue, keep.QueueID) == "sent", nil }); err != nil {
		t.Fatalf("retried message not sent: %v", err)
	}
	if code, out, errOut = queue("retry", "-all"); code != 0 {
		t.Fatalf("queue retry -all: exit %d\n%s%s", code, out, errOut)
	}
	if len(up.messages()) != 1 || len(msgs[0].To) != 1 || msgs[0].To[0] != "right@example.org" {
		t.Fatalf("upstream got %+v; the deleted message must never be delivered", up.messages())
	}
	if code, _, errOut = queue("show", "NOSUCHID"); code != 1 || errOut != "relayd queue show: no message with ID NOSUCHID\n" {
		t.Errorf("queue show unknown: exit %d %q", code, errOut)
	}
}

// queueState returns the summary state of one message from `queue show -json`.
func queueState(t *testing.T, queue func(...string) (int, string, string), id string) string {
	t.Helper()
	code, out, errOut := queue("show", id, "-json")
	if code != 0 {
		t.Fatalf("queue show %s: exit %d %s", id, code, errOut)
	}
	var item struct {
		State string `json:"state"`
	}
	if err := json.Unmarshal([]byte(out), &item); err != nil {
		t.Fatalf("queue show -json: %v\n%s", err, out)
	}
	return item.State
}

// TestE2ETestCommand runs the built `relayd test` against a closed port and
// a good upstream: the diagnosis and exit 1, then every step ok
// and exit 0, and never the password on the terminal.
func TestE2ETestCommand(t *testing.T) {
	pki := newPKI(t, t.TempDir())
	up := newUpstream(t, pki)
	up.start()
	dir := t.TempDir()
	write := func(port int) string {
		cfg := strings.ReplaceAll(e2eConfig(cfgParams{SMTPPort: freePort(t), AdminPort: freePort(t),
			UpstreamPort: port, CAFile: pki.caFile}), e2eDirToken, dir)
		path := filepath.Join(dir, fmt.Sprintf("relayd-%d.toml", port))
		if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
			t.Fatal(err)
		}
		return path
	}
	env := childEnv(map[string]string{e2ePassEnv: e2ePass})
	closed := freePort(t)
	code, out, errOut := runRelayd(t, dir, env, "test", "up", "-config", write(closed))
	want := fmt.Sprintf("could not connect to 127.0.0.1:%d (connection refused): the host is not a mail server or the port is closed or firewalled", closed)
	if code != 1 || !strings.Contains(out+errOut, want) {
		t.Errorf("closed port: exit %d, want 1 and %q:\n%s%s", code, want, out, errOut)
	}
	code, out, errOut = runRelayd(t, dir, env, "test", "up", "-from", "app@example.com", "-to", "app@example.com", "-send", "-config", write(up.port))
	if code != 0 || strings.Contains(out+errOut, "FAIL") || !strings.Contains(out, "auth") {
		t.Errorf("good upstream: exit %d:\n%s%s", code, out, errOut)
	}
	if strings.Contains(out+errOut, e2ePass) {
		t.Errorf("the password appears in relayd test's output")
	}
	up.waitMessages(t, 1, 15*time.Second)
}
