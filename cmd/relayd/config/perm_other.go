//go:build !unix

package config

import "io/fs"

// fileGID is unknown where files have no Unix group.
func fileGID(fs.FileInfo) (uint32, bool) { return 0, false }
