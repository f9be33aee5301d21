package main

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// specCite is how a text cites an internal design document that is not in
// the repository: its name, then "§" or "section". Admins and newcomers
// read the README and docs/ instead.
var specCite = regexp.MustCompile(`SPEC\s*(§|section)`)

// TestNoSpecCitationsInTexts: no string in relayd's code (what becomes an
// error, a log line, a reply or an API answer) cites that document. The
// benchmark (cmd/relayd-bench) is a developers' tool and is not checked.
func TestNoSpecCitationsInTexts(t *testing.T) {
	root := filepath.Join("..", "..")
	fset := token.NewFileSet()
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		switch {
		case err != nil:
			return err
		case d.IsDir() && (d.Name() == "testdata" || d.Name() == "relayd-bench" || strings.HasPrefix(d.Name(), ".")) && path != root:
			return filepath.SkipDir
		case d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go"):
			return nil
		}
		f, err := parser.ParseFile(fset, path, nil, parser.SkipObjectResolution)
		if err != nil {
			return err
		}
		ast.Inspect(f, func(n ast.Node) bool {
			if lit, ok := n.(*ast.BasicLit); ok && lit.Kind == token.STRING && specCite.MatchString(lit.Value) {
				t.Errorf("%s: a text cites a document that is not in the repository (say the rule, or name a file in docs/): %s", fset.Position(lit.Pos()), lit.Value)
			}
			return true
		})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
