//go:build !linux

package main

import "io"

// terminal is not supported here: the password is read from stdin as is,
// with echo.
type terminal struct{}

func openTerminal(io.Reader) (*terminal, bool) { return nil, false }
func (*terminal) readLine() (string, error)    { return "", io.EOF }
func (*terminal) restore()                     {}
