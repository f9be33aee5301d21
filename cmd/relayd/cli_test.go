package main

import (
	"bytes"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"

	"golang.org/x/crypto/bcrypt"

	"github.com/relayd/relayd/cmd/relayd/config"
	"github.com/relayd/relayd/cmd/relayd/config/configtest"
)

// runCLI runs the command line in-process with the given environment
// ($RELAYD_CONFIG) and stdin; the system config path does not exist.
func runCLI(t *testing.T, env map[string]string, stdin string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	c := &cli{
		stdin:        strings.NewReader(stdin),
		stdout:       &out,
		stderr:       &errb,
		getenv:       func(k string) string { return env[k] },
		systemConfig: filepath.Join(t.TempDir(), "absent.toml"),
	}
	code = c.run(args)
	return code, out.String(), errb.String()
}

func TestReorderArgs(t *testing.T) {
	c := &cli{stderr: &bytes.Buffer{}}
	parseTest := func(args ...string) *testOptions {
		o := c.newTestFlags()
		if code, ok := parse(o.fs, args); !ok {
			t.Fatalf("parse %q: exit %d", args, code)
		}
		return o
	}
	a := parseTest("office365", "-from", "a@x")
	b := parseTest("-from", "a@x", "office365")
	if a.from != "a@x" || b.from != "a@x" || !reflect.DeepEqual(a.fs.Args(), []string{"office365"}) || !reflect.DeepEqual(b.fs.Args(), a.fs.Args()) {
		t.Errorf("test office365 -from a@x: from %q args %q; reversed: from %q args %q", a.from, a.fs.Args(), b.from, b.fs.Args())
	}
	o := parseTest("-send", "office365", "-to", "x@y", "--to=z@y", "-config", "c.toml")
	if !o.send || !reflect.DeepEqual([]string(o.to), []string{"x@y", "z@y"}) || *o.config != "c.toml" || o.fs.Arg(0) != "office365" {
		t.Errorf("bool flag before positional: send %v to %q config %q args %q", o.send, o.to, *o.config, o.fs.Args())
	}
	o = parseTest("office365", "-send=false", "--", "-weird")
	if o.send || !reflect.DeepEqual(o.fs.Args(), []string{"office365", "-weird"}) {
		t.Errorf("after --: args %q", o.fs.Args())
	}
	o = c.newTestFlags()
	if code, ok := parse(o.fs, []string{"office365", "-bogus"}); ok || code != 2 {
		t.Errorf("unknown flag: ok %v code %d", ok, code)
	}
	o = c.newTestFlags()
	if code, ok := parse(o.fs, []string{"-h"}); ok || code != 0 {
		t.Errorf("-h: ok %v code %d", ok, code)
	}
}

func TestSplitCommand(t *testing.T) {
	for _, tc := range []struct {
		args []string
		cmd  string
		rest []string
	}{
		{nil, "", nil},
		{[]string{"-config", "x.toml"}, "", []string{"-config", "x.toml"}},
		{[]string{"-config", "x.toml", "check-config"}, "check-config", []string{"-config", "x.toml"}},
		{[]string{"--config=x.toml", "route", "-from", "a"}, "route", []string{"--config=x.toml", "-from", "a"}},
		{[]string{"test", "office365", "-from", "a@x"}, "test", []string{"office365", "-from", "a@x"}},
	} {
		cmd, rest := splitCommand(tc.args)
		if cmd != tc.cmd || len(rest) != len(tc.rest) || (len(rest) > 0 && !reflect.DeepEqual(rest, tc.rest)) {
			t.Errorf("splitCommand(%q) = %q %q; want %q %q", tc.args, cmd, rest, tc.cmd, tc.rest)
		}
	}
}

func TestResolveConfig(t *testing.T) {
	dir := t.TempDir()
	a := configtest.WriteFile(t, dir, "a.toml", "", 0o600)
	b := configtest.WriteFile(t, dir, "b.toml", "", 0o600)
	missing := filepath.Join(dir, "missing.toml")
	for _, tc := range []struct {
		flag, env, system, want string
		err                     bool
	}{
		{a, b, b, a, false},
		{"", b, a, b, false},
		{"", "", a, a, false},
		{"", "", missing, "", false},
		{missing, b, a, "", true},
		{"", missing, a, "", true},
	} {
		got, err := config.Resolve(tc.flag, tc.env, tc.system)
		if got != tc.want || (err != nil) != tc.err {
			t.Errorf("resolveConfigFrom(%q, %q, %q) = %q, %v", tc.flag, tc.env, tc.system, got, err)
		}
	}
	env := map[string]string{config.Env: missing}
	c := &cli{getenv: func(k string) string { return env[k] }, systemConfig: a}
	if _, err := c.resolveConfig(""); err == nil || !strings.Contains(err.Error(), "$RELAYD_CONFIG") {
		t.Errorf("resolveConfig with a missing $RELAYD_CONFIG: %v", err)
	}
}

func TestCheckConfig(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("RELAYD_TEST_PW", "env-S3cret")
	good := configtest.WriteFile(t, dir, "good.toml", configtest.Minimal+`
[[profile]]
name = "o365"
host = "smtp.office365.com:587"
username = "system@example.com"
password = "literal-S3cret"
[[profile]]
name = "agent"
extends = "o365"
password_env = "RELAYD_TEST_PW"
[[team]]
name = "sales"
default_profile = "o365"
[[route]]
sender = "*@sales.example.com"
recipient = "*@example.org"
profile = "agent"
`, 0o644)
	code, out, errs := runCLI(t, nil, "", "check-config", "-config", good)
	if code != 0 {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errs)
	}
	for _, want := range []string{
		"127.0.0.1:0", "o365", "type=smtp", "smtp.office365.com:587", "tls=starttls-required", "enabled=true",
		"extends=o365 -> agent", "mode=queue", "send_delay=0s",
		"route #1", "sender=*@sales.example.com team=* recipient=*@example.org", "-> agent",
		"team sales default", "system default", "configuration OK (1 warnings)",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("stdout lacks %q:\n%s", want, out)
		}
	}
	if !strings.Contains(errs, "warning: "+good+":") || !strings.Contains(errs, "literal password") {
		t.Errorf("stderr lacks the literal-password warning:\n%s", errs)
	}
	if strings.Contains(out+errs, "S3cret") {
		t.Errorf("a secret was printed:\n%s\n%s", out, errs)
	}

	bad := configtest.WriteFile(t, dir, "bad.toml", configtest.Minimal+"[[listener]]\nname = \"l\"\nadress = \"x\"\n", 0o600)
	code, out, errs = runCLI(t, nil, "", "check-config", "-config", bad)
	if code != 2 || out != "" {
		t.Errorf("bad config: exit %d, stdout %q", code, out)
	}
	for _, want := range []string{
		bad + ":11: listener.address: required",
		bad + ":12: listener.name: another listener",
		bad + `:13: listener.adress: unknown key (did you mean "address"?)`,
	} {
		if !strings.Contains(errs, want+"") {
			t.Errorf("stderr lacks %q:\n%s", want, errs)
		}
	}

	// Flags after the command, config from the environment, missing files.
	if code, _, errs := runCLI(t, map[string]string{config.Env: good}, "", "check-config"); code != 0 {
		t.Errorf("$RELAYD_CONFIG: exit %d: %s", code, errs)
	}
	if code, _, errs := runCLI(t, nil, "", "check-config", "-config", filepath.Join(dir, "nope.toml")); code != 2 || !strings.Contains(errs, "does not exist") {
		t.Errorf("missing -config: exit %d: %s", code, errs)
	}
	if code, _, errs := runCLI(t, map[string]string{config.Env: filepath.Join(dir, "nope.toml")}, "", "check-config"); code != 2 || !strings.Contains(errs, "does not exist") {
		t.Errorf("missing $RELAYD_CONFIG: exit %d: %s", code, errs)
	}
	if code, out, _ := runCLI(t, nil, "", "check-config"); code != 0 || !strings.Contains(out, "config:  embedded default") {
		t.Errorf("embedded: exit %d:\n%s", code, out)
	}
	if code, _, _ := runCLI(t, nil, "", "-config", good, "check-config", "extra"); code != 2 {
		t.Errorf("extra argument: exit %d", code)
	}
}

func TestRouteCommand(t *testing.T) {
	dir := t.TempDir()
	cfg := configtest.WriteFile(t, dir, "r.toml", configtest.Minimal+`
[[profile]]
name = "sales-direct"
type = "direct"
[[profile]]
name = "off"
type = "direct"
enabled = false
[[team]]
name = "sales"
default_profile = "sales-direct"
[[team]]
name = "locked"
profiles = ["off"]
[[route]]
recipient = "*@example.org"
profile = "sales-direct"
`, 0o600)
	code, out, errs := runCLI(t, nil, "", "route", "a@x.com", "-config", cfg, "-from", "s@x.com", "-to", "b@example.org", "-team", "sales")
	want := "b@example.org -> sales-direct (route #1)\na@x.com -> sales-direct (team sales default)\n"
	if code != 0 || out != want {
		t.Errorf("route: exit %d\n%s\nwant:\n%s\nstderr: %s", code, out, want, errs)
	}
	code, out, _ = runCLI(t, nil, "", "route", "-config", cfg, "-from", "s@x.com", "-to", "c@x.com")
	if code != 0 || out != "c@x.com -> p (system default)\n" {
		t.Errorf("system default: exit %d %q", code, out)
	}
	code, out, _ = runCLI(t, nil, "", "route", "-config", cfg, "-from", "s@x.com", "-to", "c@x.com", "-team", "locked")
	if code != 1 || out != "c@x.com -> none (no enabled profile: the client gets 451 4.3.5)\n  system default skipped: profile p is not in team locked's profiles\n" {
		t.Errorf("no profile: exit %d %q", code, out)
	}
	code, out, _ = runCLI(t, nil, "", "route", "-config", cfg, "-from", "s@x.com", "-to", "c@x.com", "-header-profile", "sales-direct")
	if code != 0 || out != "c@x.com -> sales-direct (X-Relay-Profile)\n" {
		t.Errorf("header: exit %d %q", code, out)
	}
	for _, args := range [][]string{
		{"route", "-config", cfg, "-to", "c@x.com"},
		{"route", "-config", cfg, "-from", "s@x.com"},
		{"route", "-config", cfg, "-from", "s@x.com", "-to", "c@x.com", "-team", "ghost"},
		{"route", "-config", filepath.Join(dir, "nope.toml"), "-from", "s@x.com", "-to", "c@x.com"},
	} {
		if code, _, _ := runCLI(t, nil, "", args...); code != 2 {
			t.Errorf("%q: exit %d, want 2", args, code)
		}
	}
}

func TestVersion(t *testing.T) {
	code, out, _ := runCLI(t, nil, "", "version")
	if code != 0 || !regexp.MustCompile(`^relayd \S+ \(go\S+, commit \S+\)\n$`).MatchString(out) {
		t.Errorf("version: exit %d %q", code, out)
	}
}

func TestPasswd(t *testing.T) {
	code, out, errs := runCLI(t, nil, "correct horse\n", "passwd")
	hash := strings.TrimSpace(out)
	if code != 0 || bcrypt.CompareHashAndPassword([]byte(hash), []byte("correct horse")) != nil {
		t.Fatalf("passwd: exit %d %q %s", code, out, errs)
	}
	if cost, _ := bcrypt.Cost([]byte(hash)); cost < 10 {
		t.Errorf("cost %d", cost)
	}
	// The hash is accepted by the loader.
	cfg := configtest.WriteFile(t, t.TempDir(), "relayd.toml", configtest.Minimal+"[[team]]\nname = \"t\"\n[[team.user]]\nusername = \"u\"\npassword_hash = \""+hash+"\"\n", 0o600)
	if _, _, err := config.Load(cfg); err != nil {
		t.Errorf("the hash is refused: %v", err)
	}
	if code, _, _ := runCLI(t, nil, "pw", "passwd", "-cost", "11"); code != 0 {
		t.Errorf("no newline, -cost 11: exit %d", code)
	}
	if code, _, _ := runCLI(t, nil, "\n", "passwd"); code != 1 {
		t.Errorf("empty password: exit %d", code)
	}
	if code, _, _ := runCLI(t, nil, "", "passwd"); code != 1 {
		t.Errorf("no input: exit %d", code)
	}
	if code, _, _ := runCLI(t, nil, "x\n", "passwd", "-cost", "4"); code != 2 {
		t.Errorf("-cost 4: exit %d", code)
	}
}

func TestDispatch(t *testing.T) {
	if code, _, errs := runCLI(t, nil, "", "frobnicate"); code != 2 || !strings.Contains(errs, `unknown command "frobnicate"`) || !strings.Contains(errs, "usage:") {
		t.Errorf("unknown command: exit %d %s", code, errs)
	}
	for _, h := range []string{"help", "-h", "--help"} {
		if code, out, _ := runCLI(t, nil, "", h); code != 0 || !strings.Contains(out, "check-config") {
			t.Errorf("%s: exit %d", h, code)
		}
	}
	if code, _, errs := runCLI(t, nil, "", "test", "office365", "-from", "a@x"); code != 2 || !strings.Contains(errs, `no profile is named "office365"; the profiles are: direct`) {
		t.Errorf("test of an unknown profile: exit %d %s", code, errs)
	}
	if code, _, _ := runCLI(t, nil, "", "queue", "list"); code != 1 {
		t.Errorf("queue: exit %d", code)
	}
	if code, _, _ := runCLI(t, nil, "", "serve", "-config", filepath.Join(t.TempDir(), "nope.toml")); code != 2 {
		t.Errorf("serve with a missing -config: exit %d", code)
	}
}
