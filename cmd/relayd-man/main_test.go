package main

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// overstrike matches grotty's bold and underline (X BACKSPACE X).
var overstrike = regexp.MustCompile(".\b")

// TestManPagesRender generates relayd(8) and relayd.toml(5) from docs/ and
// renders each with man(1) at 80 columns with every warning on: any
// warning, or a page that renders empty, fails. Without man(1) the test
// skips locally and fails under CI=true.
func TestManPagesRender(t *testing.T) {
	out := t.TempDir()
	files, err := generate(filepath.Join("..", "..", "docs"), out)
	if err != nil {
		t.Fatal(err)
	}
	if len(files) != len(pages) {
		t.Fatalf("generated %v, want %v", files, pages)
	}
	manBin, err := exec.LookPath("man")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("man(1) is missing: apt-get install man-db groff-base")
		}
		t.Skip("man(1) is missing; install it to check the man pages: apt-get install man-db groff-base")
	}
	for _, f := range files {
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		cmd := exec.CommandContext(ctx, manBin, "--warnings=all", "-E", "UTF-8", "-l", f)
		cmd.Env = append(os.Environ(), "MANWIDTH=80", "MAN_KEEP_FORMATTING=0", "MANPAGER=cat", "PAGER=cat", "LC_ALL=C.UTF-8")
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		err := cmd.Run()
		cancel()
		if err != nil || stderr.Len() > 0 {
			t.Errorf("man -l %s: %v\n%s", filepath.Base(f), err, stderr.String())
		}
		text := overstrike.ReplaceAllString(stdout.String(), "")
		for _, want := range []string{"NAME", "DESCRIPTION", "SEE ALSO"} {
			if !strings.Contains(text, want) {
				t.Errorf("%s renders without a %s section:\n%s", filepath.Base(f), want, text)
			}
		}
		for i, line := range strings.Split(text, "\n") {
			if n := len([]rune(line)); n > 80 {
				t.Errorf("%s: rendered line %d is %d columns wide (MANWIDTH=80): %q", filepath.Base(f), i+1, n, line)
			}
		}
	}
}
