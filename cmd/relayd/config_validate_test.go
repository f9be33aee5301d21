package main

import (
	"path/filepath"
	"strings"
	"testing"
)

// TestValidation: each case is a config with one mistake; the error must
// name the key, be on the line of `at` (the marker's first occurrence), and
// say msg.
func TestValidation(t *testing.T) {
	dir := t.TempDir()
	_, key := writeCert(t, dir)
	rsa512, _ := filepath.Abs("testdata/dkim-rsa512.pem")
	ecdsaKey, _ := filepath.Abs("testdata/dkim-ecdsa.pem")
	notPEM := writeFile(t, dir, "not.pem", "hello\n", 0o600)
	empty := writeFile(t, dir, "empty", "\n", 0o600)
	ed := writeDKIMKey(t, dir, "ed25519")
	listener := "[[listener]]\nname = \"x\"\naddress = \"127.0.0.1:1\"\n"
	profile := "[[profile]]\nname = \"s\"\nhost = \"smtp.example.com\"\n"
	for _, tc := range []struct {
		name, text, key, at, msg string
	}{
		{"duplicate listener", minimal + "[[listener]]\nname = \"l\"\naddress = \"127.0.0.1:1\"\n", "listener.name", `name = "l"`, "another listener"},
		{"listener name required", minimal + "[[listener]]\naddress = \"127.0.0.1:1\"\n", "listener.name", "[[listener]]", "required"},
		{"listener address required", minimal + "[[listener]]\nname = \"x\"\n", "listener.address", "[[listener]]", "required"},
		{"listener address syntax", minimal + "[[listener]]\nname = \"x\"\naddress = \"127.0.0.1\"\n", "listener.address", `address = "127.0.0.1"`, "not \"host:port\""},
		{"listener port range", minimal + "[[listener]]\nname = \"x\"\naddress = \"127.0.0.1:70000\"\n", "listener.address", ":70000", "not \"host:port\""},
		{"listener unix empty", minimal + "[[listener]]\nname = \"x\"\naddress = \"unix:\"\n", "listener.address", `"unix:"`, "needs a socket path"},
		{"listener same address", minimal + "[[listener]]\nname = \"x\"\naddress = \"unix:/tmp/s\"\n[[listener]]\nname = \"y\"\naddress = \"unix:/tmp/s\"\n", "listener.address", `address = "unix:/tmp/s"`, "also the address"},
		{"starttls needs cert", minimal + listener + "tls = \"starttls\"\n", "listener.tls", `tls = "starttls"`, "needs cert_file and key_file"},
		{"implicit bad cert", minimal + listener + "tls = \"implicit\"\ncert_file = " + tomlPath(notPEM) + "\nkey_file = " + tomlPath(key) + "\n", "listener.cert_file", "cert_file", "cannot load certificate"},
		{"missing cert file", minimal + listener + "tls = \"implicit\"\ncert_file = \"/nonexistent/c.pem\"\nkey_file = " + tomlPath(key) + "\n", "listener.cert_file", "cert_file", "no such file"},
		{"listener unknown team", minimal + listener + "team = \"ghost\"\n", "listener.team", `team = "ghost"`, `no team is named "ghost"`},
		{"listener zero recipients", minimal + listener + "max_recipients = 0\n", "listener.max_recipients", "max_recipients", "at least 1"},
		{"listener short lines", minimal + listener + "max_line_length = 100\n", "listener.max_line_length", "max_line_length", "at least 1000"},
		{"listener zero idle", minimal + listener + "idle_timeout = \"0s\"\n", "listener.idle_timeout", "idle_timeout", "positive"},
		{"admin public needs token", minimal + "[admin]\nlisten = \"0.0.0.0:9425\"\n", "admin.listen", "0.0.0.0:9425", "token_file"},
		{"admin empty host needs token", minimal + "[admin]\nlisten = \":9425\"\n", "admin.listen", `":9425"`, "token_file"},
		{"admin bad listen", minimal + "[admin]\nlisten = \"localhost\"\n", "admin.listen", `listen = "localhost"`, "not host:port"},
		{"admin token file missing", minimal + "[admin]\nlisten = \"0.0.0.0:9425\"\ntoken_file = \"/nonexistent/token\"\n", "admin.token_file", "token_file", "no such file"},
		{"admin token file empty", minimal + "[admin]\ntoken_file = " + tomlPath(empty) + "\n", "admin.token_file", "token_file", "is empty"},
		{"server bad hostname", minimal + "[server]\nhostname = \"bad host\"\n", "server.hostname", "hostname", "not a host name"},
		{"spool key bad", minimal + "[server]\nspool_key_file = " + tomlPath(notPEM) + "\n", "server.spool_key_file", "spool_key_file", "AES key"},
		{"profile host required", minimal + "[[profile]]\nname = \"s\"\n", "profile.host", "[[profile]]", "required for type \"smtp\""},
		{"profile duplicate", minimal + "[[profile]]\nname = \"p\"\ntype = \"direct\"\n", "profile.name", `name = "p"`, "another profile"},
		{"profile name space", minimal + "[[profile]]\nname = \"a b\"\ntype = \"direct\"\n", "profile.name", `"a b"`, "white space"},
		{"profile name required", minimal + "[[profile]]\ntype = \"direct\"\n", "profile.name", "[[profile]]", "required"},
		{"direct with host", minimal + "[[profile]]\nname = \"d\"\ntype = \"direct\"\nhost = \"mx.example.com\"\n", "profile.host", "mx.example.com", "remove host"},
		{"direct with username", minimal + "[[profile]]\nname = \"d\"\ntype = \"direct\"\nusername = \"u\"\n", "profile.username", "username", "only for type \"smtp\""},
		{"bad helo", minimal + profile + "helo = \"not valid\"\n", "profile.helo", "helo", "not a host name"},
		{"smtp with resolver", minimal + profile + "resolver = \"127.0.0.1:53\"\n", "profile.resolver", "resolver", "only for type \"direct\""},
		{"smtp with allow_private", minimal + profile + "allow_private = true\n", "profile.allow_private", "allow_private", "only for type \"direct\""},
		{"direct bad resolver", minimal + "[[profile]]\nname = \"d\"\ntype = \"direct\"\nresolver = \"127.0.0.1\"\n", "profile.resolver", "resolver", "host:port"},
		{"profile bad port", minimal + profile + "port = 0\n", "profile.port", "port = 0", "between 1 and 65535"},
		{"profile ca missing", minimal + profile + "ca_file = \"/nonexistent/ca.pem\"\n", "profile.ca_file", "ca_file", "no such file"},
		{"profile ca not pem", minimal + profile + "ca_file = " + tomlPath(notPEM) + "\n", "profile.ca_file", "ca_file", "no PEM certificate"},
		{"two password forms", minimal + profile + "username = \"u\"\npassword = \"x\"\npassword_env = \"HOME\"\n", "profile.password_env", "password_env", "only one of"},
		{"password without user", minimal + profile + "password_env = \"HOME\"\n", "profile.username", "[[profile]]", "required with a password"},
		{"user without password", minimal + profile + "username = \"u\"\n", "profile.username", `username = "u"`, "needs password"},
		{"password env unset", minimal + profile + "username = \"u\"\npassword_env = \"RELAYD_TEST_SURELY_UNSET\"\n", "profile.password_env", "password_env", "is not set"},
		{"password file missing", minimal + profile + "username = \"u\"\npassword_file = \"/nonexistent/pw\"\n", "profile.password_file", "password_file", "no such file"},
		{"password file empty", minimal + profile + "username = \"u\"\npassword_file = " + tomlPath(empty) + "\n", "profile.password_file", "password_file", "is empty"},
		{"oauth mech without oauth2", minimal + profile + "username = \"u\"\npassword_env = \"HOME\"\nauth_mechanisms = [\"XOAUTH2\"]\n", "profile.auth_mechanisms", "auth_mechanisms", "needs [profile.oauth2]"},
		{"bad mechanism", minimal + profile + "auth_mechanisms = [\"NTLM\"]\n", "profile.auth_mechanisms", "auth_mechanisms", "must be one of"},
		{"oauth2 token_url", minimal + profile + "username = \"u\"\n[profile.oauth2]\ntoken_url = \"http://example.com/t\"\nclient_id = \"c\"\ngrant = \"client_credentials\"\nclient_secret_env = \"HOME\"\n", "profile.oauth2.token_url", "token_url", "https://"},
		{"oauth2 refresh file", minimal + profile + "username = \"u\"\n[profile.oauth2]\ntoken_url = \"https://example.com/t\"\nclient_id = \"c\"\n", "profile.oauth2.refresh_token_file", "[profile.oauth2]", "required with grant"},
		{"oauth2 client id", minimal + profile + "username = \"u\"\n[profile.oauth2]\ntoken_url = \"https://example.com/t\"\ngrant = \"client_credentials\"\nclient_secret_env = \"HOME\"\n", "profile.oauth2.client_id", "[profile.oauth2]", "required"},
		{"oauth2 needs username", minimal + profile + "[profile.oauth2]\ntoken_url = \"https://example.com/t\"\nclient_id = \"c\"\ngrant = \"client_credentials\"\nclient_secret_env = \"HOME\"\n", "profile.username", "[[profile]]", "required with [profile.oauth2]"},
		{"zero timeout", minimal + profile + "timeout = \"0s\"\n", "profile.timeout", "timeout", "positive"},
		{"zero max_per_connection", minimal + profile + "max_per_connection = 0\n", "profile.max_per_connection", "max_per_connection", "at least 1"},
		{"bad rate", minimal + profile + "rate = \"30 per minute\"\n", "profile.rate", "rate", "invalid rate"},
		{"bad rate in list", minimal + profile + "rate = [\"30/m\", \"5 a day\"]\n", "profile.rate", "rate", "invalid rate \"5 a day\""},
		{"rate list of numbers", minimal + profile + "rate = [30]\n", "profile.rate", "rate", "invalid rate"},
		{"bad mode", minimal + profile + "mode = \"sync\"\n", "profile.mode", "mode", "queue, immediate"},
		{"bad from_address", minimal + profile + "from_address = \"not an address\"\n", "profile.from_address", "from_address", "not a plain address"},
		{"rewrite without from", minimal + profile + "rewrite_header_from = true\n", "profile.rewrite_header_from", "rewrite_header_from", "needs from_address"},
		{"unknown fallback", minimal + profile + "fallback = [\"ghost\"]\n", "profile.fallback", "fallback", `no profile is named "ghost"`},
		{"self fallback", minimal + profile + "fallback = [\"s\"]\n", "profile.fallback", "fallback", "its own fallback"},
		{"extends unknown", minimal + profile + "extends = \"ghost\"\n", "profile.extends", "extends", `no profile is named "ghost"`},
		{"extends cycle", minimal + "[[profile]]\nname = \"a\"\nextends = \"b\"\n[[profile]]\nname = \"b\"\nextends = \"a\"\ntype = \"direct\"\n", "profile.extends", `extends = "b"`, "extends cycle: a -> b -> a"},
		{"extends self", minimal + profile + "extends = \"s\"\n", "profile.extends", "extends", "extends cycle"},
		{"no default profile", strings.Replace(minimal, "default_profile = \"p\"\n", "", 1), "relay.default_profile", "[relay]", "required"},
		{"empty retry schedule", strings.Replace(minimal, "[relay]\n", "[relay]\nretry_schedule = []\n", 1), "relay.retry_schedule", "retry_schedule", "must not be empty"},
		{"zero retry", strings.Replace(minimal, "[relay]\n", "[relay]\nretry_schedule = [\"1m\", \"0s\"]\n", 1), "relay.retry_schedule", "retry_schedule", "positive"},
		{"bad bare_lf", strings.Replace(minimal, "[relay]\n", "[relay]\nbare_lf = \"keep\"\n", 1), "relay.bare_lf", "bare_lf", "normalize, reject"},
		{"zero max_queue_age", strings.Replace(minimal, "[relay]\n", "[relay]\nmax_queue_age = \"0s\"\n", 1), "relay.max_queue_age", "max_queue_age", "positive"},
		{"team default not allowed", minimal + profile + "[[team]]\nname = \"t\"\ndefault_profile = \"p\"\nprofiles = [\"s\"]\n", "team.default_profile", `default_profile = "p"`, "not in the team's profiles"},
		{"team duplicate", minimal + "[[team]]\nname = \"t\"\n[[team]]\nname = \"t\"\n", "team.name", `name = "t"`, "another team"},
		{"team bad network", minimal + "[[team]]\nname = \"t\"\nnetworks = [\"10.0.0.0/40\"]\n", "team.networks", "networks", "invalid network"},
		{"user bad hash", minimal + "[[team]]\nname = \"t\"\n[[team.user]]\nusername = \"u\"\npassword_hash = \"secret\"\n", "team.user.password_hash", "password_hash", "not a bcrypt hash"},
		{"user no hash", minimal + "[[team]]\nname = \"t\"\n[[team.user]]\nusername = \"u\"\n", "team.user.password_hash", "[[team.user]]", "required"},
		{"user duplicate across teams", minimal + "[[team]]\nname = \"t\"\n[[team.user]]\nusername = \"u\"\npassword_hash = \"" + testHash + "\"\n[[team]]\nname = \"t2\"\n[[team.user]]\nusername = \"u\"\npassword_hash = \"" + testHash + "\"\n", "team.user.username", `username = "u"`, `also a user of team "t"`},
		{"route no profile", minimal + "[[route]]\nsender = \"*@x\"\n", "route.profile", "[[route]]", "required"},
		{"route unknown team", minimal + "[[route]]\nteam = \"ghost\"\nprofile = \"p\"\n", "route.team", "team = \"ghost\"", "no team"},
		{"route profile not allowed", minimal + profile + "[[team]]\nname = \"t\"\nprofiles = [\"s\"]\n[[route]]\nteam = \"t\"\nprofile = \"p\"\n", "route.profile", `profile = "p"`, "could never apply"},
		{"route bad glob", minimal + "[[route]]\nsender = \"a b\"\nprofile = \"p\"\n", "route.sender", "sender", "white space"},
		{"dkim key missing", minimal + "[[dkim]]\ndomain = \"example.com\"\nselector = \"s\"\nkey_file = \"/nonexistent/k.pem\"\n", "dkim.key_file", "key_file", "no such file"},
		{"dkim key not pem", minimal + "[[dkim]]\ndomain = \"example.com\"\nselector = \"s\"\nkey_file = " + tomlPath(notPEM) + "\n", "dkim.key_file", "key_file", "no PEM block"},
		{"dkim rsa 512", minimal + "[[dkim]]\ndomain = \"example.com\"\nselector = \"s\"\nkey_file = " + tomlPath(rsa512) + "\n", "dkim.key_file", "key_file", "dkim-rsa512.pem"},
		{"dkim ecdsa", minimal + "[[dkim]]\ndomain = \"example.com\"\nselector = \"s\"\nkey_file = " + tomlPath(ecdsaKey) + "\n", "dkim.key_file", "key_file", "use RSA or Ed25519"},
		{"dkim no selector", minimal + "[[dkim]]\ndomain = \"example.com\"\nkey_file = " + tomlPath(ed) + "\n", "dkim.selector", "[[dkim]]", "required"},
		{"dkim headers without from", minimal + "[[dkim]]\ndomain = \"example.com\"\nselector = \"s\"\nkey_file = " + tomlPath(ed) + "\nheaders = [\"To\"]\n", "dkim.headers", "headers", "must include From"},
		{"dkim duplicate", minimal + "[[dkim]]\ndomain = \"example.com\"\nselector = \"s\"\nkey_file = " + tomlPath(ed) + "\n[[dkim]]\ndomain = \"example.com\"\nselector = \"s\"\nkey_file = " + tomlPath(ed) + "\n", "dkim.selector", `selector = "s"`, "configured twice"},
		{"notify bad address", minimal + "[notify]\nbounces = \"not an address\"\n", "notify.bounces", "bounces", "not an address"},
		{"table is not a table", "server = 1\n" + minimal, "server", "server = 1", "must be a table"},
		{"array of tables written as table", minimal + "[route]\nprofile = \"p\"\n", "route", "[route]", "array of tables"},
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
	// Missing profiles named by routes and defaults are warnings (SPEC §6).
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
	cert, key := writeCert(t, dir)
	f, _ := mustLoad(t, minimal+`[[listener]]
name = "tls"
address = "127.0.0.1:0"
tls = "starttls"
cert_file = `+tomlPath(cert)+`
key_file = `+tomlPath(key)+`
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
	f, _ := mustLoad(t, minimal+`[[dkim]]
domain = "Example.COM."
selector = "ed"
key_file = `+tomlPath(ed)+`
[[dkim]]
domain = "example.com"
selector = "rsa"
key_file = `+tomlPath(rsaKey)+`
`)
	if f.DKIM[0].Key() == nil || f.DKIM[1].Key() == nil || f.DKIM[0].Domain != "example.com" {
		t.Errorf("dkim: %+v", f.DKIM)
	}
	if keyKind(f.DKIM[0]) != "ed25519" || keyKind(f.DKIM[1]) != "rsa-2048" {
		t.Errorf("key kinds %s %s", keyKind(f.DKIM[0]), keyKind(f.DKIM[1]))
	}
}

func TestSpoolKeyAndToken(t *testing.T) {
	dir := t.TempDir()
	hexKey := writeFile(t, dir, "spool.key", strings.Repeat("ab", 32)+"\n", 0o600)
	token := writeFile(t, dir, "token", "s3cret-token\n", 0o640)
	f, w := mustLoad(t, minimal+"[server]\nspool_key_file = "+tomlPath(hexKey)+
		"\n[admin]\nlisten = \"0.0.0.0:9425\"\nallowed_hosts = [\"relay.example.com\"]\ntoken_file = "+tomlPath(token)+"\n")
	if len(f.Server.SpoolKey()) != 32 || f.Admin.Token() != "s3cret-token" || len(w) != 0 {
		t.Errorf("spool key %d bytes, token %q, warnings %q", len(f.Server.SpoolKey()), f.Admin.Token(), w)
	}
	raw := writeFile(t, dir, "raw.key", "0123456789abcdef", 0o644)
	f, w = mustLoad(t, minimal+"[server]\nspool_key_file = "+tomlPath(raw)+"\n")
	if string(f.Server.SpoolKey()) != "0123456789abcdef" || len(w) != 1 || !strings.Contains(w[0], "readable by every user") {
		t.Errorf("raw key %q, warnings %q", f.Server.SpoolKey(), w)
	}
}
