package main

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"github.com/relayd/relayd/cmd/relayd/config"
)

// The admin token (docs/admin-api.md, "Access rules"). With [admin] token_file set, that file's
// token is required on every admin request. Without it, relayd creates
// <state_dir>/admin.token at first start (random, mode 0600) and keeps it
// across restarts: the console's admin login uses it, and CLI commands on
// the machine send it; on loopback the API still trusts a request that
// carries no token at all, but one that carries a wrong token is
// refused.

// adminTokenName is the generated token's file name in state_dir.
const adminTokenName = "admin.token"

// adminTokenPath is the file of the admin token: token_file, else the one
// relayd creates in state_dir. The daemon and the CLI resolve it alike.
func adminTokenPath(f *config.File) string {
	if f.Admin.TokenFile != "" {
		return f.Admin.TokenFile
	}
	return filepath.Join(f.Server.StateDir, adminTokenName)
}

// daemonAdminToken returns the token the admin listener checks and
// whether every request must carry it, creating the state_dir token on
// first start. It logs the file's path, never the token.
func daemonAdminToken(f *config.File, log *slog.Logger) (token string, required bool, err error) {
	if f.Admin.TokenFile != "" {
		return f.Admin.Token(), true, nil
	}
	path := adminTokenPath(f)
	token, created, err := ensureTokenFile(path)
	if err != nil {
		return "", false, err
	}
	if created {
		log.Info("admin token created; the console's admin login and local relayd commands use it", "file", path)
	} else {
		log.Info("admin token", "file", path)
	}
	if fi, err := os.Stat(path); err == nil && fi.Mode().Perm()&0o077 != 0 {
		log.Warn("the admin token file is readable by group or others: chmod 600 it", "file", path, "mode", fmt.Sprintf("%04o", fi.Mode().Perm()))
	}
	return token, false, nil
}

// cliAdminToken is the token a CLI command sends: token_file's, else the
// state_dir token when this user can read it, else "" (no token: enough
// on loopback without token_file).
func cliAdminToken(f *config.File) string {
	if f.Admin.TokenFile != "" {
		return f.Admin.Token()
	}
	b, err := os.ReadFile(adminTokenPath(f))
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}

// ensureTokenFile reads the token at path, or creates it: 256 random bits
// (hex), mode 0600, written to a temporary file and linked into place so
// that no reader ever sees a partial token and two starts cannot both win.
func ensureTokenFile(path string) (token string, created bool, err error) {
	if token, err := readTokenFile(path); !errors.Is(err, fs.ErrNotExist) {
		return token, false, err
	}
	var raw [32]byte
	if _, err := rand.Read(raw[:]); err != nil {
		return "", false, fmt.Errorf("admin token: %w", err)
	}
	token = hex.EncodeToString(raw[:])
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, ".admin.token-*") // mode 0600
	if err != nil {
		return "", false, fmt.Errorf("cannot create the admin token file in %s: %w", dir, err)
	}
	defer os.Remove(tmp.Name())
	_, err = tmp.WriteString(token + "\n")
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Link(tmp.Name(), path)
	}
	switch {
	case errors.Is(err, fs.ErrExist): // another start won: use its token
		token, err = readTokenFile(path)
		return token, false, err
	case err != nil:
		return "", false, fmt.Errorf("cannot write the admin token file %s: %w", path, err)
	}
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
	return token, true, nil
}

// readTokenFile reads an existing token file; fs.ErrNotExist when there is
// none.
func readTokenFile(path string) (string, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return "", err
	}
	if err != nil {
		return "", fmt.Errorf("cannot read the admin token file %s: %w", path, err)
	}
	token := strings.TrimSpace(string(b))
	if token == "" {
		return "", fmt.Errorf("the admin token file %s is empty: delete it and relayd creates a new token at its next start", path)
	}
	return token, nil
}
