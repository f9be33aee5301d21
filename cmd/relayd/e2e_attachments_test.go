package main

import (
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/relayd/relayd/relay/attachments/attachtest"
)

// TestE2EAttachmentLinkAfterKill9: relayd is SIGKILLed right
// after the 250 of a message whose attachment is over the limit of an
// "oversize" profile, while the upstream is down; after a restart the
// message goes out with a link, and the link answers the original octets.
// `relayd attachments list` and `revoke` work through the admin API.
func TestE2EAttachmentLinkAfterKill9(t *testing.T) {
	p, up := startLinkingRelayd(t)
	att := attachtest.Content(200<<10, 42)
	rcpt := "crash-attach@example.net"
	id := sendScan(t, p, rcpt, att)
	p.kill9()
	p.restart()

	code, out, errOut := runRelayd(t, p.dir, p.env, "attachments", "list", "-message", id, "-config", p.cfgPath)
	if code != 0 || !strings.Contains(out, "scan.tif") || !strings.Contains(out, "active") {
		t.Fatalf("attachments list: exit %d\n%s%s", code, out, errOut)
	}
	up.start()
	direct := scanLink(t, up, rcpt, att)
	token := strings.Split(direct, "/")[5]
	if code, out, errOut := runRelayd(t, p.dir, p.env, "attachments", "revoke", token, "-config", p.cfgPath); code != 0 {
		t.Fatalf("attachments revoke: exit %d\n%s%s", code, out, errOut)
	}
	if resp, err := http.Get(direct); err != nil || resp.StatusCode != http.StatusGone {
		t.Fatalf("after revoke: %v %v", resp, err)
	}
	if v, _ := metricValue(p.metrics(t), `relayd_attachment_downloads_total{result="ok"}`); v != 1 {
		t.Errorf("downloads ok = %v", v)
	}
}

// TestE2EAttachmentStoredAgainAfterPowerLoss: the spool commit and the
// attachment store's sync round run at the same time, so a power failure
// can leave a message in the spool whose attachment was not made durable
// (its client got no 250). Two such losses are made by hand while relayd
// is down (kill -9, then the files changed as the power cut would have
// left them): one message's manifest lines are gone, the other's content
// is zeros and only its first manifest line is left (the delivery
// attempt marked it later, in a round after the one that was lost).
// After the restart both go out with a link that serves the original
// bytes, stored again from the spool's copy.
func TestE2EAttachmentStoredAgainAfterPowerLoss(t *testing.T) {
	p, up := startLinkingRelayd(t)
	atts := map[string][]byte{}
	ids := map[string]string{}
	for i, rcpt := range []string{"lost-manifest@example.net", "lost-content@example.net"} {
		atts[rcpt] = attachtest.Content(120<<10, int64(50+i))
		ids[rcpt] = sendScan(t, p, rcpt, atts[rcpt])
	}
	p.kill9()

	dir := filepath.Join(p.dir, "state", "attachments")
	logPath := filepath.Join(dir, "manifests.log")
	raw, err := os.ReadFile(logPath)
	if err != nil {
		t.Fatal(err)
	}
	var kept []string
	var content struct {
		Files []struct {
			Seg  uint32 `json:"seg"`
			Off  int64  `json:"off"`
			Size int64  `json:"size"`
		} `json:"files"`
	}
	for _, line := range strings.SplitAfter(string(raw), "\n") {
		switch {
		case strings.Contains(line, ids["lost-manifest@example.net"]):
			continue // the line never reached the disk
		case strings.Contains(line, ids["lost-content@example.net"]):
			if content.Files != nil {
				continue // the later lines (the delivery attempt's mark) were not durable either
			}
			if err := json.Unmarshal([]byte(line), &content); err != nil || len(content.Files) != 1 {
				t.Fatalf("manifest line %q: %v", line, err)
			}
		}
		kept = append(kept, line)
	}
	if err := os.WriteFile(logPath, []byte(strings.Join(kept, "")), 0o600); err != nil {
		t.Fatal(err)
	}
	f := content.Files[0]
	seg, err := os.OpenFile(filepath.Join(dir, "segments", fmt.Sprintf("%06d.seg", f.Seg)), os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := seg.WriteAt(make([]byte, f.Size), f.Off); err != nil { // the content never reached the disk
		t.Fatal(err)
	}
	seg.Close()

	p.restart()
	up.start()
	for rcpt, att := range atts {
		scanLink(t, up, rcpt, att)
	}
	if !strings.Contains(p.out.String(), "attachments stored again before delivery") {
		t.Error("no log line says the attachments were stored again")
	}
}

// startLinkingRelayd starts relayd whose profile links every attachment
// over 50 KB, its download server on loopback, and the upstream it
// relays to, down until the test starts it.
func startLinkingRelayd(t *testing.T) (*proc, *e2eUpstream) {
	t.Helper()
	pki := newPKI(t, t.TempDir())
	up := newUpstream(t, pki)
	filesPort := freePort(t)
	extra := fmt.Sprintf(`password_env = %q
max_attachment_size = "50KB"
attachments_as_url = "oversize"

[attachments]
base_url = "http://127.0.0.1:%d/files"
listen = "127.0.0.1:%d"
`, e2ePassEnv, filesPort, filesPort)
	p := startRelayd(t, e2eConfig(cfgParams{SMTPPort: freePort(t), AdminPort: freePort(t), UpstreamPort: up.port,
		CAFile: pki.caFile, Secret: extra}))
	return p, up
}

// sendScan submits a message to rcpt with att attached as scan.tif and
// returns its queue ID.
func sendScan(t *testing.T, p *proc, rcpt string, att []byte) string {
	t.Helper()
	msg := "From: App <app@example.com>\r\nTo: <" + rcpt + ">\r\nSubject: scan\r\nMIME-Version: 1.0\r\n" +
		"Content-Type: multipart/mixed; boundary=\"b1\"\r\n\r\n--b1\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n" +
		"The scan is attached.\r\n--b1\r\nContent-Type: image/tiff; name=\"scan.tif\"\r\n" +
		"Content-Disposition: attachment; filename=\"scan.tif\"\r\nContent-Transfer-Encoding: base64\r\n\r\n" +
		attachtest.Base64(att) + "--b1--\r\n"
	res, err := sendMail(p.smtpAddr, "app@example.com", []string{rcpt}, msg, 10*time.Second)
	if err != nil {
		t.Fatalf("send: %v (reply %q)", err, res.Reply)
	}
	return res.QueueID
}

// scanLink waits for the upstream to receive rcpt's message, checks that
// scan.tif went out as a link whose GET answers att, and returns the link.
func scanLink(t *testing.T, up *e2eUpstream, rcpt string, att []byte) string {
	t.Helper()
	m := waitForMsg(t, "upstream", up.messages, onlyRcpt(rcpt), 60*time.Second)
	if strings.Contains(string(m.Data), "Content-Disposition: attachment") {
		t.Fatalf("%s: the attachment went out:\n%.2000s", rcpt, m.Data)
	}
	link := regexp.MustCompile(`http://127\.0\.0\.1:\d+/files/a/[a-z2-7]{32}/scan\.tif`).FindString(
		strings.ReplaceAll(string(m.Data), "=\r\n", ""))
	if link == "" {
		t.Fatalf("%s: no link in the delivered message:\n%.3000s", rcpt, m.Data)
	}
	resp, err := http.Get(link)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || sha256.Sum256(got) != sha256.Sum256(att) {
		t.Fatalf("%s: GET %s: %d, %d octets, not the original", rcpt, link, resp.StatusCode, len(got))
	}
	return link
}
