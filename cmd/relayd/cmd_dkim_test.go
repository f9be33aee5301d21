package main

import (
	"bytes"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/relayd/relayd/upstream"
)

func runKeygen(args ...string) (int, string, string) {
	var out, errb bytes.Buffer
	code := run(append([]string{"dkim-keygen"}, args...), &out, &errb)
	return code, out.String(), errb.String()
}

// zoneValue joins the quoted strings of the zone-file line in out.
func zoneValue(t *testing.T, out, name string) string {
	t.Helper()
	for _, l := range strings.Split(out, "\n") {
		if rest, ok := strings.CutPrefix(l, name+". IN TXT ( "); ok {
			var b strings.Builder
			for _, m := range regexp.MustCompile(`"([^"]*)"`).FindAllStringSubmatch(rest, -1) {
				if len(m[1]) > 255 {
					t.Errorf("TXT string of %d octets (RFC 1035 allows 255)", len(m[1]))
				}
				b.WriteString(m[1])
			}
			return b.String()
		}
	}
	t.Fatalf("no zone line for %s in:\n%s", name, out)
	return ""
}

func TestDKIMKeygen(t *testing.T) {
	for _, tc := range []struct {
		args []string
		kind string
	}{
		{[]string{"-type", "rsa", "-bits", "1024"}, "k=rsa"},
		{[]string{"-type", "ed25519"}, "k=ed25519"},
	} {
		dir := t.TempDir()
		out := filepath.Join(dir, "key.pem")
		code, stdout, stderr := runKeygen(append([]string{"-domain", "Example.COM.", "-selector", "relay2026", "-out", out}, tc.args...)...)
		if code != 0 {
			t.Fatalf("%q: exit %d: %s", tc.args, code, stderr)
		}
		fi, err := os.Stat(out)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != 0o600 {
			t.Errorf("key file mode %v, want 0600", fi.Mode().Perm())
		}
		pemData, _ := os.ReadFile(out)
		key, err := upstream.ParseDKIMKey(pemData)
		if err != nil {
			t.Fatalf("the key does not parse: %v", err)
		}
		want, err := upstream.DKIMRecord(key.Public())
		if err != nil {
			t.Fatal(err)
		}
		if got := zoneValue(t, stdout, "relay2026._domainkey.example.com"); got != want || !strings.Contains(got, tc.kind) {
			t.Errorf("published record %q, want %q", got, want)
		}
		for _, s := range []string{"[[dkim]]\n", `domain   = "example.com"`, `selector = "relay2026"`, `key_file = "` + out + `"`} {
			if !strings.Contains(stdout, s) {
				t.Errorf("output lacks %q:\n%s", s, stdout)
			}
		}
		if strings.Contains(stdout, "PRIVATE KEY") {
			t.Error("the private key is printed")
		}

		// A second run must not replace the key.
		code, _, stderr = runKeygen("-domain", "example.com", "-selector", "relay2026", "-out", out)
		if code != 1 || !strings.Contains(stderr, "already exists") {
			t.Errorf("overwrite: exit %d %s", code, stderr)
		}
		if again, _ := os.ReadFile(out); !bytes.Equal(again, pemData) {
			t.Error("the existing key was changed")
		}
	}
}

func TestDKIMKeygenDefaultName(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	code, stdout, stderr := runKeygen("-selector", "s1", "-domain", "example.org")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	pemData, err := os.ReadFile(filepath.Join(dir, "example.org.s1.pem"))
	if err != nil {
		t.Fatal(err)
	}
	key, err := upstream.ParseDKIMKey(pemData)
	if err != nil {
		t.Fatal(err)
	}
	want, _ := upstream.DKIMRecord(key.Public())
	if got := zoneValue(t, stdout, "s1._domainkey.example.org"); got != want || !strings.Contains(stdout, "RSA-2048") {
		t.Errorf("record %q, want %q (RSA-2048)", got, want)
	}
}

func TestDKIMKeygenBadFlags(t *testing.T) {
	out := filepath.Join(t.TempDir(), "k.pem")
	for _, args := range [][]string{
		{"-selector", "s"},
		{"-domain", "example.com"},
		{"-domain", "example.com", "-selector", "s", "-type", "dsa"},
		{"-domain", "example.com", "-selector", "s", "-bits", "512"},
		{"-domain", "example.com", "-selector", "bad selector"},
		{"-domain", "exa mple.com", "-selector", "s"},
		{"-domain", "example.com", "-selector", "s", "-frob"},
		{"-domain", "example.com", "-selector", "s", "extra"},
	} {
		if code, _, _ := runKeygen(append(args, "-out", out)...); code != 2 {
			t.Errorf("%q: exit %d, want 2", args, code)
		}
	}
	if _, err := os.Stat(out); err == nil {
		t.Error("a key was written despite bad flags")
	}
}
