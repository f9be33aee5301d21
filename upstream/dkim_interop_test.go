package upstream

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// Independent DKIM verifiers (signatures must verify
// with standard tools): dkimpy and OpenDKIM, with the key record injected, so
// no DNS is involved. A missing tool skips the test locally and fails it
// under CI=true, so CI cannot pass by skipping.

// dkimpyScript verifies argv[1] with dkimpy; the TXT record of the name
// argv[2] is argv[3]'s content, served through dnsfunc.
const dkimpyScript = `import sys, dkim
msg = open(sys.argv[1], 'rb').read()
name = sys.argv[2].encode().lower()
txt = open(sys.argv[3], 'rb').read().strip()
def dnsfunc(q, timeout=5):
    if isinstance(q, str):
        q = q.encode()
    return txt if q.rstrip(b'.').lower() == name else None
ok = dkim.verify(msg, dnsfunc=dnsfunc)
print('pass' if ok else 'fail')
sys.exit(0 if ok else 1)
`

func missingTool(t *testing.T, what, install string) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatalf("%s is missing (CI=true: not skipped): %s", what, install)
	}
	t.Skipf("%s is missing: %s", what, install)
}

// dkimpyPython is a python3 that can import dkim and nacl (Ed25519).
func dkimpyPython(t *testing.T) string {
	t.Helper()
	for _, py := range []string{"/usr/bin/python3", "python3"} {
		if path, err := exec.LookPath(py); err == nil && exec.Command(path, "-c", "import dkim, nacl").Run() == nil {
			return path
		}
	}
	missingTool(t, "dkimpy", "install python3-dkim (apt-get install -y python3-dkim python3-nacl)")
	return ""
}

func writeTemp(t *testing.T, dir, name string, data []byte) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// dkimpyVerify reports whether dkimpy accepts msg's signature.
func dkimpyVerify(t *testing.T, py string, msg []byte, f dkimFixture) (bool, string) {
	t.Helper()
	dir := t.TempDir()
	cmd := exec.Command(py, writeTemp(t, dir, "verify.py", []byte(dkimpyScript)), writeTemp(t, dir, "msg", msg),
		DKIMRecordName(f.key.Selector, f.key.Domain), writeTemp(t, dir, "txt", []byte(f.txt)))
	out, err := cmd.CombinedOutput()
	if err != nil && !strings.Contains(string(out), "fail") {
		t.Fatalf("dkimpy: %v: %s", err, out)
	}
	return err == nil, string(out)
}

// opendkimVerify runs OpenDKIM's filter in test mode (opendkim -t) with
// the record in a TestPublicKeys file, and reports whether it found the
// signature good.
func opendkimVerify(t *testing.T, msg []byte, f dkimFixture) (bool, string) {
	t.Helper()
	bin, err := exec.LookPath("opendkim")
	if err != nil {
		if bin, err = exec.LookPath("/usr/sbin/opendkim"); err != nil {
			missingTool(t, "OpenDKIM", "install opendkim (apt-get install -y opendkim)")
		}
	}
	dir := t.TempDir()
	keys := writeTemp(t, dir, "keys", []byte(DKIMRecordName(f.key.Selector, f.key.Domain)+" "+f.txt+"\n"))
	conf := writeTemp(t, dir, "opendkim.conf", []byte("Mode v\nSyslog no\nTestPublicKeys "+keys+
		"\nMinimumKeyBits 1024\nAlwaysAddARHeader yes\nAuthservID test\n"))
	cmd := exec.Command(bin, "-x", conf, "-vvv", "-t", writeTemp(t, dir, "msg", msg))
	out, _ := cmd.CombinedOutput()
	alg := map[string]string{DKIMKeyRSA: "rsa-sha256", DKIMKeyEd25519: "ed25519-sha256"}[kindOf(f)]
	for _, line := range strings.Split(string(out), "\n") {
		if _, res, ok := strings.Cut(line, "dkim="); ok && strings.HasPrefix(res, "pass ") &&
			strings.Contains(res, " header.d="+f.key.Domain+" ") && strings.Contains(res, " header.a="+alg+" ") &&
			strings.Contains(res, " header.s="+f.key.Selector+" ") {
			return true, string(out)
		}
	}
	return false, string(out)
}

func kindOf(f dkimFixture) string { return strings.TrimPrefix(f.key.Selector, "sel-") }

func TestDKIMInteropDkimpy(t *testing.T) {
	py := dkimpyPython(t)
	for _, kind := range []string{DKIMKeyRSA, DKIMKeyEd25519} {
		f := testDKIMKey(t, kind)
		signed, err := SignDKIM([]byte(dkimMsg), []DKIMKey{f.key})
		if err != nil {
			t.Fatal(err)
		}
		if ok, out := dkimpyVerify(t, py, signed, f); !ok {
			t.Errorf("%s: dkimpy rejects the signature: %s\n%s", kind, out, signed)
		}
		tampered := bytes.Replace(signed, []byte("Hello  Bob"), []byte("Hello  Eve"), 1)
		if ok, _ := dkimpyVerify(t, py, tampered, f); ok {
			t.Errorf("%s: dkimpy accepts a changed body", kind)
		}
	}
}

func TestDKIMInteropOpenDKIM(t *testing.T) {
	for _, kind := range []string{DKIMKeyRSA, DKIMKeyEd25519} {
		f := testDKIMKey(t, kind)
		signed, err := SignDKIM([]byte(dkimMsg), []DKIMKey{f.key})
		if err != nil {
			t.Fatal(err)
		}
		if ok, out := opendkimVerify(t, signed, f); !ok {
			t.Errorf("%s: OpenDKIM rejects the signature:\n%s\n%s", kind, out, signed)
		}
		tampered := bytes.Replace(signed, []byte("Hello  Bob"), []byte("Hello  Eve"), 1)
		if ok, _ := opendkimVerify(t, tampered, f); ok {
			t.Errorf("%s: OpenDKIM accepts a changed body", kind)
		}
	}
}
