//go:build unix

package upstream

import (
	"os"
	"syscall"
)

// sameOwner gives f the owner and group of fi, best effort (only root may
// give a file away). A file that `relayd test`, run as root, rewrites or
// rotates (a rotated OAuth2 refresh token, a debug transcript) then stays
// readable by the relayd user the daemon runs as.
func sameOwner(f *os.File, fi os.FileInfo) {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if ok && (int(st.Uid) != os.Geteuid() || int(st.Gid) != os.Getegid()) {
		f.Chown(int(st.Uid), int(st.Gid))
	}
}
