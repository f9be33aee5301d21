package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/relayd/relayd/cmd/relayd/config/configtest"
)

// TestTranscriptPathChecked: check-config warns about a debug_transcript
// that cannot be appended to or created (exit 0: a transcript never stops
// delivery), and creates nothing.
func TestTranscriptPathChecked(t *testing.T) {
	dir := t.TempDir()
	notDir := configtest.WriteFile(t, dir, "file", "x", 0o600)
	existing := configtest.WriteFile(t, dir, "o365.log", "old lines\n", 0o600)
	for _, tc := range []struct {
		path, want string
	}{
		{existing, ""},
		{filepath.Join(dir, "new.log"), ""},
		{filepath.Join(dir, "missing", "o365.log"), "directory " + filepath.Join(dir, "missing") + " does not exist: create it writable for relayd"},
		{filepath.Join(notDir, "o365.log"), notDir + " is not a directory"},
		{dir, "cannot open " + dir + " for appending: is a directory"},
	} {
		cfg := configtest.WriteFile(t, dir, "relayd.toml", configtest.Minimal+"debug_transcript = "+configtest.TOMLPath(tc.path)+"\n", 0o600)
		code, out, errs := runCLI(t, nil, "", "check-config", "-config", cfg)
		want := cfg + `:11: profile "p": debug_transcript: cannot be written, so the SMTP transcript of this profile would be lost: ` + tc.want
		switch {
		case code != 0:
			t.Errorf("%s: exit %d, want 0\n%s", tc.path, code, errs)
		case tc.want == "" && strings.Contains(errs, "debug_transcript"):
			t.Errorf("%s: unexpected warning:\n%s", tc.path, errs)
		case tc.want != "" && !strings.Contains(errs, "warning: "+want):
			t.Errorf("%s: stderr lacks %q:\n%s%s", tc.path, want, out, errs)
		}
	}
	if b, _ := os.ReadFile(existing); string(b) != "old lines\n" {
		t.Errorf("the existing transcript changed: %q", b)
	}
	if names, _ := os.ReadDir(dir); len(names) != 3 { // file, o365.log, relayd.toml; no new.log, no temp file
		var l []string
		for _, n := range names {
			l = append(l, n.Name())
		}
		t.Errorf("check-config left files: %q", l)
	}
	// route reads no transcript path.
	cfg := configtest.WriteFile(t, dir, "relayd.toml", configtest.Minimal+"debug_transcript = "+configtest.TOMLPath(filepath.Join(dir, "missing", "x.log"))+"\n", 0o600)
	if _, _, errs := runCLI(t, nil, "", "route", "-config", cfg, "-from", "a@x", "-to", "b@y"); strings.Contains(errs, "debug_transcript") {
		t.Errorf("route checked the transcript: %s", errs)
	}
}
