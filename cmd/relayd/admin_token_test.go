package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

func TestEnsureTokenFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), adminTokenName)
	// Concurrent first starts agree on one token.
	var wg sync.WaitGroup
	tokens := make([]string, 8)
	created := make([]bool, 8)
	for i := range tokens {
		wg.Go(func() {
			var err error
			tokens[i], created[i], err = ensureTokenFile(path)
			if err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	n := 0
	for i, tok := range tokens {
		if tok != tokens[0] || len(tok) != 64 {
			t.Fatalf("token %d %q differs from %q or is not 256 bits in hex", i, tok, tokens[0])
		}
		if created[i] {
			n++
		}
	}
	if n != 1 {
		t.Errorf("%d starts say they created the token, want 1", n)
	}
	fi, err := os.Stat(path)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("token file: %v, mode %v, want 0600", err, fi.Mode())
	}
	if entries, _ := os.ReadDir(filepath.Dir(path)); len(entries) != 1 {
		t.Errorf("temporary files left: %v", entries)
	}
	again, made, err := ensureTokenFile(path)
	if err != nil || made || again != tokens[0] {
		t.Errorf("restart: %q created=%v %v, want the same token", again, made, err)
	}
	os.WriteFile(path, []byte("\n"), 0o600)
	if _, _, err := ensureTokenFile(path); err == nil || !strings.Contains(err.Error(), "is empty: delete it") {
		t.Errorf("empty token file: %v", err)
	}
}

// TestE2EAdminToken: the first start creates state_dir/admin.token (0600)
// and logs its path, never the token; a restart keeps it; `relayd queue`
// sends it (a token changed under the running daemon is refused, so the
// CLI does send the file's token) and works.
func TestE2EAdminToken(t *testing.T) {
	pki := newPKI(t, t.TempDir())
	p := startRelayd(t, e2eConfig(cfgParams{SMTPPort: freePort(t), AdminPort: freePort(t), UpstreamPort: freePort(t), CAFile: pki.caFile}))
	path := filepath.Join(p.dir, "state", adminTokenName)
	fi, err := os.Stat(path)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("admin token file after first start: %v (mode %v), want mode 0600", err, fi.Mode())
	}
	b, _ := os.ReadFile(path)
	token := strings.TrimSpace(string(b))
	if len(token) < 32 {
		t.Fatalf("token %d characters", len(token))
	}
	if !strings.Contains(p.out.String(), path) || strings.Contains(p.out.String(), token) {
		t.Fatalf("the log must name %s and never hold the token:\n%s", path, p.out.String())
	}
	p.stop()
	p.restart()
	if b2, _ := os.ReadFile(path); string(b2) != string(b) {
		t.Fatalf("restart changed the token")
	}
	code, out, errOut := runRelayd(t, p.dir, p.env, "queue", "list", "-config", p.cfgPath)
	if code != 0 || out != "the queue is empty\n" {
		t.Fatalf("queue list: exit %d\n%s%s", code, out, errOut)
	}
	if err := os.WriteFile(path, []byte("not-the-token\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	code, _, errOut = runRelayd(t, p.dir, p.env, "queue", "list", "-config", p.cfgPath)
	want := fmt.Sprintf("refused the bearer token of %s", path)
	if code != 1 || !strings.Contains(errOut, want) {
		t.Fatalf("queue list with a wrong token: exit %d %q, want 1 and %q", code, errOut, want)
	}
}
