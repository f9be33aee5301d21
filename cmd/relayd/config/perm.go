package config

import (
	"io/fs"
	"os"
	"os/user"
	"slices"
	"strconv"
)

// daemonGroup is the group of the documented setup: /etc/relayd/relayd.toml
// is root:relayd 0640, readable by the daemon and no other user.
const daemonGroup = "relayd"

// configReaders says who besides the owner can read the config file at
// path with permission bits perm: "" when nobody else, or only the
// daemon's group (named relayd, root's, or one this process belongs to,
// which is the daemon's when serve runs under systemd); else a phrase
// for the warning ("every user", "group staff").
func configReaders(path string, perm fs.FileMode) string {
	if perm&0o004 != 0 {
		return "every user"
	}
	if perm&0o040 == 0 {
		return ""
	}
	fi, err := os.Stat(path)
	if err != nil {
		return ""
	}
	gid, ok := fileGID(fi)
	if !ok {
		return ""
	}
	name := strconv.FormatUint(uint64(gid), 10)
	if g, err := user.LookupGroupId(name); err == nil {
		name = g.Name
	}
	groups, _ := os.Getgroups()
	if trustedGroup(gid, name, os.Getgid(), groups) {
		return ""
	}
	return "group " + name
}

// trustedGroup reports whether group gid (named name) may read the config:
// the daemon's group, root's, or a group of this process.
func trustedGroup(gid uint32, name string, procGID int, procGroups []int) bool {
	return name == daemonGroup || gid == 0 || int(gid) == procGID || slices.Contains(procGroups, int(gid))
}
