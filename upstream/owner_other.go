//go:build !unix

package upstream

import "os"

// sameOwner does nothing where files have no Unix owner (see owner_unix.go).
func sameOwner(*os.File, os.FileInfo) {}
