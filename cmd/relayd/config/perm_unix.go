//go:build unix

package config

import (
	"io/fs"
	"syscall"
)

// fileGID returns the group owning fi's file.
func fileGID(fi fs.FileInfo) (uint32, bool) {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return 0, false
	}
	return st.Gid, true
}
