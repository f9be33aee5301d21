package policy

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

// TestHeadersGolden shows whole header sections before and after the edits of
// typical profiles in testdata/rewrite.golden, for review. Regenerate it with
// `go test ./policy/ -run Golden -update`.
func TestHeadersGolden(t *testing.T) {
	o365 := Rewrite{FromAddress: "system@example.com", RewriteHeaderFrom: true, DefaultSenderName: "Example Ltd"}
	cases := []struct {
		name   string
		rw     Rewrite
		header []string // name/value pairs
	}{
		{"office365 send-as, named sender", o365, []string{"From", "Alice Smith <alice@sales.example.com>", "To", "c@example.org", "Subject", "Quote"}},
		{"office365 send-as, bare sender", o365, []string{"From", "crm@legacy.local", "Subject", "Invoice 42"}},
		{"office365 send-as, Reply-To kept", o365, []string{"From", "crm@legacy.local", "Reply-To", "desk@example.com"}},
		{"default name, non-ASCII", Rewrite{DefaultSenderName: "Büro Müller"}, []string{"From", "buero@example.de"}},
		{"default reply-to", Rewrite{DefaultReplyTo: "Support <support@example.com>"}, []string{"From", "noreply@example.com"}},
		{"unparsable From", o365, []string{"From", "<<broken", "Subject", "x"}},
	}
	var b strings.Builder
	for _, c := range cases {
		b.WriteString("== " + c.name + "\n")
		writeHeader(&b, c.header)
		b.WriteString("-- after\n")
		writeHeader(&b, applyEdits(c.header, c.rw.Headers(fields(c.header...))))
		b.WriteString("\n")
	}
	path := filepath.Join("testdata", "rewrite.golden")
	if *update {
		if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if got := b.String(); got != string(want) {
		t.Errorf("rewrite output differs from %s (run with -update if intended):\n%s", path, got)
	}
}

func writeHeader(b *strings.Builder, kv []string) {
	for i := 0; i+1 < len(kv); i += 2 {
		b.WriteString(kv[i] + ": " + kv[i+1] + "\n")
	}
}

// applyEdits applies edits to name/value pairs as EditOp documents it: the
// reference semantics relay's header writer must follow.
func applyEdits(kv []string, edits []Edit) []string {
	out := append([]string(nil), kv...)
	for _, e := range edits {
		switch e.Op {
		case EditAdd:
			out = append(out, e.Name, e.Value)
		case EditSet, EditDelete:
			var next []string
			done := e.Op == EditDelete
			for i := 0; i+1 < len(out); i += 2 {
				if !strings.EqualFold(out[i], e.Name) {
					next = append(next, out[i], out[i+1])
				} else if !done {
					next, done = append(next, out[i], e.Value), true
				}
			}
			if !done {
				next = append(next, e.Name, e.Value)
			}
			out = next
		}
	}
	return out
}
