package config

import (
	"strings"
	"testing"

	"github.com/relayd/relayd/cmd/relayd/config/configtest"
)

// TestAllowedHostsConfig: each [admin] allowed_hosts entry is checked by
// ParseAllowedHost; a bad one is an error on allowed_hosts.
func TestAllowedHostsConfig(t *testing.T) {
	for _, tc := range []struct{ value, err string }{
		{`["relay.example.com", "relay.internal:9425", "192.0.2.7", "[::1]:9425", "2001:db8::1"]`, ""},
		{`["http://relay.example.com"]`, `"http://relay.example.com" is not a host name`},
		{`["*.example.com"]`, "without scheme, path or wildcard"},
		{`["relay.example.com:0"]`, "has no valid port"},
		{`["relay.example.com:x"]`, "has no valid port"},
		{`["bad_name!"]`, "is not a host name or IP address"},
	} {
		_, _, err := loadText(t, configtest.Minimal+"\n[admin]\nallowed_hosts = "+tc.value+"\n")
		switch {
		case tc.err == "" && err != nil:
			t.Errorf("%s: %v", tc.value, err)
		case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err) || !strings.Contains(err.Error(), "allowed_hosts")):
			t.Errorf("%s: error %v, want %q on allowed_hosts", tc.value, err, tc.err)
		}
	}
}

func TestAdminListenEverywhereWarns(t *testing.T) {
	dir := t.TempDir()
	token := configtest.TOMLPath(configtest.WriteFile(t, dir, "admin.token", "t0ken\n", 0o600))
	_, warnings := mustLoad(t, configtest.Minimal+"\n[admin]\nlisten = \"0.0.0.0:9425\"\ntoken_file = "+token+"\n")
	if !strings.Contains(strings.Join(warnings, "\n"), "requests from other hosts are refused (403) unless their Host is in allowed_hosts") {
		t.Errorf("no warning about allowed_hosts: %q", warnings)
	}
	_, warnings = mustLoad(t, configtest.Minimal+"\n[admin]\nlisten = \"0.0.0.0:9425\"\ntoken_file = "+token+"\nallowed_hosts = [\"relay.example.com\"]\n")
	if strings.Contains(strings.Join(warnings, "\n"), "allowed_hosts") {
		t.Errorf("warning despite allowed_hosts: %q", warnings)
	}
}
