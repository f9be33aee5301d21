package spool

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
)

// health is whether the store can still make writes durable. The first
// failed fsync or fdatasync (of Badger's files or of the body log) or
// failed body log write makes it unhealthy until the process ends: after a
// failed fsync the kernel may have dropped the dirty pages, so nothing
// written since is known to be on disk (groupsync.go), and a restart lets
// Badger and the body log recover from what is.
type health struct {
	once sync.Once
	down chan struct{} // closed when the store fails
	err  atomic.Pointer[error]
}

// fail records the store's first failure; later ones change nothing.
func (s *Store) fail(cause error) {
	s.health.once.Do(func() {
		err := fmt.Errorf("the spool in %s could not write or sync its files (%v): new mail is refused "+
			"with 452 4.3.1 until relayd is restarted; check the disk and the kernel log", s.dir, cause)
		s.health.err.Store(&err)
		close(s.health.down)
		s.log.Error("spool failing: new mail is refused until relayd is restarted", "dir", s.dir, "err", cause)
	})
}

// Err returns nil while the store is healthy, and after its first failed
// fsync, fdatasync or body log write an error saying so (a sentence naming
// the spool directory and what to do). Commits fail from then on. Cheap;
// safe for concurrent use.
func (s *Store) Err() error {
	if p := s.health.err.Load(); p != nil {
		return *p
	}
	return nil
}

// Failed returns a channel that is closed when the store fails (see Err).
func (s *Store) Failed() <-chan struct{} { return s.health.down }

// makeDir creates dir and its missing parents (mode 0700) and fsyncs the
// parent of each directory it created, so that the spool's directory entry
// survives a power cut on first start. The directory itself is fsynced
// after Badger and the body log created their files in it (fileSync does
// at the store's first fsync).
func makeDir(dir string, fsync func(*os.File) error) error {
	var created []string
	for d := filepath.Clean(dir); ; d = filepath.Dir(d) {
		if _, err := os.Stat(d); err == nil {
			break
		} else if !errors.Is(err, os.ErrNotExist) {
			return err
		}
		created = append(created, d)
		if filepath.Dir(d) == d {
			break
		}
	}
	if len(created) == 0 {
		return nil
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	for _, d := range created {
		if err := syncDir(filepath.Dir(d), fsync); err != nil {
			return err
		}
	}
	return nil
}
