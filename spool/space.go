//go:build unix

package spool

import (
	"io/fs"
	"syscall"

	"golang.org/x/sys/unix"
)

// statfsFree returns the bytes available to an unprivileged user on the file
// system holding dir.
func statfsFree(dir string) (uint64, error) {
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err != nil {
		return 0, err
	}
	return uint64(st.Bavail) * uint64(st.Bsize), nil
}

// allocated returns the disk space allocated to a file: Badger preallocates
// its logs sparsely, so the apparent size overstates it.
func allocated(info fs.FileInfo) int64 {
	if st, ok := info.Sys().(*syscall.Stat_t); ok {
		return int64(st.Blocks) * 512
	}
	return info.Size()
}
