package main

import (
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/relayd/relayd/cmd/relayd/config"
	"github.com/relayd/relayd/cmd/relayd/config/configtest"
)

// The environment variables of TestSecretsOnlyWhereNeeded.
const (
	upPassEnv    = "RELAYD_TEST_UP_PW"
	salesPassEnv = "RELAYD_TEST_SALES_GMAIL_PW" // never set
)

// TestSecretsOnlyWhereNeeded: a command reads only the secrets of the
// profiles it uses. With profile sales-gmail's password_env unset, `route`,
// `queue list` and `test up` work; `test sales-gmail` and `check-config`
// (like serve) say the variable is not set.
func TestSecretsOnlyWhereNeeded(t *testing.T) {
	t.Setenv(upPassEnv, probePass)
	t.Setenv(salesPassEnv, "")
	os.Unsetenv(salesPassEnv) // t.Setenv restores it afterwards

	peer := newProbePeer(t)
	fa := newFakeAdmin(t, map[string]cannedAnswer{"GET /api/v1/queue?state=active": {200, "[]\n"}})
	path := probeConfig(t, peer.port, peer.caFile, probePass, "")
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	cfg := strings.Replace(string(b), fmt.Sprintf("password = %q", probePass), fmt.Sprintf("password_env = %q", upPassEnv), 1)
	cfg = strings.Replace(cfg, "[relay]\n", fmt.Sprintf("[admin]\nlisten = %q\n\n[relay]\n", fa.addr()), 1) + fmt.Sprintf(`
[[profile]]
name = "sales-gmail"
host = "smtp.gmail.com"
username = "sales@example.com"
password_env = %q

[[route]]
sender = "*@sales.example.com"
profile = "sales-gmail"
`, salesPassEnv)
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	unset := "environment variable " + salesPassEnv + " is not set"

	code, out, errs := runCLI(t, nil, "", "route", "-config", path, "-from", "a@sales.example.com", "-to", "b@example.org")
	if code != 0 || out != "b@example.org -> sales-gmail (route #1)\n" {
		t.Errorf("route: exit %d\nstdout: %s\nstderr: %s", code, out, errs)
	}
	code, out, errs = runCLI(t, nil, "", "queue", "list", "-config", path)
	if code != 0 || strings.Contains(errs, salesPassEnv) {
		t.Errorf("queue list: exit %d\nstdout: %s\nstderr: %s", code, out, errs)
	}
	code, out, errs = runProbe(t, "up", "-config", path)
	if code != 0 || !strings.Contains(out, "profile up: all steps ok") || strings.Contains(errs, salesPassEnv) {
		t.Errorf("test up: exit %d\nstdout: %s\nstderr: %s", code, out, errs)
	}
	code, out, errs = runProbe(t, "sales-gmail", "-config", path)
	if code != 2 || !strings.Contains(errs, `profile "sales-gmail": password_env: `+unset) {
		t.Errorf("test sales-gmail: exit %d, want 2 and %q\nstdout: %s\nstderr: %s", code, unset, out, errs)
	}
	// check-config runs in the admin's shell, which lacks the variables
	// systemd gives serve: a warning that says where they belong.
	code, out, errs = runCLI(t, nil, "", "check-config", "-config", path)
	if code != 0 || !strings.Contains(errs, `warning: `+path+`:29: profile "sales-gmail": password_env: environment variable `+salesPassEnv+` is not set here; relayd serve needs it (under systemd: a line `+salesPassEnv+`=... in /etc/relayd/env`) {
		t.Errorf("check-config: exit %d, want 0 and a warning\nstdout: %s\nstderr: %s", code, out, errs)
	}
	// serve (and reload) refuse to start without it.
	if _, _, err := config.Load(path); err == nil || !strings.Contains(err.Error(), unset) {
		t.Errorf("Load for serve: %v, want %q", err, unset)
	}
}

// examplePath is the annotated example configuration.
const examplePath = "../../config.example.toml"

// TestCheckConfigExample: acceptance — check-config on config.example.toml
// exits 0 in a shell without the example's password variable.
func TestCheckConfigExample(t *testing.T) {
	t.Setenv("RELAYD_OFFICE365_PASSWORD", "")
	os.Unsetenv("RELAYD_OFFICE365_PASSWORD")
	code, out, errs := runCLI(t, nil, "", "check-config", "-config", examplePath)
	if code != 0 || !strings.Contains(out, "configuration OK (1 warnings)") || !strings.Contains(errs, "RELAYD_OFFICE365_PASSWORD is not set here") {
		t.Errorf("check-config %s: exit %d\nstdout:\n%s\nstderr:\n%s", examplePath, code, out, errs)
	}
}

// TestKeysOnlyWhereNeeded: route and queue do not read the DKIM and
// listener keys (root:relayd 0640 files an admin's shell may not read);
// check-config does.
func TestKeysOnlyWhereNeeded(t *testing.T) {
	text := configtest.Minimal + `
[[listener]]
name = "tls"
address = "127.0.0.1:0"
tls = "implicit"
cert_file = "/nonexistent/cert.pem"
key_file = "/nonexistent/key.pem"

[[dkim]]
domain = "example.com"
selector = "s"
key_file = "/nonexistent/dkim.pem"
`
	path := configtest.WriteFile(t, t.TempDir(), "relayd.toml", text, 0o600)
	if code, out, errs := runCLI(t, nil, "", "route", "-config", path, "-from", "a@example.com", "-to", "b@example.org"); code != 0 {
		t.Errorf("route: exit %d\n%s%s", code, out, errs)
	}
	code, _, errs := runCLI(t, nil, "", "check-config", "-config", path)
	if code != 2 || !strings.Contains(errs, "listener.cert_file: cannot read /nonexistent/cert.pem") || !strings.Contains(errs, "dkim.key_file: cannot read /nonexistent/dkim.pem") {
		t.Errorf("check-config: exit %d, want 2 and both files\n%s", code, errs)
	}
}
