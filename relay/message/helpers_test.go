package message

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

// read parses s with lim and fails the test on error.
func read(t *testing.T, s string, lim Limits) *Message {
	t.Helper()
	m, err := Read(strings.NewReader(s), lim)
	if err != nil {
		t.Fatalf("Read(%q): %v", trunc(s), err)
	}
	return m
}

// checkCRLF fails if b has a bare CR or LF, or does not end in CRLF.
func checkCRLF(t *testing.T, b []byte) {
	t.Helper()
	if err := crlfError(b); err != "" {
		t.Errorf("%s in %q", err, trunc(string(b)))
	}
}

func crlfError(b []byte) string {
	for i, c := range b {
		switch {
		case c == '\r' && (i+1 >= len(b) || b[i+1] != '\n'):
			return "bare CR at " + strconv.Itoa(i)
		case c == '\n' && (i == 0 || b[i-1] != '\r'):
			return "bare LF at " + strconv.Itoa(i)
		}
	}
	if len(b) > 0 && !bytes.HasSuffix(b, []byte("\r\n")) {
		return "no final CRLF"
	}
	return ""
}

// longestLine returns the longest line of b in octets, without CRLF.
func longestLine(b []byte) int {
	n := 0
	for _, l := range bytes.Split(b, []byte("\r\n")) {
		n = max(n, len(l))
	}
	return n
}

// golden compares got with testdata/name, rewriting it under -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from golden file (go test -update rewrites it)\ngot:\n%s", path, got)
	}
}

func trunc(s string) string {
	if len(s) > 200 {
		return s[:200] + "..."
	}
	return s
}
