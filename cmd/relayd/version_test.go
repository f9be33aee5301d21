package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"runtime/debug"
	"strings"
	"testing"
)

// versionOf: the module version and the commit come from the build info
// (a tag or a pseudo-version, vcs.revision); -ldflags values win.
func TestVersionOf(t *testing.T) {
	bi := &debug.BuildInfo{GoVersion: "go1.26.8",
		Main: debug.Module{Path: "github.com/relayd/relayd", Version: "v0.0.0-20261124081104-660f69f94dc1"},
		Settings: []debug.BuildSetting{{Key: "vcs.revision", Value: "660f69f94dc1b525ad76740fdd09da8480cbe8e8"},
			{Key: "vcs.modified", Value: "false"}}}
	tests := []struct {
		name       string
		bi         *debug.BuildInfo
		ldV, ldC   string
		wantString string
	}{
		{"stamped", bi, "", "", "v0.0.0-20261124081104-660f69f94dc1 (go1.26.8, commit 660f69f94dc1b525ad76740fdd09da8480cbe8e8)"},
		{"ldflags win", bi, "0.0~git20261124.660f69f", "abc", "0.0~git20261124.660f69f (go1.26.8, commit abc)"},
		{"unstamped", &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "(devel)"}}, "", "",
			"devel (go1.26.8, commit unknown)"},
		{"modified", &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "v1.2.3+dirty"},
			Settings: []debug.BuildSetting{{Key: "vcs.revision", Value: "abc"}, {Key: "vcs.modified", Value: "true"}}}, "", "",
			"v1.2.3+dirty (go1.26.8, commit abc, modified)"},
	}
	for _, tt := range tests {
		if got := versionOf(tt.bi, tt.ldV, tt.ldC).String(); got != tt.wantString {
			t.Errorf("%s: %q, want %q", tt.name, got, tt.wantString)
		}
	}
}

// A relayd built with go build from a git clone prints the commit git has
// checked out and the module version go derived from it (a tag on that
// commit, else a pseudo-version ending in the commit's first 12 digits).
func TestVersionFromGitCheckout(t *testing.T) {
	gitTool, err := exec.LookPath("git")
	if err != nil {
		t.Skip("git not installed (apt-get install git)")
	}
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skip("go not in PATH")
	}
	git := func(args ...string) (string, error) {
		out, err := exec.Command(gitTool, args...).Output()
		return strings.TrimSpace(string(out)), err
	}
	top, err := git("rev-parse", "--show-toplevel")
	if err != nil {
		t.Skip("not a git checkout")
	}
	if fi, err := os.Stat(filepath.Join(top, ".git")); err != nil || !fi.IsDir() {
		t.Skip("a git worktree (.git is a file): go build does not stamp VCS information there")
	}
	head, err := git("rev-parse", "HEAD")
	if err != nil {
		t.Fatalf("git rev-parse HEAD: %v", err)
	}
	status, err := git("status", "--porcelain")
	if err != nil {
		t.Fatalf("git status: %v", err)
	}
	bin := filepath.Join(t.TempDir(), "relayd")
	if out, err := exec.Command(goTool, "build", "-buildvcs=true", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build -buildvcs=true: %v\n%s", err, out)
	}
	out, err := exec.Command(bin, "version").Output()
	if err != nil {
		t.Fatalf("relayd version: %v", err)
	}
	line := strings.TrimSpace(string(out))
	t.Logf("relayd version: %s (git HEAD %s)", line, head)
	if !strings.Contains(line, "commit "+head) {
		t.Errorf("relayd version = %q, want commit %s", line, head)
	}
	if got, want := strings.Contains(line, ", modified)"), status != ""; got != want {
		t.Errorf("relayd version = %q; checkout modified: %v", line, want)
	}
	ver := strings.Fields(line)[1]
	if tag, err := git("describe", "--tags", "--exact-match"); err == nil && status == "" {
		if ver != tag {
			t.Errorf("version %q, want the tag %q", ver, tag)
		}
	} else if !strings.Contains(ver, head[:12]) {
		t.Errorf("version %q is not a pseudo-version of commit %s", ver, head[:12])
	}
}
