package main

import (
	"bytes"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// specCite is how a text cites an internal design document that is not in
// the repository: its name, then "§" or "section". Admins and newcomers
// read the README and docs/ instead.
var specCite = regexp.MustCompile(`SPEC\s*(§|section)`)

// styleCite is a citation of the style guide the code was written to,
// which is not in the repository either.
var styleCite = regexp.MustCompile(`STYLE\s*§`)

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

// TestNoSpecCitationsAnywhere: no comment, document, example or unit file
// cites those documents either: a newcomer can follow every reference
// (the rule is said where it is used, or a file in docs/ is named).
func TestNoSpecCitationsAnywhere(t *testing.T) {
	root := filepath.Join("..", "..")
	self, _ := filepath.Abs("nospec_test.go")
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		switch {
		case err != nil:
			return err
		case d.IsDir() && strings.HasPrefix(d.Name(), ".") && path != root:
			return filepath.SkipDir
		case d.IsDir() || !d.Type().IsRegular():
			return nil
		}
		if abs, _ := filepath.Abs(path); abs == self {
			return nil
		}
		b, err := os.ReadFile(path)
		if err != nil || bytes.IndexByte(b, 0) >= 0 { // a binary (a built relayd)
			return err
		}
		for i, line := range strings.Split(string(b), "\n") {
			if specCite.MatchString(line) || styleCite.MatchString(line) {
				t.Errorf("%s:%d cites a document that is not in the repository (say the rule, or name a file in docs/): %s",
					path, i+1, strings.TrimSpace(line))
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
