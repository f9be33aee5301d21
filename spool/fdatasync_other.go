//go:build !linux

package spool

import "os"

// fdatasync is fsync where fdatasync(2) is not available.
func fdatasync(f *os.File) error { return f.Sync() }

// adviseSegment is a no-op off Linux.
func adviseSegment(*os.File) {}
