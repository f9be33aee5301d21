//go:build unix

package upstream

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

// nobody is the owner the tests give files away to.
const nobody = 65534

func ownerOf(t *testing.T, path string) uint32 {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Sys().(*syscall.Stat_t).Uid
}

// TestRewrittenFilesKeepOwner: `relayd test` run as root rotates a debug
// transcript or writes back a rotated refresh token; the files must stay
// the relayd user's.
func TestRewrittenFilesKeepOwner(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to give files away (run as root to test the owner preservation)")
	}
	dir := t.TempDir()
	token := filepath.Join(dir, "refresh")
	if err := os.WriteFile(token, []byte("old\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(token, nobody, nobody); err != nil {
		t.Fatal(err)
	}
	if err := writeFileAtomic(token, []byte("new\n")); err != nil {
		t.Fatal(err)
	}
	if got := ownerOf(t, token); got != nobody {
		t.Errorf("refresh token file owner %d after the write back, want %d", got, nobody)
	}

	s := newTestServer(t, serverConfig{})
	p, _ := newTestPool(t, Options{TranscriptMaxSize: 1000})
	path := filepath.Join(dir, "t.log")
	if err := os.WriteFile(path, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(path, nobody, nobody); err != nil {
		t.Fatal(err)
	}
	prof := s.profile("own")
	prof.Transcript = path
	for range 5 {
		mustSend(t, p, prof, testEnv("bob@example.org"))
	}
	if _, err := os.Stat(path + ".1"); err != nil {
		t.Fatalf("not rotated: %v", err)
	}
	if got := ownerOf(t, path); got != nobody {
		t.Errorf("new transcript owner %d, want %d", got, nobody)
	}
}
