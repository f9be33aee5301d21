package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// systemd/relayd.service: its directives and its hardening.

const unitFile = "../../systemd/relayd.service"

// maxExposure is the highest systemd-analyze security rating the unit may
// have (the bound systemd/relayd.service states).
const maxExposure = 2.0

// readUnit parses a unit file into section -> key -> values, in order
// (assignments accumulate, as systemd's list settings do).
func readUnit(t *testing.T, path string) map[string]map[string][]string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	unit := map[string]map[string][]string{}
	section := ""
	text := strings.ReplaceAll(string(b), "\\\n", " ")
	for n, line := range strings.Split(text, "\n") {
		line = strings.TrimSpace(line)
		switch {
		case line == "" || line[0] == '#' || line[0] == ';':
		case line[0] == '[' && line[len(line)-1] == ']':
			section = line[1 : len(line)-1]
			unit[section] = map[string][]string{}
		default:
			key, val, ok := strings.Cut(line, "=")
			if !ok || section == "" {
				t.Fatalf("%s:%d: not KEY=VALUE in a section: %q", path, n+1, line)
			}
			unit[section][strings.TrimSpace(key)] = append(unit[section][strings.TrimSpace(key)], strings.TrimSpace(val))
		}
	}
	return unit
}

func TestSystemdUnit(t *testing.T) {
	svc := readUnit(t, unitFile)["Service"]
	if svc == nil {
		t.Fatalf("%s: no [Service]", unitFile)
	}
	last := func(key string) string {
		if v := svc[key]; len(v) > 0 {
			return v[len(v)-1]
		}
		return ""
	}
	fields := func(key string) []string {
		var f []string
		for _, v := range svc[key] {
			f = append(f, strings.Fields(v)...)
		}
		return f
	}
	for key, want := range map[string]string{"Type": "notify", "ConfigurationDirectory": "relayd",
		"NoNewPrivileges": "yes", "RestartPreventExitStatus": "2"} {
		if got := last(key); got != want {
			t.Errorf("%s=%q, want %q", key, got, want)
		}
	}
	if f := fields("StateDirectory"); len(f) != 1 || f[0] != "relayd" {
		t.Errorf("StateDirectory=%q, want relayd", f)
	}
	if r := last("ExecReload"); !strings.Contains(r, "kill") || !strings.Contains(r, "HUP") || !strings.Contains(r, "$MAINPID") {
		t.Errorf("ExecReload=%q: want SIGHUP to $MAINPID", r)
	}
	if s := last("ExecStart"); !strings.Contains(s, "relayd") {
		t.Errorf("ExecStart=%q", s)
	}
	if u := last("User"); u == "" || u == "root" || u == "0" || last("DynamicUser") == "yes" {
		t.Errorf("User=%q DynamicUser=%q: want a static unprivileged user", u, last("DynamicUser"))
	}
	// debug_transcript = "/var/log/relayd/..." must be writable under
	// ProtectSystem=strict; password_env secrets come from an optional file.
	if f := fields("LogsDirectory"); len(f) != 1 || f[0] != "relayd" {
		t.Errorf("LogsDirectory=%q, want relayd", f)
	}
	if e := last("EnvironmentFile"); e != "-/etc/relayd/env" {
		t.Errorf("EnvironmentFile=%q, want -/etc/relayd/env", e)
	}
	docs := strings.Fields(strings.Join(readUnit(t, unitFile)["Unit"]["Documentation"], " "))
	for _, want := range []string{"man:relayd(8)", "man:relayd.toml(5)"} {
		if !slices.Contains(docs, want) {
			t.Errorf("Documentation=%q lacks %s", docs, want)
		}
	}
	for _, key := range []string{"AmbientCapabilities", "CapabilityBoundingSet"} {
		if f := fields(key); len(f) != 1 || f[0] != "CAP_NET_BIND_SERVICE" {
			t.Errorf("%s=%q, want CAP_NET_BIND_SERVICE alone", key, svc[key])
		}
	}
}

// TestSystemdSecurity runs `systemd-analyze security --offline=true` on the
// unit (systemd >= 252 rates a unit file without loading it) and wants
// a rating of at most maxExposure.
func TestSystemdSecurity(t *testing.T) {
	bin, err := exec.LookPath("systemd-analyze")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("systemd-analyze not found: install systemd (apt-get install systemd)")
		}
		t.Skip("systemd-analyze not found: install systemd (apt-get install systemd) to rate the unit")
	}
	path, err := filepath.Abs(unitFile)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "security", "--offline=true", "--no-pager", path)
	cmd.Env = append(os.Environ(), "SYSTEMD_COLORS=0", "SYSTEMD_PAGER=")
	out, err := cmd.CombinedOutput()
	m := regexp.MustCompile(`Overall exposure level for \S+: ([0-9]+(?:\.[0-9]+)?)`).FindSubmatch(out)
	if m == nil {
		t.Fatalf("%s security --offline=true: %v (systemd >= 252 needed), no exposure level in:\n%s", bin, err, out)
	}
	level, _ := strconv.ParseFloat(string(m[1]), 64)
	t.Logf("systemd-analyze security --offline=true %s: exposure %.1f", unitFile, level)
	if level > maxExposure {
		t.Errorf("exposure level %.1f > %.1f, the most the unit may have:\n%s", level, maxExposure, out)
	}
}
