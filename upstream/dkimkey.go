package upstream

import (
	"crypto"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"strings"
)

// DKIM key kinds for GenerateDKIMKey.
const (
	DKIMKeyRSA     = "rsa"
	DKIMKeyEd25519 = "ed25519"
)

// GenerateDKIMKey makes a new DKIM key (for `relayd dkim-keygen`): kind is
// DKIMKeyRSA (bits: 0 = 2048, at least 1024) or DKIMKeyEd25519 (bits
// ignored; RFC 8463). It returns the private key as PKCS#8 PEM ("PRIVATE
// KEY", for key_file) and the TXT record value to publish at
// DKIMRecordName(selector, domain).
func GenerateDKIMKey(kind string, bits int) (keyPEM []byte, txt string, err error) {
	var key crypto.Signer
	switch kind {
	case DKIMKeyRSA:
		if bits == 0 {
			bits = 2048
		}
		if bits < 1024 || bits > 8192 {
			return nil, "", fmt.Errorf("upstream: dkim: RSA keys need 1024 to 8192 bits, not %d", bits)
		}
		key, err = rsa.GenerateKey(rand.Reader, bits)
	case DKIMKeyEd25519:
		_, key, err = ed25519.GenerateKey(rand.Reader)
	default:
		return nil, "", fmt.Errorf("upstream: dkim: unknown key kind %q: use %q or %q", kind, DKIMKeyRSA, DKIMKeyEd25519)
	}
	if err != nil {
		return nil, "", err
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, "", err
	}
	txt, err = DKIMRecord(key.Public())
	if err != nil {
		return nil, "", err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), txt, nil
}

// DKIMRecord is the TXT record value of a public key (RFC 6376 §3.6.1):
// "v=DKIM1; k=rsa; p=<SubjectPublicKeyInfo>" or, per RFC 8463 §4,
// "v=DKIM1; k=ed25519; p=<the 32 raw key octets>", base64.
func DKIMRecord(pub crypto.PublicKey) (string, error) {
	switch k := pub.(type) {
	case *rsa.PublicKey:
		der, err := x509.MarshalPKIXPublicKey(k)
		if err != nil {
			return "", err
		}
		return "v=DKIM1; k=rsa; p=" + base64.StdEncoding.EncodeToString(der), nil
	case ed25519.PublicKey:
		return "v=DKIM1; k=ed25519; p=" + base64.StdEncoding.EncodeToString(k), nil
	}
	return "", fmt.Errorf("upstream: dkim: unsupported public key %T", pub)
}

// DKIMRecordName is where the key of selector is published: the DNS name
// "selector._domainkey.domain" (RFC 6376 §3.6.2.1).
func DKIMRecordName(selector, domain string) string {
	return selector + "._domainkey." + strings.TrimSuffix(domain, ".")
}

// DKIMZoneRecord is a zone-file line for the record: TXT strings are
// limited to 255 octets (RFC 1035 §3.3), so a long value (an RSA-2048 key)
// is split into several quoted strings, which DKIM verifiers concatenate
// (RFC 6376 §3.6.2.2).
func DKIMZoneRecord(selector, domain, txt string) string {
	var parts []string
	for len(txt) > 255 {
		parts, txt = append(parts, `"`+txt[:255]+`"`), txt[255:]
	}
	parts = append(parts, `"`+txt+`"`)
	return DKIMRecordName(selector, domain) + ". IN TXT ( " + strings.Join(parts, " ") + " )"
}

// ParseDKIMKey reads a key_file: a PEM "PRIVATE KEY" (PKCS#8) holding an
// RSA key of at least 1024 bits or an Ed25519 key, or a PEM "RSA PRIVATE
// KEY" (PKCS#1, as `openssl genrsa` and opendkim-genkey write).
func ParseDKIMKey(pemData []byte) (crypto.Signer, error) {
	block, _ := pem.Decode(pemData)
	if block == nil {
		return nil, errors.New("upstream: dkim: no PEM block in the key file")
	}
	var key any
	var err error
	switch block.Type {
	case "PRIVATE KEY":
		key, err = x509.ParsePKCS8PrivateKey(block.Bytes)
	case "RSA PRIVATE KEY":
		key, err = x509.ParsePKCS1PrivateKey(block.Bytes)
	default:
		return nil, fmt.Errorf("upstream: dkim: PEM block %q: want \"PRIVATE KEY\" (PKCS#8)", block.Type)
	}
	if err != nil {
		return nil, fmt.Errorf("upstream: dkim: %w", err)
	}
	switch k := key.(type) {
	case *rsa.PrivateKey:
		if k.N.BitLen() < 1024 {
			return nil, fmt.Errorf("upstream: dkim: the RSA key has %d bits; DKIM needs at least 1024 (RFC 8301)", k.N.BitLen())
		}
		return k, nil
	case ed25519.PrivateKey:
		return k, nil
	}
	return nil, fmt.Errorf("upstream: dkim: unsupported key type %T: use RSA or Ed25519", key)
}
