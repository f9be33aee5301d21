package config

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/relayd/relayd/cmd/relayd/config/configtest"
)

// TestConfigAttachments: the attachment keys, their defaults, inheritance
// through extends, and the translation for relay.
func TestConfigAttachments(t *testing.T) {
	f, _ := mustLoad(t, configtest.Minimal+`
[[profile]]
name = "big"
type = "direct"
max_attachment_size = "10MB"
attachments_as_url = "oversize"

[[profile]]
name = "agent"
extends = "big"

[attachments]
base_url = "https://files.example.com/relayd"
`)
	a := f.Attachments
	if a.Listen != "127.0.0.1:9426" || a.Retention.D() != 30*24*time.Hour ||
		a.Dir != filepath.Join(f.Server.StateDir, "attachments") || !a.Enabled() {
		t.Errorf("defaults: %+v", a)
	}
	rc, err := f.Relay()
	if err != nil {
		t.Fatal(err)
	}
	if p := rc.Profiles["agent"]; p.MaxAttachmentSize != 10<<20 || p.AttachmentsAsURL != "oversize" {
		t.Errorf("agent did not inherit: %d %q", p.MaxAttachmentSize, p.AttachmentsAsURL)
	}
	if p := rc.Profiles["p"]; p.MaxAttachmentSize != 0 || p.AttachmentsAsURL != "never" {
		t.Errorf("defaults of p: %d %q", p.MaxAttachmentSize, p.AttachmentsAsURL)
	}
}

// TestConfigAttachmentsErrors: links without base_url, a bad mode, a bad
// base_url and retention are refused on their keys.
func TestConfigAttachmentsErrors(t *testing.T) {
	for _, tt := range []struct{ body, key, msg string }{
		{"[[profile]]\nname = \"x\"\ntype = \"direct\"\nattachments_as_url = \"always\"\n", "profile.attachments_as_url", "need [attachments] base_url"},
		{"[[profile]]\nname = \"x\"\ntype = \"direct\"\nattachments_as_url = \"sometimes\"\n", "profile.attachments_as_url", "sometimes"},
		{"[attachments]\nbase_url = \"ftp://files.example.com\"\n", "attachments.base_url", "not an http:// or https:// URL"},
		{"[attachments]\nretention = \"0s\"\n", "attachments.retention", "positive"},
		{"[attachments]\nlisten = \"9426\"\n", "attachments.listen", "not host:port"},
	} {
		_, _, err := loadText(t, configtest.Minimal+tt.body)
		if err == nil {
			t.Errorf("%q: accepted", tt.body)
			continue
		}
		if findError(configErrors(t, err), tt.key, tt.msg) == nil {
			t.Errorf("%q: no error on %s containing %q: %v", tt.body, tt.key, tt.msg, err)
		}
	}
	_, w, err := loadText(t, configtest.Minimal+"[[profile]]\nname = \"x\"\ntype = \"direct\"\nattachments_as_url = \"oversize\"\n"+
		"[attachments]\nbase_url = \"http://127.0.0.1:9426\"\n")
	if err != nil || !strings.Contains(strings.Join(w, "\n"), "links nothing") {
		t.Errorf("oversize without a limit: %v %q", err, w)
	}
}
