package relay

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// replyCallRE finds the replies relay builds: reply(CODE, C, S, D, ...).
var replyCallRE = regexp.MustCompile(`reply\((\d{3}), (\d), (\d+), (\d+),`)

// TestSMTPRepliesDocumented checks that docs/smtp.md names every reply
// code relay's sources build ("550 5.6.0"), so an admin who reads a reply
// in an application's log finds it there.
func TestSMTPRepliesDocumented(t *testing.T) {
	doc, err := os.ReadFile(filepath.Join("..", "docs", "smtp.md"))
	if err != nil {
		t.Fatal(err)
	}
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	seen := 0
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range replyCallRE.FindAllStringSubmatch(string(src), -1) {
			seen++
			code := m[1] + " " + m[2] + "." + m[3] + "." + m[4]
			if !strings.Contains(string(doc), code) {
				t.Errorf("%s builds the reply %q, which docs/smtp.md does not document", f, code)
			}
		}
	}
	if seen < 20 {
		t.Fatalf("found only %d replies in relay's sources; the pattern no longer matches", seen)
	}
}
