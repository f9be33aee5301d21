package spool

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
)

var errEIO = errors.New("input/output error")

// failingSync is an Options.Fsync that fails the syncs of the files whose
// path contains part while armed, and records every path it is given.
type failingSync struct {
	part  string
	armed atomic.Bool
	mu    sync.Mutex
	names []string
}

func (fs *failingSync) sync(f *os.File) error {
	fs.mu.Lock()
	fs.names = append(fs.names, f.Name())
	fs.mu.Unlock()
	if fs.armed.Load() && strings.Contains(f.Name(), fs.part) {
		return errEIO
	}
	return f.Sync()
}

func (fs *failingSync) synced() []string {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	return slices.Clone(fs.names)
}

// wantFailed checks that s reports itself failing: Err and Failed.
func wantFailed(t *testing.T, s *Store) {
	t.Helper()
	if err := s.Err(); err == nil || !strings.Contains(err.Error(), s.dir) {
		t.Errorf("Err() = %v, want an error naming %s", err, s.dir)
	}
	select {
	case <-s.Failed():
	default:
		t.Error("Failed() is not closed")
	}
}

// TestBadgerFsyncFailureFailsCommits: once an fsync of Badger's files
// failed, commits fail although the body log still works (they went on
// through the log before), and the store reports itself failing.
func TestBadgerFsyncFailureFailsCommits(t *testing.T) {
	c := newClock()
	fs := &failingSync{part: ".vlog"}
	s := openTest(t, t.TempDir(), c, func(o *Options) { o.Fsync = fs.sync })
	m := newMsg(StateReady, c.Now(), "a@example.org")
	mustCommit(t, s, m, testBody(m.ID, 5000))
	if s.Err() != nil {
		t.Fatalf("healthy store: Err() = %v", s.Err())
	}
	fs.armed.Store(true)
	if _, err := s.Hold(m.ID); err == nil { // an UpdateSync: Badger's fsync
		t.Fatal("Hold succeeded although Badger's fsync failed")
	}
	m2 := newMsg(StateReady, c.Now(), "a@example.org")
	if err := s.Commit(m2, testBody(m2.ID, 5000)); err == nil {
		t.Error("a commit through the body log succeeded after Badger's fsync failed")
	}
	if _, err := s.Get(m2.ID); !errors.Is(err, ErrNotFound) {
		t.Errorf("the refused commit left its message: %v", err)
	}
	wantFailed(t, s)
}

// TestBodyLogFailureMakesStoreUnhealthy: a failed fdatasync of the body
// log fails the commit and marks the store failing.
func TestBodyLogFailureMakesStoreUnhealthy(t *testing.T) {
	c := newClock()
	fs := &failingSync{part: string(filepath.Separator) + logDirName + string(filepath.Separator)}
	s := openTest(t, t.TempDir(), c, func(o *Options) { o.Fsync = fs.sync })
	m := newMsg(StateReady, c.Now(), "a@example.org")
	mustCommit(t, s, m, testBody(m.ID, 5000))
	fs.armed.Store(true)
	m2 := newMsg(StateReady, c.Now(), "a@example.org")
	if err := s.Commit(m2, testBody(m2.ID, 5000)); err == nil {
		t.Fatal("commit succeeded although the body log fdatasync failed")
	}
	wantFailed(t, s)
}

// TestRefusedCommitStaysGoneAfterCrash: a commit whose body log fdatasync
// failed (answered 452) does not come back at the next Open, even when its
// record reached the disk: its dead flag and Badger's deletion are synced
// before Commit returns. The crash keeps of the body log only what was
// there at its last fdatasync (the failed one included: the worst case).
func TestRefusedCommitStaysGoneAfterCrash(t *testing.T) {
	dir := t.TempDir()
	c := newClock()
	var mu sync.Mutex
	var armed bool
	disk := map[string][]byte{} // body log file → its content at its last fdatasync
	badgerSyncs := 0
	sync := func(f *os.File) error {
		mu.Lock()
		defer mu.Unlock()
		if !strings.Contains(f.Name(), string(filepath.Separator)+logDirName+string(filepath.Separator)) {
			badgerSyncs++
			return f.Sync()
		}
		b, err := os.ReadFile(f.Name())
		if err != nil {
			return err
		}
		disk[f.Name()] = b
		if armed {
			armed = false // Linux reports a writeback error once
			return errEIO
		}
		return f.Sync()
	}
	s := openTest(t, dir, c, func(o *Options) { o.Fsync = sync })
	keep := newMsg(StateReady, c.Now(), "a@example.org")
	mustCommit(t, s, keep, testBody(keep.ID, 5000))
	close(s.stop) // no background flush or checkpoint from here on
	s.wg.Wait()

	mu.Lock()
	armed, badgerSyncs = true, 0
	mu.Unlock()
	m := newMsg(StateReady, c.Now(), "a@example.org")
	if err := s.Commit(m, testBody(m.ID, 5000)); err == nil {
		t.Fatal("commit succeeded although the body log fdatasync failed")
	}
	mu.Lock()
	if badgerSyncs == 0 {
		t.Error("the rollback of the refused commit was not fsynced in Badger")
	}
	mu.Unlock()

	// Crash: Badger keeps its writes, the body log only its synced content.
	s.closeMu.Lock()
	s.closed = true
	if err := s.db.Close(); err != nil {
		t.Fatal(err)
	}
	s.files.close()
	s.blog.close()
	s.closeMu.Unlock()
	mu.Lock()
	for name, b := range disk {
		if err := os.WriteFile(name, b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	mu.Unlock()

	s = openTest(t, dir, c)
	if _, err := s.Get(m.ID); !errors.Is(err, ErrNotFound) {
		t.Errorf("the message refused with 452 is back after the crash: %v", err)
	}
	mustGet(t, s, keep.ID)
}

// TestOpenSyncsNewDirectories: on first start Open creates the spool
// directory and its missing parents and fsyncs the directory holding each
// new entry.
func TestOpenSyncsNewDirectories(t *testing.T) {
	base := t.TempDir()
	dir := filepath.Join(base, "state", "spool")
	fs := &failingSync{}
	s := openTest(t, dir, newClock(), func(o *Options) { o.Fsync = fs.sync })
	synced := fs.synced()
	for _, d := range []string{base, filepath.Join(base, "state"), dir} {
		if !slices.Contains(synced, d) {
			t.Errorf("directory %s was not fsynced at first start (synced: %v)", d, synced)
		}
	}
	closeTest(t, s)
}
