package config

import (
	"bufio"
	"os"
	"reflect"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/relayd/relayd/cmd/relayd/config/configtest"
	"github.com/relayd/relayd/upstream"
)

const examplePath = "../../../config.example.toml"

func TestExampleLoads(t *testing.T) {
	t.Setenv("RELAYD_OFFICE365_PASSWORD", "not-a-real-password")
	f, warnings, err := Load(examplePath)
	if err != nil {
		t.Fatalf("config.example.toml: %v", err)
	}
	if len(warnings) > 0 {
		t.Errorf("config.example.toml warnings: %q", warnings)
	}
	rc, err := f.Relay()
	if err != nil {
		t.Fatal(err)
	}
	if len(rc.Profiles) != 4 || rc.Policy.DefaultProfile != "office365" {
		t.Errorf("example: %d profiles, default %q", len(rc.Profiles), rc.Policy.DefaultProfile)
	}
}

// schemaKeys walks the schema by reflection: every TOML key of File, as a
// dotted path without indices ("listener.address", "profile.oauth2.grant").
func schemaKeys(t reflect.Type, prefix string, out map[string]bool) {
	for tag, i := range tomlFields(t) {
		ft := t.Field(i).Type
		path := join(prefix, tag)
		switch {
		case isTable(ft):
			schemaKeys(ft, path, out)
		case ft.Kind() == reflect.Pointer && isTable(ft.Elem()):
			schemaKeys(ft.Elem(), path, out)
		case ft.Kind() == reflect.Slice && isTable(ft.Elem()):
			schemaKeys(ft.Elem(), path, out)
		default:
			out[path] = true
		}
	}
}

var (
	exampleHeaderRE = regexp.MustCompile(`^\s*#?\s*\[\[?\s*([a-z0-9_.]+)\s*\]\]?\s*(#.*)?$`)
	exampleKeyRE    = regexp.MustCompile(`^\s*(#\s*)?([a-z0-9_]+)\s*=`)
)

// exampleKeys reads config.example.toml: every key, set or commented out
// ("# key = ..."), under the table it stands in (commented headers count), and
// whether the comment block right above it (or on its line) says "Default:".
func exampleKeys(t *testing.T) map[string]bool {
	t.Helper()
	fh, err := os.Open(examplePath)
	if err != nil {
		t.Fatal(err)
	}
	defer fh.Close()
	keys := map[string]bool{} // key → documented with Default:
	table, block := "", ""
	sc := bufio.NewScanner(fh)
	for sc.Scan() {
		line := sc.Text()
		if m := exampleHeaderRE.FindStringSubmatch(line); m != nil {
			table, block = m[1], ""
			continue
		}
		if m := exampleKeyRE.FindStringSubmatch(line); m != nil {
			k := join(table, m[2])
			keys[k] = keys[k] || strings.Contains(block+line, "Default:")
			block = ""
			continue
		}
		if s := strings.TrimSpace(line); strings.HasPrefix(s, "#") {
			block += s + "\n"
		} else {
			block = ""
		}
	}
	return keys
}

func TestExampleDocumentsEveryKey(t *testing.T) {
	schema := map[string]bool{}
	schemaKeys(reflect.TypeFor[File](), "", schema)
	if len(schema) < 85 {
		t.Fatalf("schema walk found only %d keys", len(schema))
	}
	doc := exampleKeys(t)
	var missing, undocumented, unknown []string
	for k := range schema {
		withDefault, ok := doc[k]
		switch {
		case !ok:
			missing = append(missing, k)
		case !withDefault:
			undocumented = append(undocumented, k)
		}
	}
	for k := range doc {
		if !schema[k] {
			unknown = append(unknown, k)
		}
	}
	sort.Strings(missing)
	sort.Strings(undocumented)
	sort.Strings(unknown)
	if len(missing) > 0 {
		t.Errorf("config.example.toml lacks keys: %s", strings.Join(missing, ", "))
	}
	if len(undocumented) > 0 {
		t.Errorf("config.example.toml has no \"Default:\" comment for: %s", strings.Join(undocumented, ", "))
	}
	if len(unknown) > 0 {
		t.Errorf("config.example.toml shows keys the schema does not have: %s", strings.Join(unknown, ", "))
	}
}

func TestEmbedded(t *testing.T) {
	f, err := Embedded()
	if err != nil {
		t.Fatal(err)
	}
	rc, err := f.Relay()
	if err != nil {
		t.Fatal(err)
	}
	if f.Path != "" || f.Server.StateDir != "./relayd-data" || f.Admin.Listen != "127.0.0.1:9425" {
		t.Errorf("embedded: path %q state_dir %q admin %q", f.Path, f.Server.StateDir, f.Admin.Listen)
	}
	if len(rc.Listeners) != 2 {
		t.Fatalf("embedded: %d listeners", len(rc.Listeners))
	}
	if sm := rc.Listeners[1]; sm.Name != "sendmail" || sm.Network != "unix" || sm.Address != "./relayd-data/sendmail.sock" ||
		!sm.Sendmail || sm.Auth != "none" || sm.TLS != "none" || sm.MaxMessageSize != 25<<20 {
		t.Errorf("embedded sendmail socket: %+v", sm)
	}
	l := rc.Listeners[0]
	if l.Network != "tcp" || l.Address != "127.0.0.1:2525" || l.TLS != "none" || l.Auth != "optional" ||
		len(l.AllowNetworks) != 2 || !l.AllowNetworks[0].Addr().IsLoopback() || !l.AllowNetworks[1].Addr().IsLoopback() {
		t.Errorf("embedded listener: %+v", l)
	}
	p := rc.Profiles["direct"]
	if p == nil || !p.Enabled || p.Upstream.Type != "direct" || rc.Policy.DefaultProfile != "direct" ||
		p.Upstream.TLS != upstream.TLSStartTLS || p.Upstream.TLSVerify || p.Upstream.Port != 25 {
		t.Errorf("embedded profile: %+v", p)
	}
}

func TestDefaults(t *testing.T) {
	f, _ := mustLoad(t, configtest.Minimal+`
[[profile]]
name = "smart"
host = "smtp.example.com"
[[profile]]
name = "smtps"
host = "smtp.example.com"
tls = "implicit"
[[profile]]
name = "comma"
host = "smtp.example.com,587"
`)
	rc, err := f.Relay()
	if err != nil {
		t.Fatal(err)
	}
	host, _ := os.Hostname()
	if validHostname(host) && rc.Hostname != host {
		t.Errorf("hostname %q, want %q", rc.Hostname, host)
	}
	if f.Server.StateDir != "/var/lib/relayd" || f.Server.LogFormat != "text" || f.Server.LogLevel != "info" ||
		f.Server.MinFreeSpace != 256<<20 || f.Admin.Listen != "127.0.0.1:9425" {
		t.Errorf("server/admin defaults: %+v %+v", f.Server, f.Admin)
	}
	wantSched := []time.Duration{time.Minute, 5 * time.Minute, 15 * time.Minute, 30 * time.Minute, time.Hour, 2 * time.Hour, 4 * time.Hour}
	if !reflect.DeepEqual(rc.RetrySchedule, wantSched) || rc.MaxQueueAge != 5*24*time.Hour ||
		rc.JournalRetention != 7*24*time.Hour || rc.WarnAfter != 4*time.Hour || rc.BareLF != "normalize" {
		t.Errorf("relay defaults: %+v", rc)
	}
	if rc.Notify.From != "MAILER-DAEMON@"+rc.Hostname {
		t.Errorf("notify.from = %q", rc.Notify.From)
	}
	l := rc.Listeners[0]
	if l.MaxMessageSize != 25<<20 || l.MaxRecipients != 100 || l.MaxConnections != 100 || l.MaxConnectionsPerIP != 20 ||
		l.MaxLineLength != 1<<20 || l.IdleTimeout != 5*time.Minute || l.SessionTimeout != 30*time.Minute ||
		l.MaxErrors != 10 || l.MaxAuthFailures != 3 || l.TLS != "none" || l.Auth != "optional" || len(l.AllowNetworks) != 2 {
		t.Errorf("listener defaults: %+v", l)
	}
	s := rc.Profiles["smart"]
	u := s.Upstream
	if !s.Enabled || u.Type != "smtp" || u.TLS != upstream.TLSStartTLSRequired || !u.TLSVerify || u.Port != 25 ||
		u.Timeout != 30*time.Second || u.DataTimeout != 10*time.Minute || s.Immediate || s.SendDelay != 0 ||
		u.MaxPerConn != 100 || u.MaxConns != 2 || u.Helo != rc.Hostname || u.RootCAs != nil {
		t.Errorf("smtp profile defaults: %+v", s)
	}
	if p := rc.Profiles["smtps"].Upstream; p.Port != 465 {
		t.Errorf("implicit port = %d, want 465", p.Port)
	}
	if p := rc.Profiles["comma"].Upstream; p.Host != "smtp.example.com" || p.Port != 587 {
		t.Errorf("host,port: %q %d", p.Host, p.Port)
	}
}

func TestHostPortForms(t *testing.T) {
	for _, tc := range []struct {
		host, port string
		wantHost   string
		wantPort   int
		err        string
	}{
		{`"smtp.example.com:587"`, "", "smtp.example.com", 587, ""},
		{`"smtp.example.com, 2525"`, "", "smtp.example.com", 2525, ""},
		{`"smtp.example.com:587"`, "587", "smtp.example.com", 587, ""},
		{`"[2001:db8::1]:587"`, "", "2001:db8::1", 587, ""},
		{`"2001:db8::1"`, "", "2001:db8::1", 25, ""},
		{`"smtp.example.com:587"`, "25", "", 0, "names port 587, but port = 25"},
		{`"smtp.example.com:x"`, "", "", 0, "is not a host name"},
		{`"bad host"`, "", "", 0, "is not a host name"},
	} {
		body := configtest.Minimal + "[[profile]]\nname = \"s\"\nhost = " + tc.host + "\n"
		if tc.port != "" {
			body += "port = " + tc.port + "\n"
		}
		f, _, err := loadText(t, body)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("host %s port %s: error %v, want %q", tc.host, tc.port, err, tc.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("host %s: %v", tc.host, err)
			continue
		}
		p := f.Profiles[1]
		if p.Host != tc.wantHost || p.Port != tc.wantPort {
			t.Errorf("host %s port %s: got %q %d", tc.host, tc.port, p.Host, p.Port)
		}
	}
}

func TestUnknownKeyLines(t *testing.T) {
	text := `# a comment
[server]
hostname = "relay.example.com"
hostnme = "typo"

[relay]
default_profile = "p"

[[listener]]
name = "a"
address = "127.0.0.1:2525"

[[listener]]
# the second one
name = "b"
address = "127.0.0.1:2526"
adress = "typo"

[[profile]]
name = "p"
type = "direct"

[[profile]]
name = "o"
host = "smtp.example.com"
username = "u"
password_env = "RELAYD_TEST_UNUSED_VAR"
  [profile.oauth2]
  token_url = "https://example.com/token"
  client_id = "x"
  clientid = "typo"
  grant = "client_credentials"
  client_secret_env = "RELAYD_TEST_UNUSED_VAR"

[serveer]
x = 1
`
	t.Setenv("RELAYD_TEST_UNUSED_VAR", "v")
	_, _, err := loadText(t, text)
	list := configErrors(t, err)
	for _, want := range []struct {
		key, at, suggestion string
	}{
		{"server.hostnme", "hostnme", `did you mean "hostname"`},
		{"listener.adress", "adress", `did you mean "address"`},
		{"profile.oauth2.clientid", "clientid", `did you mean "client_id"`},
		{"serveer", "[serveer]", `did you mean "server"`},
	} {
		e := findError(list, want.key, "unknown key")
		if e == nil {
			t.Errorf("no unknown-key error for %s in:\n%v", want.key, err)
			continue
		}
		if line := lineOf(t, text, want.at); e.Line != line {
			t.Errorf("%s: line %d, want %d", want.key, e.Line, line)
		}
		if !strings.Contains(e.Msg, want.suggestion) {
			t.Errorf("%s: %q lacks %q", want.key, e.Msg, want.suggestion)
		}
	}
	if len(list) != 4 {
		t.Errorf("%d errors, want 4:\n%v", len(list), err)
	}
	if got := list[1].Error(); !strings.HasSuffix(got, `relayd.toml:17: listener.adress: unknown key (did you mean "address"?)`) {
		t.Errorf("format: %q", got)
	}
}

func TestUnknownKeyCaseAndInline(t *testing.T) {
	text := configtest.Minimal + `[[profile]]
name = "o"
Host = "smtp.example.com"
oauth2 = { token_url = "https://example.com/t", client_id = "c", bogus = 1 }
`
	_, _, err := loadText(t, text)
	list := configErrors(t, err)
	if e := findError(list, "profile.Host", `did you mean "host"`); e == nil || e.Line != lineOf(t, text, "Host =") {
		t.Errorf("case-different key not reported on its line: %v", err)
	}
	if e := findError(list, "profile.oauth2.bogus", "unknown key"); e == nil || e.Line != lineOf(t, text, "oauth2 =") {
		t.Errorf("inline-table key not reported on its line: %v", err)
	}
}

func TestTypeErrorsAllReported(t *testing.T) {
	text := configtest.Minimal + `[[listener]]
name = "b"
address = "127.0.0.1:1"
max_message_size = "25XB"
idle_timeout = 30
max_recipients = "many"
allow_profile_header = "yes"
allow_networks = ["10.0.0.0/8", "not-a-net"]

[server]
log_level = "verbose"
min_free_space = true
`
	_, _, err := loadText(t, text)
	list := configErrors(t, err)
	for _, want := range []struct{ key, msg, at string }{
		{"listener.max_message_size", `invalid size "25XB"`, "max_message_size"},
		{"listener.idle_timeout", `missing unit`, "idle_timeout"},
		{"listener.max_recipients", "must be an integer", "max_recipients"},
		{"listener.allow_profile_header", "must be true or false", "allow_profile_header"},
		{"listener.allow_networks", `invalid network "not-a-net"`, "allow_networks"},
		{"server.log_level", "must be one of debug, info, warn, error", "log_level"},
		{"server.min_free_space", "invalid size", "min_free_space"},
	} {
		e := findError(list, want.key, want.msg)
		if e == nil {
			t.Errorf("no error %q for %s in:\n%v", want.msg, want.key, err)
		} else if line := lineOf(t, text, want.at); e.Line != line {
			t.Errorf("%s: line %d, want %d", want.key, e.Line, line)
		}
	}
}

func TestSyntaxError(t *testing.T) {
	text := "[server]\nhostname = \"x\"\nbroken = = 1\n"
	_, _, err := loadText(t, text)
	list := configErrors(t, err)
	if len(list) != 1 || list[0].Line != 3 || !strings.Contains(list[0].Msg, "syntax error") {
		t.Errorf("syntax error: %v", err)
	}
}
