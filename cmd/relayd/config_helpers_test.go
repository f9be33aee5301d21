package main

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// minimal is the smallest valid configuration. Cases append arrays of tables
// ([[profile]], [[listener]], ...) and tables other than [relay] to it.
const minimal = `[relay]
default_profile = "p"

[[listener]]
name = "l"
address = "127.0.0.1:0"

[[profile]]
name = "p"
type = "direct"
`

// writeFile writes content to name in dir with mode perm and returns its path.
func writeFile(t *testing.T, dir, name, content string, perm os.FileMode) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(content), perm); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(p, perm); err != nil { // umask-proof
		t.Fatal(err)
	}
	return p
}

// loadText writes body to a 0600 relayd.toml in a temp dir and loads it.
func loadText(t *testing.T, body string) (*File, []string, error) {
	t.Helper()
	return Load(writeFile(t, t.TempDir(), "relayd.toml", body, 0o600))
}

// mustLoad loads body and fails the test on any error.
func mustLoad(t *testing.T, body string) (*File, []string) {
	t.Helper()
	f, w, err := loadText(t, body)
	if err != nil {
		t.Fatalf("Load: %v\nconfig:\n%s", err, body)
	}
	return f, w
}

// configErrors returns Load's error as a list, failing when it is not one.
func configErrors(t *testing.T, err error) ConfigErrors {
	t.Helper()
	var list ConfigErrors
	if !errors.As(err, &list) {
		t.Fatalf("error %v (%T) is not ConfigErrors", err, err)
	}
	return list
}

// findError returns the error about key whose message contains msg.
func findError(list ConfigErrors, key, msg string) *ConfigError {
	for _, e := range list {
		if e.Key == key && strings.Contains(e.Msg, msg) {
			return e
		}
	}
	return nil
}

// lineOf returns the 1-based line where the last occurrence of s in text
// starts (the last: a duplicate is reported on its second appearance).
func lineOf(t *testing.T, text, s string) int {
	t.Helper()
	i := strings.LastIndex(text, s)
	if i < 0 {
		t.Fatalf("%q not in text", s)
	}
	return strings.Count(text[:i], "\n") + 1
}

// writeCert writes a self-signed certificate and key for localhost.
func writeCert(t *testing.T, dir string) (certFile, keyFile string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "localhost"},
		DNSNames:              []string{"localhost"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		IsCA:                  true,
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kb, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certFile = writeFile(t, dir, "cert.pem", string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})), 0o644)
	keyFile = writeFile(t, dir, "key.pem", string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kb})), 0o600)
	return certFile, keyFile
}

// writeDKIMKey writes a PKCS#8 PEM key: "ed25519" or "rsa" (2048 bits).
func writeDKIMKey(t *testing.T, dir, kind string) string {
	t.Helper()
	var key any
	switch kind {
	case "ed25519":
		_, k, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		key = k
	case "rsa":
		k, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			t.Fatal(err)
		}
		key = k
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	pem.Encode(&b, &pem.Block{Type: "PRIVATE KEY", Bytes: der})
	return writeFile(t, dir, kind+".pem", b.String(), 0o600)
}

// testHash is a bcrypt hash (cost 10) of "example-only-password".
const testHash = "$2a$10$sd.u32aEDpDe98WuG2V4jeay6VGkDdC588zu9GkIU0QxHKfDYSdV2"

// tomlPath quotes a file path for a TOML basic string.
func tomlPath(p string) string { return `"` + strings.ReplaceAll(p, `\`, `\\`) + `"` }

func chmod(t *testing.T, path string, perm uint32) {
	t.Helper()
	if err := os.Chmod(path, os.FileMode(perm)); err != nil {
		t.Fatal(err)
	}
}
