//go:build !linux

package spool

// trimMappings is Linux-only (see trim_linux.go).
func trimMappings(string) bool { return false }

func rssFileBytes() int64 { return -1 }
