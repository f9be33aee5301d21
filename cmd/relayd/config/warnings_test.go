package config

import (
	"strings"
	"testing"

	"github.com/relayd/relayd/cmd/relayd/config/configtest"
)

// TestOpenRelayWarning: a non-loopback listener whose allow_networks cover
// every address and whose auth is not "required" is valid, with a loud
// warning; each case changes one of the three and says whether it still
// warns (cmd/relayd's TestOpenRelayWarning checks check-config and serve).
func TestOpenRelayWarning(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		name, from, to string
		warn           bool
	}{
		{"auth required", `auth = "optional"`, `auth = "required"`, false},
		{"loopback address", `"192.0.2.1:2525"`, `"127.0.0.1:2525"`, false},
		{"narrow networks", `["0.0.0.0/0", "::/0"]`, `["10.0.0.0/8"]`, false},
		{"every address, IPv6 all", `"192.0.2.1:2525"`, `"[::]:2525"`, true},
		{"empty host", `"192.0.2.1:2525"`, `":2525"`, true},
		{"IPv6 networks only, auth none", `allow_networks = ["0.0.0.0/0", "::/0"]
auth = "optional"`, `allow_networks = ["::/0"]
auth = "none"`, true},
	} {
		text := strings.Replace(strings.ReplaceAll(configtest.OpenRelay, "@DIR@", dir), tc.from, tc.to, 1)
		_, w := mustLoad(t, text)
		if got := strings.Contains(strings.Join(w, "\n"), "OPEN RELAY"); got != tc.warn {
			t.Errorf("%s: open-relay warning %v, want %v: %q", tc.name, got, tc.warn, w)
		}
	}
}

// TestTLSWords: TLS words a person may write for tls ("true", "yes") are
// refused with the modes they may mean; port 465 without implicit TLS is a
// warning (cmd/relayd's TestTLSWords checks check-config's message).
func TestTLSWords(t *testing.T) {
	profile := "[[profile]]\nname = \"sales-gmail\"\nhost = \"smtp.gmail.com\"\n"
	_, _, err := loadText(t, configtest.Minimal+profile+"tls = true\n")
	if e := findError(configErrors(t, err), "profile.tls", `invalid value "true": say which TLS: "implicit"`); e == nil {
		t.Errorf("tls = true: %v", err)
	}
	_, _, err = loadText(t, configtest.Minimal+"[[listener]]\nname = \"x\"\naddress = \"127.0.0.1:1\"\ntls = \"yes\"\n")
	if e := findError(configErrors(t, err), "listener.tls", `"implicit"`); e == nil || !strings.Contains(e.Msg, `or "starttls"`) {
		t.Errorf("listener tls = \"yes\": %v", err)
	}

	_, w := mustLoad(t, configtest.Minimal+profile+"port = 465\ntls = \"starttls-required\"\n")
	if len(w) != 1 || !strings.Contains(w[0], `profile "sales-gmail": tls: port 465 speaks TLS from the first byte (SMTPS), but tls = "starttls-required": set tls = "implicit"`) {
		t.Errorf("port 465 with starttls-required: warnings %q", w)
	}
	for _, ok := range []string{"port = 465\ntls = \"implicit\"\n", "tls = \"implicit\"\n", "port = 587\n"} {
		if _, w := mustLoad(t, configtest.Minimal+profile+ok); len(w) != 0 {
			t.Errorf("%q: warnings %q", ok, w)
		}
	}
	if _, w := mustLoad(t, configtest.Minimal+"[[profile]]\nname = \"s\"\nhost = \"smtp.gmail.com,465\"\n"); len(w) != 1 || !strings.Contains(w[0], "port 465") {
		t.Errorf("host = \"smtp.gmail.com,465\" (the seeds' form): warnings %q", w)
	}
}
