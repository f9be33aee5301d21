package main

import (
	"os"
	"regexp"
	"strings"
	"testing"
)

// cliReference is the command reference, the source of the relayd(8) man
// page.
const cliReference = "../../docs/relayd.8.md"

var usageFlagRE = regexp.MustCompile(`(?m)^\s+(-[a-z][a-z0-9-]*)`)

// TestCLIReferenceDocumentsEveryCommand checks that docs/relayd.8.md names
// every command relayd has and every flag each command's -h lists.
func TestCLIReferenceDocumentsEveryCommand(t *testing.T) {
	b, err := os.ReadFile(cliReference)
	if err != nil {
		t.Fatal(err)
	}
	doc := string(b)
	for name := range commands() {
		if !strings.Contains(doc, "**"+name) && !strings.Contains(doc, "relayd "+name) {
			t.Errorf("%s does not document the command %q", cliReference, name)
		}
		var out strings.Builder
		c := &cli{stdin: strings.NewReader(""), stdout: &out, stderr: &out, getenv: func(string) string { return "" },
			systemConfig: "/nonexistent/relayd.toml"}
		c.run([]string{name, "-h"})
		flags := usageFlagRE.FindAllStringSubmatch(out.String(), -1)
		if len(flags) == 0 {
			t.Errorf("relayd %s -h lists no flags:\n%s", name, out.String())
		}
		for _, f := range flags {
			if !regexp.MustCompile(regexp.QuoteMeta(f[1]) + `\b`).MatchString(doc) {
				t.Errorf("%s does not document %s of relayd %s", cliReference, f[1], name)
			}
		}
	}
}
