package config

import (
	"crypto/ed25519"
	"crypto/rsa"
	"path/filepath"
	"strings"
	"testing"

	"github.com/relayd/relayd/cmd/relayd/config/configtest"
)

// TestValidation: each case is a config with one mistake; the error must
// name the key, be on the line of `at` (the marker's first occurrence), and
// say msg.
func TestValidation(t *testing.T) {
	dir := t.TempDir()
	_, key := configtest.WriteCert(t, dir)
	rsa512, _ := filepath.Abs("testdata/dkim-rsa512.pem")
	ecdsaKey, _ := filepath.Abs("testdata/dkim-ecdsa.pem")
	notPEM := configtest.WriteFile(t, dir, "not.pem", "hello\n", 0o600)
	empty := configtest.WriteFile(t, dir, "empty", "\n", 0o600)
	ed := writeDKIMKey(t, dir, "ed25519")
	listener := "[[listener]]\nname = \"x\"\naddress = \"127.0.0.1:1\"\n"
	profile := "[[profile]]\nname = \"s\"\nhost = \"smtp.example.com\"\n"
	for _, tc := range []struct {
		name, text, key, at, msg string
	}{
		{"duplicate listener", configtest.Minimal + "[[listener]]\nname = \"l\"\naddress = \"127.0.0.1:1\"\n", "listener.name", `name = "l"`, "another listener"},
		{"listener name required", configtest.Minimal + "[[listener]]\naddress = \"127.0.0.1:1\"\n", "listener.name", "[[listener]]", "required"},
		{"listener address required", configtest.Minimal + "[[listener]]\nname = \"x\"\n", "listener.address", "[[listener]]", "required"},
		{"listener address syntax", configtest.Minimal + "[[listener]]\nname = \"x\"\naddress = \"127.0.0.1\"\n", "listener.address", `address = "127.0.0.1"`, "not \"host:port\""},
		{"listener port range", configtest.Minimal + "[[listener]]\nname = \"x\"\naddress = \"127.0.0.1:70000\"\n", "listener.address", ":70000", "not \"host:port\""},
		{"listener unix empty", configtest.Minimal + "[[listener]]\nname = \"x\"\naddress = \"unix:\"\n", "listener.address", `"unix:"`, "needs a socket path"},
		{"listener same address", configtest.Minimal + "[[listener]]\nname = \"x\"\naddress = \"unix:/tmp/s\"\n[[listener]]\nname = \"y\"\naddress = \"unix:/tmp/s\"\n", "listener.address", `address = "unix:/tmp/s"`, "also the address"},
		{"starttls needs cert", configtest.Minimal + listener + "tls = \"starttls\"\n", "listener.tls", `tls = "starttls"`, "needs cert_file and key_file"},
		{"implicit bad cert", configtest.Minimal + listener + "tls = \"implicit\"\ncert_file = " + configtest.TOMLPath(notPEM) + "\nkey_file = " + configtest.TOMLPath(key) + "\n", "listener.cert_file", "cert_file", "cannot load certificate"},
		{"missing cert file", configtest.Minimal + listener + "tls = \"implicit\"\ncert_file = \"/nonexistent/c.pem\"\nkey_file = " + configtest.TOMLPath(key) + "\n", "listener.cert_file", "cert_file", "no such file"},
		{"listener unknown team", configtest.Minimal + listener + "team = \"ghost\"\n", "listener.team", `team = "ghost"`, `no team is named "ghost"`},
		{"listener zero recipients", configtest.Minimal + listener + "max_recipients = 0\n", "listener.max_recipients", "max_recipients", "at least 1"},
		{"listener short lines", configtest.Minimal + listener + "max_line_length = 100\n", "listener.max_line_length", "max_line_length", "at least 1000"},
		{"listener zero idle", configtest.Minimal + listener + "idle_timeout = \"0s\"\n", "listener.idle_timeout", "idle_timeout", "positive"},
		{"admin public needs token", configtest.Minimal + "[admin]\nlisten = \"0.0.0.0:9425\"\n", "admin.listen", "0.0.0.0:9425", "token_file"},
		{"admin empty host needs token", configtest.Minimal + "[admin]\nlisten = \":9425\"\n", "admin.listen", `":9425"`, "token_file"},
		{"admin bad listen", configtest.Minimal + "[admin]\nlisten = \"localhost\"\n", "admin.listen", `listen = "localhost"`, "not host:port"},
		{"admin token file missing", configtest.Minimal + "[admin]\nlisten = \"0.0.0.0:9425\"\ntoken_file = \"/nonexistent/token\"\n", "admin.token_file", "token_file", "no such file"},
		{"admin token file empty", configtest.Minimal + "[admin]\ntoken_file = " + configtest.TOMLPath(empty) + "\n", "admin.token_file", "token_file", "is empty"},
		{"server bad hostname", configtest.Minimal + "[server]\nhostname = \"bad host\"\n", "server.hostname", "hostname", "not a host name"},
		{"spool key bad", configtest.Minimal + "[server]\nspool_key_file = " + configtest.TOMLPath(notPEM) + "\n", "server.spool_key_file", "spool_key_file", "AES key"},
		{"profile host required", configtest.Minimal + "[[profile]]\nname = \"s\"\n", "profile.host", "[[profile]]", "required for type \"smtp\""},
		{"profile duplicate", configtest.Minimal + "[[profile]]\nname = \"p\"\ntype = \"direct\"\n", "profile.name", `name = "p"`, "another profile"},
		{"profile name space", configtest.Minimal + "[[profile]]\nname = \"a b\"\ntype = \"direct\"\n", "profile.name", `"a b"`, "white space"},
		{"profile name required", configtest.Minimal + "[[profile]]\ntype = \"direct\"\n", "profile.name", "[[profile]]", "required"},
		{"direct with host", configtest.Minimal + "[[profile]]\nname = \"d\"\ntype = \"direct\"\nhost = \"mx.example.com\"\n", "profile.host", "mx.example.com", "remove host"},
		{"direct with username", configtest.Minimal + "[[profile]]\nname = \"d\"\ntype = \"direct\"\nusername = \"u\"\n", "profile.username", "username", "only for type \"smtp\""},
		{"bad helo", configtest.Minimal + profile + "helo = \"not valid\"\n", "profile.helo", "helo", "not a host name"},
		{"smtp with resolver", configtest.Minimal + profile + "resolver = \"127.0.0.1:53\"\n", "profile.resolver", "resolver", "only for type \"direct\""},
		{"smtp with allow_private", configtest.Minimal + profile + "allow_private = true\n", "profile.allow_private", "allow_private", "only for type \"direct\""},
		{"direct bad resolver", configtest.Minimal + "[[profile]]\nname = \"d\"\ntype = \"direct\"\nresolver = \"127.0.0.1\"\n", "profile.resolver", "resolver", "host:port"},
		{"profile bad port", configtest.Minimal + profile + "port = 0\n", "profile.port", "port = 0", "between 1 and 65535"},
		{"profile ca missing", configtest.Minimal + profile + "ca_file = \"/nonexistent/ca.pem\"\n", "profile.ca_file", "ca_file", "no such file"},
		{"profile ca not pem", configtest.Minimal + profile + "ca_file = " + configtest.TOMLPath(notPEM) + "\n", "profile.ca_file", "ca_file", "no PEM certificate"},
		{"two password forms", configtest.Minimal + profile + "username = \"u\"\npassword = \"x\"\npassword_env = \"HOME\"\n", "profile.password_env", "password_env", "only one of"},
		{"password without user", configtest.Minimal + profile + "password_env = \"HOME\"\n", "profile.username", "[[profile]]", "required with a password"},
		{"user without password", configtest.Minimal + profile + "username = \"u\"\n", "profile.username", `username = "u"`, "needs password"},
		{"password env unset", configtest.Minimal + profile + "username = \"u\"\npassword_env = \"RELAYD_TEST_SURELY_UNSET\"\n", "profile.password_env", "password_env", "is not set"},
		{"password file missing", configtest.Minimal + profile + "username = \"u\"\npassword_file = \"/nonexistent/pw\"\n", "profile.password_file", "password_file", "no such file"},
		{"password file empty", configtest.Minimal + profile + "username = \"u\"\npassword_file = " + configtest.TOMLPath(empty) + "\n", "profile.password_file", "password_file", "is empty"},
		{"oauth mech without oauth2", configtest.Minimal + profile + "username = \"u\"\npassword_env = \"HOME\"\nauth_mechanisms = [\"XOAUTH2\"]\n", "profile.auth_mechanisms", "auth_mechanisms", "needs [profile.oauth2]"},
		{"bad mechanism", configtest.Minimal + profile + "auth_mechanisms = [\"NTLM\"]\n", "profile.auth_mechanisms", "auth_mechanisms", "must be one of"},
		{"oauth2 token_url", configtest.Minimal + profile + "username = \"u\"\n[profile.oauth2]\ntoken_url = \"http://example.com/t\"\nclient_id = \"c\"\ngrant = \"client_credentials\"\nclient_secret_env = \"HOME\"\n", "profile.oauth2.token_url", "token_url", "https://"},
		{"oauth2 refresh file", configtest.Minimal + profile + "username = \"u\"\n[profile.oauth2]\ntoken_url = \"https://example.com/t\"\nclient_id = \"c\"\n", "profile.oauth2.refresh_token_file", "[profile.oauth2]", "required with grant"},
		{"oauth2 client id", configtest.Minimal + profile + "username = \"u\"\n[profile.oauth2]\ntoken_url = \"https://example.com/t\"\ngrant = \"client_credentials\"\nclient_secret_env = \"HOME\"\n", "profile.oauth2.client_id", "[profile.oauth2]", "required"},
		{"oauth2 needs username", configtest.Minimal + profile + "[profile.oauth2]\ntoken_url = \"https://example.com/t\"\nclient_id = \"c\"\ngrant = \"client_credentials\"\nclient_secret_env = \"HOME\"\n", "profile.username", "[[profile]]", "required with [profile.oauth2]"},
		{"zero timeout", configtest.Minimal + profile + "timeout = \"0s\"\n", "profile.timeout", "timeout", "positive"},
		{"zero max_per_connection", configtest.Minimal + profile + "max_per_connection = 0\n", "profile.max_per_connection", "max_per_connection", "at least 1"},
		{"bad rate", configtest.Minimal + profile + "rate = \"30 per minute\"\n", "profile.rate", "rate", "invalid rate"},
		{"bad rate in list", configtest.Minimal + profile + "rate = [\"30/m\", \"5 a day\"]\n", "profile.rate", "rate", "invalid rate \"5 a day\""},
		{"rate list of numbers", configtest.Minimal + profile + "rate = [30]\n", "profile.rate", "rate", "invalid rate"},
		{"bad mode", configtest.Minimal + profile + "mode = \"sync\"\n", "profile.mode", "mode", "queue, immediate"},
		{"bad from_address", configtest.Minimal + profile + "from_address = \"not an address\"\n", "profile.from_address", "from_address", "not a plain address"},
		{"rewrite without from", configtest.Minimal + profile + "rewrite_header_from = true\n", "profile.rewrite_header_from", "rewrite_header_from", "needs from_address"},
		{"unknown fallback", configtest.Minimal + profile + "fallback = [\"ghost\"]\n", "profile.fallback", "fallback", `no profile is named "ghost"`},
		{"self fallback", configtest.Minimal + profile + "fallback = [\"s\"]\n", "profile.fallback", "fallback", "its own fallback"},
		{"extends unknown", configtest.Minimal + profile + "extends = \"ghost\"\n", "profile.extends", "extends", `no profile is named "ghost"`},
		{"extends cycle", configtest.Minimal + "[[profile]]\nname = \"a\"\nextends = \"b\"\n[[profile]]\nname = \"b\"\nextends = \"a\"\ntype = \"direct\"\n", "profile.extends", `extends = "b"`, "extends cycle: a -> b -> a"},
		{"extends self", configtest.Minimal + profile + "extends = \"s\"\n", "profile.extends", "extends", "extends cycle"},
		{"no default profile", strings.Replace(configtest.Minimal, "default_profile = \"p\"\n", "", 1), "relay.default_profile", "[relay]", "required"},
		{"empty retry schedule", strings.Replace(configtest.Minimal, "[relay]\n", "[relay]\nretry_schedule = []\n", 1), "relay.retry_schedule", "retry_schedule", "must not be empty"},
		{"zero retry", strings.Replace(configtest.Minimal, "[relay]\n", "[relay]\nretry_schedule = [\"1m\", \"0s\"]\n", 1), "relay.retry_schedule", "retry_schedule", "positive"},
		{"bad bare_lf", strings.Replace(configtest.Minimal, "[relay]\n", "[relay]\nbare_lf = \"keep\"\n", 1), "relay.bare_lf", "bare_lf", "normalize, reject"},
		{"zero max_queue_age", strings.Replace(configtest.Minimal, "[relay]\n", "[relay]\nmax_queue_age = \"0s\"\n", 1), "relay.max_queue_age", "max_queue_age", "positive"},
		{"team default not allowed", configtest.Minimal + profile + "[[team]]\nname = \"t\"\ndefault_profile = \"p\"\nprofiles = [\"s\"]\n", "team.default_profile", `default_profile = "p"`, "not in the team's profiles"},
		{"team duplicate", configtest.Minimal + "[[team]]\nname = \"t\"\n[[team]]\nname = \"t\"\n", "team.name", `name = "t"`, "another team"},
		{"team bad network", configtest.Minimal + "[[team]]\nname = \"t\"\nnetworks = [\"10.0.0.0/40\"]\n", "team.networks", "networks", "invalid network"},
		{"user bad hash", configtest.Minimal + "[[team]]\nname = \"t\"\n[[team.user]]\nusername = \"u\"\npassword_hash = \"secret\"\n", "team.user.password_hash", "password_hash", "not a bcrypt hash"},
		{"user no hash", configtest.Minimal + "[[team]]\nname = \"t\"\n[[team.user]]\nusername = \"u\"\n", "team.user.password_hash", "[[team.user]]", "required"},
		{"user duplicate across teams", configtest.Minimal + "[[team]]\nname = \"t\"\n[[team.user]]\nusername = \"u\"\npassword_hash = \"" + testHash + "\"\n[[team]]\nname = \"t2\"\n[[team.user]]\nusername = \"u\"\npassword_hash = \"" + testHash + "\"\n", "team.user.username", `username = "u"`, `also a user of team "t"`},
		{"route no profile", configtest.Minimal + "[[route]]\nsender = \"*@x\"\n", "route.profile", "[[route]]", "required"},
		{"route unknown team", configtest.Minimal + "[[route]]\nteam = \"ghost\"\nprofile = \"p\"\n", "route.team", "team = \"ghost\"", "no team"},
		{"route profile not allowed", configtest.Minimal + profile + "[[team]]\nname = \"t\"\nprofiles = [\"s\"]\n[[route]]\nteam = \"t\"\nprofile = \"p\"\n", "route.profile", `profile = "p"`, "could never apply"},
		{"route bad glob", configtest.Minimal + "[[route]]\nsender = \"a b\"\nprofile = \"p\"\n", "route.sender", "sender", "white space"},
		{"dkim key missing", configtest.Minimal + "[[dkim]]\ndomain = \"example.com\"\nselector = \"s\"\nkey_file = \"/nonexistent/k.pem\"\n", "dkim.key_file", "key_file", "no such file"},
		{"dkim key not pem", configtest.Minimal + "[[dkim]]\ndomain = \"example.com\"\nselector = \"s\"\nkey_file = " + configtest.TOMLPath(notPEM) + "\n", "dkim.key_file", "key_file", "no PEM block"},
		{"dkim rsa 512", configtest.Minimal + "[[dkim]]\ndomain = \"example.com\"\nselector = \"s\"\nkey_file = " + configtest.TOMLPath(rsa512) + "\n", "dkim.key_file", "key_file", "dkim-rsa512.pem"},
		{"dkim ecdsa", configtest.Minimal + "[[dkim]]\ndomain = \"example.com\"\nselector = \"s\"\nkey_file = " + configtest.TOMLPath(ecdsaKey) + "\n", "dkim.key_file", "key_file", "use RSA or Ed25519"},
		{"dkim no selector", configtest.Minimal + "[[dkim]]\ndomain = \"example.com\"\nkey_file = " + configtest.TOMLPath(ed) + "\n", "dkim.selector", "[[dkim]]", "required"},
		{"dkim headers without from", configtest.Minimal + "[[dkim]]\ndomain = \"example.com\"\nselector = \"s\"\nkey_file = " + configtest.TOMLPath(ed) + "\nheaders = [\"To\"]\n", "dkim.headers", "headers", "must include From"},
		{"dkim duplicate", configtest.Minimal + "[[dkim]]\ndomain = \"example.com\"\nselector = \"s\"\nkey_file = " + configtest.TOMLPath(ed) + "\n[[dkim]]\ndomain = \"example.com\"\nselector = \"s\"\nkey_file = " + configtest.TOMLPath(ed) + "\n", "dkim.selector", `selector = "s"`, "configured twice"},
		{"notify bad address", configtest.Minimal + "[notify]\nbounces = \"not an address\"\n", "notify.bounces", "bounces", "not an address"},
		{"table is not a table", "server = 1\n" + configtest.Minimal, "server", "server = 1", "must be a table"},
		{"array of tables written as table", configtest.Minimal + "[route]\nprofile = \"p\"\n", "route", "[route]", "array of tables"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := loadText(t, tc.text)
			if err == nil {
				t.Fatalf("no error; config:\n%s", tc.text)
			}
			list := configErrors(t, err)
			e := findError(list, tc.key, tc.msg)
			if e == nil {
				t.Fatalf("no error on %s saying %q; got:\n%v", tc.key, tc.msg, err)
			}
			if want := lineOf(t, tc.text, tc.at); e.Line != want {
				t.Errorf("line %d, want %d: %v", e.Line, want, e)
			}
		})
	}
}

func TestValidationCollectsAll(t *testing.T) {
	text := `[server]
log_level = "verbose"
[relay]
default_profile = "nope"
retry_schedule = []
[[listener]]
name = "a"
address = "127.0.0.1:2525"
[[listener]]
name = "a"
adress = "x"
max_message_size = "25XB"
[[profile]]
name = "c1"
extends = "c2"
[[profile]]
name = "c2"
extends = "c1"
[[route]]
profile = "missing"
`
	_, warnings, err := loadText(t, text)
	list := configErrors(t, err)
	for _, key := range []string{"server.log_level", "relay.retry_schedule",
		"listener.name", "listener.adress", "listener.max_message_size", "listener.address", "profile.extends"} {
		if findError(list, key, "") == nil {
			t.Errorf("no error for %s in:\n%v", key, err)
		}
	}
	// Missing profiles named by routes and defaults are warnings.
	for _, key := range []string{"relay.default_profile", "route.profile"} {
		if findError(list, key, "") != nil || !strings.Contains(strings.Join(warnings, "\n"), ": "+key+": ") {
			t.Errorf("%s: want a warning, not an error; errors:\n%v\nwarnings: %q", key, err, warnings)
		}
	}
	for i := 1; i < len(list); i++ {
		if list[i].Line < list[i-1].Line {
			t.Errorf("errors not in line order:\n%v", err)
			break
		}
	}
}

func TestListenerTLSAndUnix(t *testing.T) {
	dir := t.TempDir()
	cert, key := configtest.WriteCert(t, dir)
	f, _ := mustLoad(t, configtest.Minimal+`[[listener]]
name = "tls"
address = "127.0.0.1:0"
tls = "starttls"
cert_file = `+configtest.TOMLPath(cert)+`
key_file = `+configtest.TOMLPath(key)+`
[[listener]]
name = "sock"
address = "unix:/run/relayd/smtp.sock"
auth = "required"
allow_networks = ["10.0.0.1", "2001:db8::/32"]
`)
	rc, err := f.Relay()
	if err != nil {
		t.Fatal(err)
	}
	l := rc.Listeners[1]
	if l.TLSConfig == nil || len(l.TLSConfig.Certificates) != 1 || l.TLS != "starttls" {
		t.Errorf("tls listener: %+v", l)
	}
	u := rc.Listeners[2]
	if u.Network != "unix" || u.Address != "/run/relayd/smtp.sock" || u.Auth != "required" ||
		u.AllowNetworks[0].String() != "10.0.0.1/32" || u.AllowNetworks[1].String() != "2001:db8::/32" {
		t.Errorf("unix listener: %+v", u)
	}
}

func TestDKIMKeys(t *testing.T) {
	dir := t.TempDir()
	ed := writeDKIMKey(t, dir, "ed25519")
	rsaKey := writeDKIMKey(t, dir, "rsa")
	f, _ := mustLoad(t, configtest.Minimal+`[[dkim]]
domain = "Example.COM."
selector = "ed"
key_file = `+configtest.TOMLPath(ed)+`
[[dkim]]
domain = "example.com"
selector = "rsa"
key_file = `+configtest.TOMLPath(rsaKey)+`
`)
	if f.DKIM[0].Key() == nil || f.DKIM[1].Key() == nil || f.DKIM[0].Domain != "example.com" {
		t.Errorf("dkim: %+v", f.DKIM)
	}
	if _, ok := f.DKIM[0].Key().(ed25519.PrivateKey); !ok {
		t.Errorf("key of %s is %T, want ed25519", f.DKIM[0].Selector, f.DKIM[0].Key())
	}
	if k, ok := f.DKIM[1].Key().(*rsa.PrivateKey); !ok || k.N.BitLen() != 2048 {
		t.Errorf("key of %s is %T, want RSA-2048", f.DKIM[1].Selector, f.DKIM[1].Key())
	}
}

func TestSpoolKeyAndToken(t *testing.T) {
	dir := t.TempDir()
	hexKey := configtest.WriteFile(t, dir, "spool.key", strings.Repeat("ab", 32)+"\n", 0o600)
	token := configtest.WriteFile(t, dir, "token", "s3cret-token\n", 0o640)
	f, w := mustLoad(t, configtest.Minimal+"[server]\nspool_key_file = "+configtest.TOMLPath(hexKey)+
		"\n[admin]\nlisten = \"0.0.0.0:9425\"\nallowed_hosts = [\"relay.example.com\"]\ntoken_file = "+configtest.TOMLPath(token)+"\n")
	if len(f.Server.SpoolKey()) != 32 || f.Admin.Token() != "s3cret-token" || len(w) != 0 {
		t.Errorf("spool key %d bytes, token %q, warnings %q", len(f.Server.SpoolKey()), f.Admin.Token(), w)
	}
	raw := configtest.WriteFile(t, dir, "raw.key", "0123456789abcdef", 0o644)
	f, w = mustLoad(t, configtest.Minimal+"[server]\nspool_key_file = "+configtest.TOMLPath(raw)+"\n")
	if string(f.Server.SpoolKey()) != "0123456789abcdef" || len(w) != 1 || !strings.Contains(w[0], "readable by every user") {
		t.Errorf("raw key %q, warnings %q", f.Server.SpoolKey(), w)
	}
}

// TestDuplicateProfileOneError: a second [[profile]] with the name of
// another (here one that extends a base, so it lacks host and password of
// its own) gives exactly the duplicate-name error.
func TestDuplicateProfileOneError(t *testing.T) {
	text := configtest.Minimal + `
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
	path := configtest.WriteFile(t, t.TempDir(), "relayd.toml", text, 0o600)
	_, _, err := Load(path)
	list := configErrors(t, err)
	want := path + `:23: profile "sales-gmail": name: another profile is named "sales-gmail" (line 18): give each [[profile]] its own name`
	if len(list) != 1 || list[0].Error() != want {
		t.Errorf("errors:\n%v\nwant exactly:\n%s", err, want)
	}
}
