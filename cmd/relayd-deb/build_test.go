package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// The package version: a release tag gives its number, anything else a
// pseudo-version that sorts by commit time before every release.
func TestDebVersion(t *testing.T) {
	ct := time.Date(2026, 12, 6, 14, 50, 9, 0, time.UTC)
	const commit = "f713ca1bbbc26d0c4372ef2565d933aaf3760b00"
	tests := []struct {
		tag   string
		dirty bool
		want  string
	}{
		{"", false, "0.0~git20261206145009.f713ca1bbbc2"},
		{"", true, "0.0~git20261206145009.f713ca1bbbc2+dirty"},
		{"v1.2.3", false, "1.2.3"},
		{"v1.2.3-rc1", false, "1.2.3~rc1"},
		{"release-7", false, "0.0~git20261206145009.f713ca1bbbc2"}, // not a version tag
	}
	for _, tt := range tests {
		if got := debVersion(tt.tag, ct, commit, tt.dirty); got != tt.want {
			t.Errorf("debVersion(%q, dirty=%v) = %q, want %q", tt.tag, tt.dirty, got, tt.want)
		}
	}
}

// The packaged unit runs /usr/sbin/relayd and keeps every other line of
// systemd/relayd.service.
func TestDebianUnit(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "..", "systemd", "relayd.service"))
	if err != nil {
		t.Fatal(err)
	}
	unit, err := debianUnit(string(b))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(unit, "\nExecStart=/usr/sbin/relayd serve -config /etc/relayd/relayd.toml\n") ||
		strings.Contains(unit, "/usr/local/bin") {
		t.Errorf("unit does not run /usr/sbin/relayd:\n%s", unit)
	}
	_, body, _ := strings.Cut(string(b), "[Unit]")
	_, pkgBody, _ := strings.Cut(unit, "[Unit]")
	if strings.Replace(body, "/usr/local/bin/relayd", "/usr/sbin/relayd", 1) != pkgBody {
		t.Error("the packaged unit changed more than ExecStart")
	}
	if _, err := debianUnit("[Unit]\nExecStart=/opt/relayd\n"); err == nil {
		t.Error("a unit without the expected ExecStart was accepted")
	}
}

// The shipped configuration is accepted by relayd itself: the package's
// postinst leaves it in place and CI runs `relayd check-config` on it
// after dpkg -i; here it is at least checked for the paths the package
// creates.
func TestShippedConfig(t *testing.T) {
	b, err := debian.ReadFile("debian/relayd.toml")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), `state_dir = "/var/lib/relayd"`) {
		t.Error("relayd.toml does not keep its state in /var/lib/relayd")
	}
	cl := string(changelog(source{Version: "1.2.3", Commit: "abc", Time: time.Date(2026, 12, 6, 0, 0, 0, 0, time.UTC)}, "A <a@example.org>"))
	if want := "relayd (1.2.3) unstable; urgency=medium\n\n  * Built from commit abc.\n\n -- A <a@example.org>  Sun, 06 Dec 2026 00:00:00 +0000\n"; cl != want {
		t.Errorf("changelog = %q, want %q", cl, want)
	}
}
