package main

import (
	"log/slog"
	"os"
)

// shareStateDir sets the modes the sendmail socket needs (docs/relayd.toml.5.md, [sendmail]) once the spool is open:
// state_dir searchable by every user (0711, so each local user can reach
// the sendmail socket inside it, but not list the directory) and the spool
// private (0700). A directory relayd may not chmod (owned by someone else)
// is left as it is, with a warning: `relayd sendmail` of other users may
// then fail to connect.
func shareStateDir(stateDir, spoolDir string, log *slog.Logger) {
	for _, d := range []struct {
		path string
		mode os.FileMode
	}{{stateDir, 0o711}, {spoolDir, 0o700}} {
		fi, err := os.Stat(d.path)
		if err != nil || fi.Mode().Perm() == d.mode {
			continue
		}
		if err := os.Chmod(d.path, d.mode); err != nil {
			log.Warn("cannot set the mode of the state directory: local users may not reach the sendmail socket",
				"dir", d.path, "mode", d.mode.String(), "err", err)
		}
	}
}
