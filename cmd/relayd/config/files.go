package config

import (
	"crypto"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strings"

	"github.com/relayd/relayd/upstream"
)

// Reading the files and environment variables a config names. Messages name
// the file or variable and the reason, never the content.

const (
	maxSecretFile = 64 << 10 // passwords, tokens, client secrets, keys
	maxPEMFile    = 1 << 20  // certificates, CA bundles
)

// readSmallFile reads a regular file of at most max bytes. Refusing devices
// and FIFOs keeps a typo like "/dev/zero" from hanging the loader.
func readSmallFile(path string, max int64) ([]byte, fs.FileMode, error) {
	fh, err := os.Open(path)
	if err != nil {
		return nil, 0, fileErr(path, err)
	}
	defer fh.Close()
	st, err := fh.Stat()
	if err != nil {
		return nil, 0, fileErr(path, err)
	}
	if !st.Mode().IsRegular() {
		return nil, 0, fmt.Errorf("cannot read %s: not a regular file", path)
	}
	b, err := io.ReadAll(io.LimitReader(fh, max+1))
	if err != nil {
		return nil, 0, fileErr(path, err)
	}
	if int64(len(b)) > max {
		return nil, 0, fmt.Errorf("cannot read %s: larger than %s", path, Size(max))
	}
	return b, st.Mode().Perm(), nil
}

// fileErr says why path could not be read, without repeating the Op.
func fileErr(path string, err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		err = pe.Err
	}
	return fmt.Errorf("cannot read %s: %v", path, err)
}

// trimNewline drops the trailing line ending(s) an editor adds.
func trimNewline(b []byte) string { return strings.TrimRight(string(b), "\r\n") }

// secret is one secret setting: a literal, a file or an environment variable.
type secret struct {
	literalKey, fileKey, envKey string
	literal, file, env          string
}

// resolve returns the secret's value and whether one was given. It reports
// giving more than one form, and, unless use is secretSkip, an unreadable
// or empty file and an unset or empty variable, on the key concerned (an
// unset variable only as a warning with secretCheck). With secretSkip it
// returns "" for a file or variable, which it does not look at.
func (s secret) resolve(m *tableMeta, use secretUse, p *problems) (string, bool) {
	n := 0
	for _, v := range []string{s.literal, s.file, s.env} {
		if v != "" {
			n++
		}
	}
	switch {
	case n == 0:
		return "", false
	case n > 1:
		key := s.fileKey
		if s.env != "" {
			key = s.envKey
		}
		p.err(m, key, "give only one of %s, %s and %s", s.literalKey, s.fileKey, s.envKey)
		return "", true
	case s.literal != "":
		return s.literal, true
	case use == secretSkip:
		return "", true
	case s.file != "":
		b, mode, err := readSmallFile(s.file, maxSecretFile)
		if err != nil {
			p.err(m, s.fileKey, "%v", err)
			return "", true
		}
		v := trimNewline(b)
		if v == "" {
			p.err(m, s.fileKey, "%s is empty", s.file)
		}
		warnWorldReadable(m, s.fileKey, s.file, mode, p)
		return v, true
	default:
		v, ok := os.LookupEnv(s.env)
		if !ok && use == secretCheck {
			if inherited(m, s.envKey) {
				return "", true // the profile it comes from warns
			}
			p.warn(m, s.envKey, "environment variable %s is not set here; relayd serve needs it (under systemd: a line %s=... in /etc/relayd/env, the unit's EnvironmentFile)", s.env, s.env)
		} else if !ok {
			p.err(m, s.envKey, "environment variable %s is not set", s.env)
		} else if v == "" {
			p.err(m, s.envKey, "environment variable %s is empty", s.env)
		}
		return v, true
	}
}

// warnWorldReadable warns about a secret file others can read. Group-readable
// is the usual root:relayd 0640 setup and gets no warning.
func warnWorldReadable(m *tableMeta, key, path string, mode fs.FileMode, p *problems) {
	if mode&0o004 != 0 {
		p.warn(m, key, "%s is readable by every user (mode %04o): chmod o-r it", path, mode)
	}
}

// readSecretFile reads a token or key file: trimmed, non-empty.
func readSecretFile(m *tableMeta, key, path string, p *problems) string {
	b, mode, err := readSmallFile(path, maxSecretFile)
	if err != nil {
		p.err(m, key, "%v", err)
		return ""
	}
	v := trimNewline(b)
	if v == "" {
		p.err(m, key, "%s is empty", path)
	}
	warnWorldReadable(m, key, path, mode, p)
	return v
}

// parseSpoolKey accepts a raw AES key of 16, 24 or 32 bytes, or the same in
// hex (what `openssl rand -hex 32` writes).
func parseSpoolKey(s string) ([]byte, error) {
	if n := len(s); n == 16 || n == 24 || n == 32 {
		return []byte(s), nil
	}
	if b, err := hex.DecodeString(strings.TrimSpace(s)); err == nil && (len(b) == 16 || len(b) == 24 || len(b) == 32) {
		return b, nil
	}
	return nil, errors.New("must hold an AES key of 16, 24 or 32 bytes, raw or in hex (create one with: openssl rand -hex 32)")
}

// loadDKIMKey reads a DKIM key_file and parses it with
// upstream.ParseDKIMKey, the one DKIM key parser (RSA of at least 1024
// bits or Ed25519; PKCS#8, or PKCS#1 as older tools write). The error names
// the file; upstream's "upstream: dkim: " prefix is dropped, as a person
// reads it next to the key.
func loadDKIMKey(path string) (crypto.Signer, error) {
	b, _, err := readSmallFile(path, maxSecretFile)
	if err != nil {
		return nil, err
	}
	key, err := upstream.ParseDKIMKey(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %s", path, strings.TrimPrefix(err.Error(), "upstream: dkim: "))
	}
	return key, nil
}

// loadCAFile returns the system roots plus the certificates of path, as
// relayd uses for the upstream and its OAuth2 token endpoint.
func loadCAFile(path string) (*x509.CertPool, error) {
	b, _, err := readSmallFile(path, maxPEMFile)
	if err != nil {
		return nil, err
	}
	pool, err := x509.SystemCertPool()
	if err != nil || pool == nil {
		pool = x509.NewCertPool()
	}
	if !pool.AppendCertsFromPEM(b) {
		return nil, fmt.Errorf("%s holds no PEM certificate", path)
	}
	return pool, nil
}

// loadServerTLS loads a listener's certificate and key.
func loadServerTLS(certFile, keyFile string) (*tls.Config, error) {
	certPEM, _, err := readSmallFile(certFile, maxPEMFile)
	if err != nil {
		return nil, err
	}
	keyPEM, _, err := readSmallFile(keyFile, maxSecretFile)
	if err != nil {
		return nil, err
	}
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return nil, fmt.Errorf("cannot load certificate %s and key %s: %v", certFile, keyFile, err)
	}
	return &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}, nil
}
