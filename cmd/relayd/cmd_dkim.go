package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/relayd/relayd/upstream"
)

// dkimKeygen is `relayd dkim-keygen -domain D -selector S [-type rsa|ed25519]
// [-bits 2048] [-out FILE]`: it writes a new DKIM private key (PKCS#8 PEM,
// mode 0600, never over an existing file) and prints the DNS TXT record to
// publish and the [[dkim]] table to add (docs/relayd.toml.5.md). Exit 0; 1 when the
// file cannot be written (or exists); 2 on bad flags.
func (c *cli) dkimKeygen(args []string) int {
	flags, _ := c.newFlags("dkim-keygen")
	domain := flags.String("domain", "", "signing domain, the d= of the signature (required)")
	selector := flags.String("selector", "", "selector, the s= of the signature: the key is published at SELECTOR._domainkey.DOMAIN (required)")
	kind := flags.String("type", upstream.DKIMKeyRSA, "key type: rsa or ed25519 (RFC 8463; not every verifier knows it yet)")
	bits := flags.Int("bits", 2048, "RSA key size in bits, 1024 to 8192")
	out := flags.String("out", "", "private key file to create (default DOMAIN.SELECTOR.pem in the current directory)")
	if code, ok := parse(flags, args); !ok {
		return code
	}
	if !c.noArgs(flags) {
		return 2
	}
	d := strings.ToLower(strings.TrimSuffix(*domain, "."))
	if msg := checkKeygenFlags(d, *selector, *kind, *bits); msg != "" {
		fmt.Fprintf(c.stderr, "relayd dkim-keygen: %s\n", msg)
		fmt.Fprintln(c.stderr, "usage: relayd dkim-keygen -domain D -selector S [-type rsa|ed25519] [-bits 2048] [-out FILE]")
		return 2
	}
	path := *out
	if path == "" {
		path = d + "." + *selector + ".pem"
	}
	if _, err := os.Lstat(path); err == nil {
		fmt.Fprintf(c.stderr, "relayd dkim-keygen: %s already exists: not overwriting a key (remove it or choose -out)\n", path)
		return 1
	}
	keyPEM, txt, err := upstream.GenerateDKIMKey(*kind, *bits)
	if err != nil {
		fmt.Fprintf(c.stderr, "relayd dkim-keygen: %v\n", err)
		return 2
	}
	if err := writeNewKey(path, keyPEM); err != nil {
		fmt.Fprintf(c.stderr, "relayd dkim-keygen: %v\n", err)
		return 1
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		abs = path
	}
	fmt.Fprintf(c.stdout, "wrote the %s private key to %s (mode 0600)\n\n", keyLabel(*kind, *bits), path)
	fmt.Fprintf(c.stdout, "1. Publish this TXT record in the DNS of %s:\n\n%s\n\n", d, upstream.DKIMZoneRecord(*selector, d, txt))
	fmt.Fprintf(c.stdout, "2. Add this to the relayd config (move the key where the relayd user can read it, "+
		"e.g. /etc/relayd/dkim/, and fix key_file):\n\n[[dkim]]\ndomain   = %q\nselector = %q\nkey_file = %q\n\n",
		d, *selector, abs)
	fmt.Fprintln(c.stdout, "3. Reload relayd (systemctl reload relayd) once the record is visible in the DNS.")
	return 0
}

// checkKeygenFlags returns what is wrong with the flags, or "".
func checkKeygenFlags(domain, selector, kind string, bits int) string {
	switch {
	case domain == "" || selector == "":
		return "-domain and -selector are required"
	case !dnsName(domain) || !strings.Contains(domain, "."):
		return fmt.Sprintf("-domain %q is not a domain name", domain)
	case !dnsName(selector):
		return fmt.Sprintf("-selector %q is not valid: letters, digits, '-' and '.' (RFC 6376 §3.1)", selector)
	case kind != upstream.DKIMKeyRSA && kind != upstream.DKIMKeyEd25519:
		return fmt.Sprintf("-type %q: use rsa or ed25519", kind)
	case kind == upstream.DKIMKeyRSA && (bits < 1024 || bits > 8192):
		return fmt.Sprintf("-bits %d: RSA keys need 1024 to 8192 bits (2048 is the usual)", bits)
	}
	return ""
}

// dnsName reports whether s is dot-separated labels of letters, digits,
// '-' and '_', none empty or longer than 63 octets.
func dnsName(s string) bool {
	if len(s) > 253 {
		return false
	}
	for _, label := range strings.Split(s, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for _, r := range label {
			if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
				return false
			}
		}
	}
	return true
}

// writeNewKey creates path with mode 0600 (O_EXCL: never over an existing
// file, nor through a symlink) and syncs it.
func writeNewKey(path string, data []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("%s already exists: not overwriting a key (remove it or choose -out)", path)
	}
	if err != nil {
		return err
	}
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(path)
		return fmt.Errorf("writing %s: %w", path, err)
	}
	return nil
}

func keyLabel(kind string, bits int) string {
	if kind == upstream.DKIMKeyEd25519 {
		return "Ed25519"
	}
	return fmt.Sprintf("RSA-%d", bits)
}
