// Command relayd-man builds the man pages relayd(8) and relayd.toml(5) from
// their Markdown sources in docs/ (docs/relayd.8.md, docs/relayd.toml.5.md),
// with go-md2man. The Debian package and `make`-less builds run it as
//
//	go run ./cmd/relayd-man -out DIR
//
// from the repository's root; it writes DIR/relayd.8 and DIR/relayd.toml.5.
// It sits outside the daemon's data flow: documentation only.
package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"

	"github.com/cpuguy83/go-md2man/v2/md2man"
)

// pages are the man pages built, each from docs/<page>.md.
var pages = []string{"relayd.8", "relayd.toml.5"}

func main() {
	docs := flag.String("docs", "docs", "directory holding the Markdown sources (relayd.8.md, relayd.toml.5.md)")
	out := flag.String("out", ".", "directory to write relayd.8 and relayd.toml.5 into (created if missing)")
	flag.Parse()
	written, err := generate(*docs, *out)
	if err != nil {
		fmt.Fprintln(os.Stderr, "relayd-man:", err)
		os.Exit(1)
	}
	for _, f := range written {
		fmt.Println(f)
	}
}

// generate renders every page of pages from docsDir into outDir and
// returns the files written.
func generate(docsDir, outDir string) ([]string, error) {
	if err := os.MkdirAll(outDir, 0o755); err != nil {
		return nil, fmt.Errorf("cannot create the output directory %s: %w", outDir, err)
	}
	var written []string
	for _, page := range pages {
		src := filepath.Join(docsDir, page+".md")
		md, err := os.ReadFile(src)
		if err != nil {
			return written, fmt.Errorf("cannot read the man page source %s (run from the repository's root or give -docs): %w", src, err)
		}
		dst := filepath.Join(outDir, page)
		if err := os.WriteFile(dst, md2man.Render(md), 0o644); err != nil {
			return written, fmt.Errorf("cannot write %s: %w", dst, err)
		}
		written = append(written, dst)
	}
	return written, nil
}
