package config

import (
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/relayd/relayd/cmd/relayd/config/configtest"
)

func TestTrustedGroup(t *testing.T) {
	for _, tc := range []struct {
		gid        uint32
		name       string
		procGID    int
		procGroups []int
		want       bool
	}{
		{998, "relayd", 1000, []int{1000}, true}, // root:relayd 0640, checked by an admin
		{0, "root", 1000, nil, true},
		{998, "998", 998, nil, true}, // serve under User=relayd
		{1001, "ops", 1000, []int{1000, 1001}, true},
		{50, "staff", 0, []int{0}, false},
		{100, "users", 1000, []int{1000}, false},
	} {
		if got := trustedGroup(tc.gid, tc.name, tc.procGID, tc.procGroups); got != tc.want {
			t.Errorf("trustedGroup(%d %q, proc %d %v) = %v, want %v", tc.gid, tc.name, tc.procGID, tc.procGroups, got, tc.want)
		}
	}
}

// TestLiteralPasswordForeignGroup: a 0640 config of a group that is not
// the daemon's gets the warning, naming the group.
func TestLiteralPasswordForeignGroup(t *testing.T) {
	const staff = 50 // Debian's "staff"
	if os.Getuid() != 0 {
		t.Skip("chgrp to a group this user is not in needs root")
	}
	if groups, _ := os.Getgroups(); os.Getgid() == staff || slices.Contains(groups, staff) {
		t.Skip("this process is in group 50")
	}
	path := configtest.WriteFile(t, t.TempDir(), "relayd.toml", configtest.Minimal+profileS+"password = \"literal-pw\"\n", 0o640)
	if err := os.Chown(path, 0, staff); err != nil {
		t.Fatal(err)
	}
	_, w, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(w) != 1 || !strings.Contains(w[0], "literal password and is readable by group ") || !strings.Contains(w[0], "chgrp relayd") {
		t.Errorf("warnings %q, want one about the group", w)
	}
}
