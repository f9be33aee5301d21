package main

import (
	"strings"
	"testing"

	"github.com/relayd/relayd/cmd/relayd/config/configtest"
)

// disabledConfig is the seeds' "Status: unavailable": the system default
// and a team default are switched off, one route names a disabled profile
// and one a profile that was removed.
const disabledConfig = `[relay]
default_profile = "office365"

[[listener]]
name = "l"
address = "127.0.0.1:0"

[[profile]]
name = "office365"
type = "direct"
enabled = false

[[profile]]
name = "old"
type = "direct"
enabled = false

[[profile]]
name = "support"
type = "direct"

[[team]]
name = "sales"
default_profile = "old"

[[route]]
sender = "*@legacy.example.com"
profile = "old"

[[route]]
sender = "*@legacy.example.com"
profile = "removed"

[[route]]
recipient = "*@support.example.net"
profile = "support"
`

// TestDisabledAndMissingProfilesAreValid: a disabled default or
// route target is valid, a missing one is a warning; check-config exits 0
// and says what routing skips; relayd route shows the skipped candidates.
func TestDisabledAndMissingProfilesAreValid(t *testing.T) {
	cfg := configtest.WriteFile(t, t.TempDir(), "relayd.toml", disabledConfig, 0o600)
	code, out, errs := runCLI(t, nil, "", "check-config", "-config", cfg)
	if code != 0 {
		t.Fatalf("check-config: exit %d, want 0\nstdout:\n%s\nstderr:\n%s", code, out, errs)
	}
	for _, want := range []string{
		"-> old (disabled: skipped)", "-> removed (no such profile: skipped)", "-> support\n",
		"team sales default", "system default", "-> office365 (disabled: skipped)", "configuration OK (3 warnings)",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("check-config stdout lacks %q:\n%s", want, out)
		}
	}
	for _, want := range []string{
		cfg + `:2: relay.default_profile: profile "office365" is disabled: mail that no route or team default decides is refused with 451 4.3.5 until it is enabled`,
		cfg + `:24: team.default_profile: profile "old" is disabled: routing skips the team default`,
		cfg + `:32: route.profile: route #2: no profile is named "removed": routing skips this rule`,
	} {
		if !strings.Contains(errs, "warning: "+want+"\n") {
			t.Errorf("check-config stderr lacks warning %q:\n%s", want, errs)
		}
	}

	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"-from", "a@legacy.example.com", "-to", "b@support.example.net"}, 0,
			"b@support.example.net -> support (route #3)\n" +
				"  route #1 skipped: profile old is disabled\n" +
				"  route #2 skipped: profile removed does not exist\n"},
		{[]string{"-from", "a@legacy.example.com", "-team", "sales", "-to", "b@example.org"}, 1,
			"b@example.org -> none (no enabled profile: the client gets 451 4.3.5)\n" +
				"  route #1 skipped: profile old is disabled\n" +
				"  route #2 skipped: profile removed does not exist\n" +
				"  team sales default skipped: profile old is disabled\n" +
				"  system default skipped: profile office365 is disabled\n"},
	} {
		code, out, errs := runCLI(t, nil, "", append([]string{"route", "-config", cfg}, tc.args...)...)
		if code != tc.code || out != tc.want {
			t.Errorf("route %q: exit %d, want %d\n%s\nwant:\n%s\nstderr: %s", tc.args, code, tc.code, out, tc.want, errs)
		}
	}
}
