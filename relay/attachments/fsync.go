package attachments

import (
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// mkdirSync creates dir if missing and fsyncs its parent, so the new entry
// survives a crash.
func mkdirSync(dir string) error {
	if _, err := os.Stat(dir); err == nil {
		return nil
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	return syncDir(filepath.Dir(dir))
}

// syncDir fsyncs a directory: the names created or renamed in it are
// durable afterwards.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// fdatasync makes f's content durable (its name is the directory's
// business). It holds f's descriptor while it syncs, so a concurrent
// Close cannot hand the number to another file: a closed f gives an
// error that errors.Is os.ErrClosed.
func fdatasync(f *os.File) error {
	rc, err := f.SyscallConn()
	if err != nil {
		return err
	}
	var serr error
	if err := rc.Control(func(fd uintptr) { serr = unix.Fdatasync(int(fd)) }); err != nil {
		return err
	}
	return serr
}
