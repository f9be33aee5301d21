package main

import (
	"strings"
	"testing"

	"github.com/relayd/relayd/cmd/relayd/config/configtest"
)

// TestOpenRelayWarning: a non-loopback listener whose allow_networks cover
// every address and whose auth is not "required" is valid, with a loud
// warning in check-config (exit 0) and in serve's log at start.
func TestOpenRelayWarning(t *testing.T) {
	dir := t.TempDir()
	cfg := configtest.WriteFile(t, dir, "relayd.toml", strings.ReplaceAll(configtest.OpenRelay, "@DIR@", dir), 0o600)
	const warning = `allow_networks: OPEN RELAY: listener "public" on 192.0.2.1:2525 accepts mail from every address (0.0.0.0/0) without authentication (auth = "optional")`
	code, out, errs := runCLI(t, nil, "", "check-config", "-config", cfg)
	if code != 0 || !strings.Contains(errs, "warning: "+cfg+":10: listener."+warning) || !strings.Contains(out, "configuration OK (1 warnings)") {
		t.Errorf("check-config: exit %d, want 0 and the warning\nstdout:\n%s\nstderr:\n%s", code, out, errs)
	}

	// serve logs it before it binds; 192.0.2.1 (TEST-NET-1) is not an
	// address of this host, so the bind fails and nothing is exposed.
	if code, _, serveErr := runCLI(t, nil, "", "serve", "-config", cfg); code != 1 || !strings.Contains(serveErr, "OPEN RELAY") {
		t.Errorf("serve: exit %d, want 1 (cannot bind) after the warning:\n%s", code, serveErr)
	}
}

// TestTLSWords: the seeds' "SSL: yes" is refused with a message that names
// the profile and suggests the two modes it may mean; port 465 without
// implicit TLS is a warning.
func TestTLSWords(t *testing.T) {
	profile := "[[profile]]\nname = \"sales-gmail\"\nhost = \"smtp.gmail.com\"\n"
	for _, word := range []string{"ssl", "SSL", "yes", "tls", "smtps"} {
		path := configtest.WriteFile(t, t.TempDir(), "relayd.toml", configtest.Minimal+profile+"tls = \""+word+"\"\n", 0o600)
		code, _, errs := runCLI(t, nil, "", "check-config", "-config", path)
		want := path + `:14: profile "sales-gmail": tls: invalid value "` + word + `": say which TLS: "implicit"`
		if code != 2 || !strings.Contains(errs, want) || !strings.Contains(errs, `or "starttls-required"`) {
			t.Errorf("tls = %q: exit %d, want 2 and %q\n%s", word, code, want, errs)
		}
	}
}
