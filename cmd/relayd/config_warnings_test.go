package main

import (
	"strings"
	"testing"
)

// openRelay is a listener any host on the internet may send through.
const openRelay = `[server]
state_dir = "@DIR@/state"

[relay]
default_profile = "p"

[[listener]]
name = "public"
address = "192.0.2.1:2525"
allow_networks = ["0.0.0.0/0", "::/0"]
auth = "optional"

[[profile]]
name = "p"
type = "direct"
`

// TestOpenRelayWarning: a non-loopback listener whose allow_networks cover
// every address and whose auth is not "required" is valid, with a loud
// warning in check-config (exit 0) and in serve's log at start.
func TestOpenRelayWarning(t *testing.T) {
	dir := t.TempDir()
	cfg := writeFile(t, dir, "relayd.toml", strings.ReplaceAll(openRelay, "@DIR@", dir), 0o600)
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
		text := strings.Replace(strings.ReplaceAll(openRelay, "@DIR@", dir), tc.from, tc.to, 1)
		_, w := mustLoad(t, text)
		if got := strings.Contains(strings.Join(w, "\n"), "OPEN RELAY"); got != tc.warn {
			t.Errorf("%s: open-relay warning %v, want %v: %q", tc.name, got, tc.warn, w)
		}
	}
}

// TestTLSWords: the seeds' "SSL: yes" is refused with a message that names
// the profile and suggests the two modes it may mean; port 465 without
// implicit TLS is a warning.
func TestTLSWords(t *testing.T) {
	profile := "[[profile]]\nname = \"sales-gmail\"\nhost = \"smtp.gmail.com\"\n"
	for _, word := range []string{"ssl", "SSL", "yes", "tls", "smtps"} {
		path := writeFile(t, t.TempDir(), "relayd.toml", minimal+profile+"tls = \""+word+"\"\n", 0o600)
		code, _, errs := runCLI(t, nil, "", "check-config", "-config", path)
		want := path + `:14: profile "sales-gmail": tls: invalid value "` + word + `": say which TLS: "implicit"`
		if code != 2 || !strings.Contains(errs, want) || !strings.Contains(errs, `or "starttls-required"`) {
			t.Errorf("tls = %q: exit %d, want 2 and %q\n%s", word, code, want, errs)
		}
	}
	_, _, err := loadText(t, minimal+profile+"tls = true\n")
	if e := findError(configErrors(t, err), "profile.tls", `invalid value "true": say which TLS: "implicit"`); e == nil {
		t.Errorf("tls = true: %v", err)
	}
	_, _, err = loadText(t, minimal+"[[listener]]\nname = \"x\"\naddress = \"127.0.0.1:1\"\ntls = \"yes\"\n")
	if e := findError(configErrors(t, err), "listener.tls", `"implicit"`); e == nil || !strings.Contains(e.Msg, `or "starttls"`) {
		t.Errorf("listener tls = \"yes\": %v", err)
	}

	_, w := mustLoad(t, minimal+profile+"port = 465\ntls = \"starttls-required\"\n")
	if len(w) != 1 || !strings.Contains(w[0], `profile "sales-gmail": tls: port 465 speaks TLS from the first byte (SMTPS), but tls = "starttls-required": set tls = "implicit"`) {
		t.Errorf("port 465 with starttls-required: warnings %q", w)
	}
	for _, ok := range []string{"port = 465\ntls = \"implicit\"\n", "tls = \"implicit\"\n", "port = 587\n"} {
		if _, w := mustLoad(t, minimal+profile+ok); len(w) != 0 {
			t.Errorf("%q: warnings %q", ok, w)
		}
	}
	if _, w := mustLoad(t, minimal+"[[profile]]\nname = \"s\"\nhost = \"smtp.gmail.com,465\"\n"); len(w) != 1 || !strings.Contains(w[0], "port 465") {
		t.Errorf("host = \"smtp.gmail.com,465\" (the seeds' form): warnings %q", w)
	}
}

// TestDuplicateProfileOneError: a second [[profile]] with the name of
// another (here one that extends a base, so it lacks host and password of
// its own) gives exactly the duplicate-name error.
func TestDuplicateProfileOneError(t *testing.T) {
	text := minimal + `
[[profile]]
name = "gmail"
host = "smtp.gmail.com"
username = "a@example.com"
password_env = "HOME"

[[profile]]
name = "sales-gmail"
extends = "gmail"

[[profile]]
name = "sales-gmail"
extends = "gmail"
username = "sales@example.com"
`
	path := writeFile(t, t.TempDir(), "relayd.toml", text, 0o600)
	_, _, err := Load(path)
	list := configErrors(t, err)
	want := path + `:23: profile "sales-gmail": name: another profile is named "sales-gmail" (line 18): give each [[profile]] its own name`
	if len(list) != 1 || list[0].Error() != want {
		t.Errorf("errors:\n%v\nwant exactly:\n%s", err, want)
	}
}
