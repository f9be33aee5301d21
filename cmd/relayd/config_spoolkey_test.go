package main

import (
	"bytes"
	"path/filepath"
	"strings"
	"testing"

	"github.com/relayd/relayd/cmd/relayd/config/configtest"
	"github.com/relayd/relayd/spool"
)

// TestSpoolKeyAddedToPlainSpool: spool_key_file added to a spool created
// without encryption is found by check-config (exit 2, with what to do)
// while the daemon holds the spool open; before, check-config said OK and
// serve failed with Badger's "Encryption key mismatch".
func TestSpoolKeyAddedToPlainSpool(t *testing.T) {
	dir := t.TempDir()
	state := filepath.Join(dir, "state")
	store, err := spool.Open(spool.Options{Dir: filepath.Join(state, "spool")})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close() // the running daemon's spool, locked
	keyFile := configtest.WriteFile(t, dir, "spool.key", strings.Repeat("ab", 32)+"\n", 0o600)
	otherKey := configtest.WriteFile(t, dir, "other.key", strings.Repeat("cd", 32)+"\n", 0o600)
	server := "[server]\nstate_dir = " + configtest.TOMLPath(state) + "\n"

	cfg := configtest.WriteFile(t, dir, "relayd.toml", server+"spool_key_file = "+configtest.TOMLPath(keyFile)+"\n"+configtest.Minimal, 0o600)
	code, out, errs := runCLI(t, nil, "", "check-config", "-config", cfg)
	want := cfg + ":3: server.spool_key_file: the spool in " + filepath.Join(state, "spool") + " was created without encryption, and an existing spool cannot be encrypted: remove spool_key_file, or let the queue empty"
	if code != 2 || !strings.Contains(errs, want) {
		t.Errorf("check-config: exit %d, want 2 and %q\nstdout:\n%s\nstderr:\n%s", code, want, out, errs)
	}
	cfg = configtest.WriteFile(t, dir, "plain.toml", server+configtest.Minimal, 0o600)
	if code, _, errs := runCLI(t, nil, "", "check-config", "-config", cfg); code != 0 {
		t.Errorf("check-config without spool_key_file: exit %d\n%s", code, errs)
	}

	// An encrypted spool: its own key is fine, another key or none is not.
	store.Close()
	encState := filepath.Join(dir, "enc")
	key := bytes.Repeat([]byte{0xab}, 32) // the key of strings.Repeat("ab", 32), hex
	enc, err := spool.Open(spool.Options{Dir: filepath.Join(encState, "spool"), EncryptionKey: key})
	if err != nil {
		t.Fatal(err)
	}
	defer enc.Close()
	server = "[server]\nstate_dir = " + configtest.TOMLPath(encState) + "\n"
	for _, tc := range []struct {
		keyLine string
		code    int
		msg     string
	}{
		{"spool_key_file = " + configtest.TOMLPath(keyFile) + "\n", 0, ""},
		{"spool_key_file = " + configtest.TOMLPath(otherKey) + "\n", 2, otherKey + " does not hold the key the spool in"},
		{"", 2, "server.spool_key_file: the spool in " + filepath.Join(encState, "spool") + " is encrypted: set spool_key_file"},
	} {
		cfg := configtest.WriteFile(t, dir, "enc.toml", server+tc.keyLine+configtest.Minimal, 0o600)
		code, _, errs := runCLI(t, nil, "", "check-config", "-config", cfg)
		if code != tc.code || !strings.Contains(errs, tc.msg) {
			t.Errorf("%q: exit %d, want %d and %q\n%s", tc.keyLine, code, tc.code, tc.msg, errs)
		}
	}
}
