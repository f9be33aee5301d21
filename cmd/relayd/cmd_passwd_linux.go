package main

import (
	"bufio"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// terminal is stdin as a terminal with echo turned off.
type terminal struct {
	f     *os.File
	r     *bufio.Reader
	saved unix.Termios
	sigs  chan os.Signal
	done  chan struct{}
}

// openTerminal turns echo off when in is a terminal. An interrupt restores
// the terminal before the process exits, so the shell does not stay silent.
func openTerminal(in io.Reader) (*terminal, bool) {
	f, ok := in.(*os.File)
	if !ok {
		return nil, false
	}
	fd := int(f.Fd())
	saved, err := unix.IoctlGetTermios(fd, unix.TCGETS)
	if err != nil {
		return nil, false // not a terminal
	}
	quiet := *saved
	quiet.Lflag &^= unix.ECHO
	quiet.Lflag |= unix.ICANON | unix.ISIG
	quiet.Iflag |= unix.ICRNL
	if err := unix.IoctlSetTermios(fd, unix.TCSETS, &quiet); err != nil {
		return nil, false
	}
	t := &terminal{f: f, r: bufio.NewReader(f), saved: *saved, sigs: make(chan os.Signal, 1), done: make(chan struct{})}
	signal.Notify(t.sigs, os.Interrupt, syscall.SIGTERM)
	go func() {
		select {
		case <-t.sigs:
			_ = unix.IoctlSetTermios(fd, unix.TCSETS, &t.saved)
			os.Exit(130)
		case <-t.done:
		}
	}()
	return t, true
}

func (t *terminal) readLine() (string, error) {
	s, err := t.r.ReadString('\n')
	if err != nil && s == "" {
		return "", err
	}
	return strings.TrimRight(s, "\r\n"), nil
}

func (t *terminal) restore() {
	signal.Stop(t.sigs)
	close(t.done)
	_ = unix.IoctlSetTermios(int(t.f.Fd()), unix.TCSETS, &t.saved)
}
