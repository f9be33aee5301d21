package config

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/relayd/relayd/cmd/relayd/config/configtest"
)

// loadText writes body to a 0600 relayd.toml in a temp dir and loads it.
func loadText(t *testing.T, body string) (*File, []string, error) {
	t.Helper()
	return Load(configtest.WriteFile(t, t.TempDir(), "relayd.toml", body, 0o600))
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
func configErrors(t *testing.T, err error) Errors {
	t.Helper()
	var list Errors
	if !errors.As(err, &list) {
		t.Fatalf("error %v (%T) is not Errors", err, err)
	}
	return list
}

// findError returns the error about key whose message contains msg.
func findError(list Errors, key, msg string) *Error {
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
	return configtest.WriteFile(t, dir, kind+".pem", b.String(), 0o600)
}

// testHash is a bcrypt hash (cost 10) of "example-only-password".
const testHash = "$2a$10$sd.u32aEDpDe98WuG2V4jeay6VGkDdC588zu9GkIU0QxHKfDYSdV2"

func chmod(t *testing.T, path string, perm uint32) {
	t.Helper()
	if err := os.Chmod(path, os.FileMode(perm)); err != nil {
		t.Fatal(err)
	}
}
