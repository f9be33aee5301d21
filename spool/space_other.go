//go:build !unix

package spool

import (
	"errors"
	"io/fs"
)

// statfsFree is not implemented off Unix; set Options.FreeSpace there.
func statfsFree(string) (uint64, error) {
	return 0, errors.New("free space check not supported on this system")
}

// allocated returns the apparent size of a file.
func allocated(info fs.FileInfo) int64 { return info.Size() }
