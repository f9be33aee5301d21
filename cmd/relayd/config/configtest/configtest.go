// Package configtest writes the files that the tests of package config and
// of cmd/relayd load: the smallest valid configuration, files with exact
// permissions, self-signed certificates. It does not import config, so
// config's own tests use it too.
package configtest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Minimal is the smallest valid configuration. Cases append arrays of tables
// ([[profile]], [[listener]], ...) and tables other than [relay] to it.
const Minimal = `[relay]
default_profile = "p"

[[listener]]
name = "l"
address = "127.0.0.1:0"

[[profile]]
name = "p"
type = "direct"
`

// WriteFile writes content to name in dir with mode perm and returns its path.
func WriteFile(t *testing.T, dir, name, content string, perm os.FileMode) string {
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

// WriteCert writes a self-signed certificate (cert.pem, 0644) and key
// (key.pem, 0600) for localhost into dir.
func WriteCert(t *testing.T, dir string) (certFile, keyFile string) {
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
	certFile = WriteFile(t, dir, "cert.pem", string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})), 0o644)
	keyFile = WriteFile(t, dir, "key.pem", string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kb})), 0o600)
	return certFile, keyFile
}

// TOMLPath quotes a file path for a TOML basic string.
func TOMLPath(p string) string { return `"` + strings.ReplaceAll(p, `\`, `\\`) + `"` }

// OpenRelay is a config whose listener any host on the internet may send
// through; @DIR@ stands for a temporary directory (state_dir is under it).
const OpenRelay = `[server]
state_dir = "@DIR@/state"

[relay]
default_profile = "p"

[[listener]]
name = "public"
address = "192.0.2.1:2525"
allow_networks = ["0.0.0.0/0", "::/0"]
auth = "optional"

[[profile]]
name = "p"
type = "direct"
`
