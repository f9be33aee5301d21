package main

import (
	"bytes"
	"encoding/base64"
	"io"
	"mime"
	"mime/multipart"
	"net/mail"
	"slices"
	"strings"
	"testing"

	"github.com/BurntSushi/toml"
)

// The sendmail and attachments phases: their flags, relayd's config and
// the messages they send.

func TestParseFlagsPhases(t *testing.T) {
	o, err := parseFlags([]string{"-workdir", ".", "-n", "0", "-sendmail", "50", "-attach"})
	if err != nil {
		t.Fatal(err)
	}
	if o.Sendmail != 50 || o.AttachShape != (shape{N: 2000, C: 20, SizeKB: 100}) || len(o.Shapes) != 0 {
		t.Errorf("-n 0 -sendmail 50 -attach: Sendmail=%d AttachShape=%v Shapes=%v", o.Sendmail, o.AttachShape, o.Shapes)
	}
	o, err = parseFlags([]string{"-workdir", ".", "-attach", "-attach-shape", "200x20x100"})
	if err != nil {
		t.Fatal(err)
	}
	if o.AttachShape != (shape{N: 200, C: 20, SizeKB: 100}) || o.Sendmail != 0 || len(o.Shapes) != 1 {
		t.Errorf("-attach -attach-shape 200x20x100: AttachShape=%v Sendmail=%d Shapes=%v", o.AttachShape, o.Sendmail, o.Shapes)
	}
	o, err = parseFlags([]string{"-workdir", ".", "-attach-shape", "200x20x100"})
	if err != nil || o.AttachShape.N != 0 {
		t.Errorf("-attach-shape without -attach ran the phase: %v, %v", o.AttachShape, err)
	}
	for _, bad := range [][]string{{"-sendmail", "-1"}, {"-attach", "-attach-shape", "200x20"}} {
		if _, err := parseFlags(append([]string{"-workdir", "."}, bad...)); err == nil {
			t.Errorf("parseFlags(%q): no error", bad)
		}
	}
}

// TestConfigPhases decodes the generated relayd.toml: the attachment keys
// belong to the profile, base_url/listen/dir to [attachments], the socket
// to [sendmail]; without them none of those tables appear.
func TestConfigPhases(t *testing.T) {
	type file struct {
		Profile []struct {
			Name             string `toml:"name"`
			Port             int    `toml:"port"`
			AttachmentsAsURL string `toml:"attachments_as_url"`
			MaxAttachment    string `toml:"max_attachment_size"`
		} `toml:"profile"`
		Attachments map[string]string `toml:"attachments"`
		Sendmail    map[string]string `toml:"sendmail"`
	}
	c := relaydConfig{Listen: "127.0.0.1:2525", SinkPort: "2626", StateDir: "/var/tmp/x/state", Admin: "127.0.0.1:9425",
		UpstreamConns: 8, PerConn: 1000, LogLevel: "info", SendmailSocket: "/var/tmp/x/sendmail.sock"}
	attachConfig(&c, "/var/tmp/x", "127.0.0.1:9426")
	var f file
	if _, err := toml.Decode(c.toml(), &f); err != nil {
		t.Fatalf("generated config is not TOML: %v\n%s", err, c.toml())
	}
	if len(f.Profile) != 1 || f.Profile[0].Name != "sink" || f.Profile[0].Port != 2626 ||
		f.Profile[0].AttachmentsAsURL != "oversize" || f.Profile[0].MaxAttachment != "50KB" {
		t.Errorf("profile = %+v", f.Profile)
	}
	want := map[string]string{"base_url": "http://127.0.0.1:9426/relayd", "listen": "127.0.0.1:9426", "dir": "/var/tmp/x/attachments"}
	if len(f.Attachments) != 3 || f.Attachments["base_url"] != want["base_url"] || f.Attachments["listen"] != want["listen"] ||
		f.Attachments["dir"] != want["dir"] {
		t.Errorf("[attachments] = %v, want %v", f.Attachments, want)
	}
	if f.Sendmail["socket"] != "/var/tmp/x/sendmail.sock" {
		t.Errorf("[sendmail] = %v", f.Sendmail)
	}

	plain := relaydConfig{Listen: "127.0.0.1:2525", SinkPort: "2626", StateDir: "/s", Admin: "127.0.0.1:9425",
		UpstreamConns: 8, PerConn: 1000, LogLevel: "info"}.toml()
	for _, no := range []string{"attachments", "[sendmail]"} {
		if strings.Contains(plain, no) {
			t.Errorf("config without the phases' settings has %s:\n%s", no, plain)
		}
	}
}

// TestAttachMessage parses the attachments phase's message as a MIME
// reader would: multipart/mixed, a text/plain body, then one
// application/pdf attachment whose decoded size is over the 50 KB limit.
func TestAttachMessage(t *testing.T) {
	raw := attachMessage(7, pdfLike(100))
	for _, line := range bytes.Split(bytes.TrimSuffix(raw, []byte("\r\n")), []byte("\r\n")) {
		if len(line) > 998 || bytes.ContainsAny(line, "\r\n") {
			t.Fatalf("bad line %q", line[:min(len(line), 80)])
		}
	}
	m, err := mail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	mt, params, err := mime.ParseMediaType(m.Header.Get("Content-Type"))
	if err != nil || mt != "multipart/mixed" || m.Header.Get("MIME-Version") != "1.0" {
		t.Fatalf("Content-Type %q (%v)", m.Header.Get("Content-Type"), err)
	}
	mr := multipart.NewReader(m.Body, params["boundary"])
	var types []string
	var pdf []byte
	for {
		p, err := mr.NextRawPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		ct, _, _ := mime.ParseMediaType(p.Header.Get("Content-Type"))
		types = append(types, ct)
		if ct == "application/pdf" {
			disp, dp, _ := mime.ParseMediaType(p.Header.Get("Content-Disposition"))
			if disp != "attachment" || dp["filename"] != "invoice-7.pdf" {
				t.Errorf("Content-Disposition %q", p.Header.Get("Content-Disposition"))
			}
			if pdf, err = io.ReadAll(base64.NewDecoder(base64.StdEncoding, p)); err != nil {
				t.Fatal(err)
			}
		}
	}
	if !slices.Equal(types, []string{"text/plain", "application/pdf"}) {
		t.Errorf("parts %v", types)
	}
	for _, i := range []int{1, 7, 123456789} {
		if n := len(invoicePrefix(i)); n != 57 { // one base64 line: the rest is encoded once (attachMaker)
			t.Errorf("invoicePrefix(%d) is %d octets, want 57", i, n)
		}
	}
	if !bytes.HasPrefix(pdf, []byte("%PDF-1.4 % invoice 7 ")) || !bytes.HasSuffix(pdf, []byte("%%EOF\n")) ||
		len(pdf) < 100<<10-64 || len(pdf) > 100<<10+64 {
		t.Errorf("attachment: %d bytes, starts %q", len(pdf), pdf[:min(len(pdf), 24)])
	}
}

func TestSendmailInvocation(t *testing.T) {
	r := sendmailArgv("relayd", "/w/relayd", "/w/relayd.toml", 3)
	if !slices.Equal(r, []string{"/w/relayd", "sendmail", "-config", "/w/relayd.toml", "-i", "-f", "sender@bench.test", "3.rcpt@bench.test"}) {
		t.Errorf("relayd argv %q", r)
	}
	p := sendmailArgv("postfix", "/usr/sbin/sendmail", "/w/postfix/etc", 3)
	if !slices.Equal(p, []string{"/usr/sbin/sendmail", "-C", "/w/postfix/etc", "-i", "-f", "sender@bench.test", "3.rcpt@bench.test"}) {
		t.Errorf("postfix argv %q", p)
	}
	msg := sendmailMessage(3, padding(sendmailSizeKB))
	if bytes.IndexByte(msg, '\r') >= 0 || len(msg) < sendmailSizeKB<<10 || len(msg) > sendmailSizeKB<<10+512 {
		t.Errorf("message: %d bytes, CR present: %v", len(msg), bytes.IndexByte(msg, '\r') >= 0)
	}
	if _, err := mail.ReadMessage(bytes.NewReader(msg)); err != nil {
		t.Errorf("message does not parse: %v", err)
	}
}

func TestCounterSum(t *testing.T) {
	in := "# HELP relayd_attachments_linked_total x\n# TYPE relayd_attachments_linked_total counter\n" +
		"relayd_attachments_linked_total{profile=\"a\"} 3\nrelayd_attachments_linked_total{profile=\"b\"} 4\n" +
		"relayd_attachments_linked_total_other 100\nrelayd_attachment_downloads_total{result=\"ok\"} 9\n"
	if n, err := counterSum(strings.NewReader(in), "relayd_attachments_linked_total"); err != nil || n != 7 {
		t.Errorf("counterSum = %v, %v; want 7", n, err)
	}
}
