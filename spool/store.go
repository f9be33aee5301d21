package spool

import (
	"errors"
	"fmt"
	"hash/maphash"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"github.com/dgraph-io/badger/v4"
)

// Store is an open spool. All methods are safe for concurrent use; after
// Close they return ErrClosed. Messages returned by a Store are copies owned
// by the caller.
type Store struct {
	db      *badger.DB
	dir     string
	log     *slog.Logger
	now     func() time.Time
	free    func(dir string) (uint64, error)
	reserve int64
	metrics *metrics

	ix    *memIndex
	gs    *groupSync // Badger's fsync (fileSync)
	files *fileSync
	// blog is the body log (bodylog.go), nil when the spool is encrypted;
	// logSync is its group fdatasync. ckptWritten is the checkpoint last
	// written in Badger, ckptDurable the one known durable; both are owned
	// by Open and then the background goroutine.
	blog                     *bodyLog
	logSync                  *groupSync
	ckptWritten, ckptDurable uint64
	locks                    [256]sync.Mutex // per-ID locks, by hash: serialise Commit/Update of one message
	seed                     maphash.Seed
	stop                     chan struct{}
	wg                       sync.WaitGroup
	panics                   atomic.Int64

	written atomic.Int64 // bytes committed since the last trimMappings
	mapDir  string       // dir as it appears in /proc/self/maps
	trim    bool         // trimMappings works here; owned by background
	// trimChecked is when background last compared RssFile with trimAbove.
	trimChecked time.Time

	tickMu sync.Mutex // serialises tick (the background goroutine, tests)

	closeMu sync.RWMutex // held shared by every operation, exclusively by Close
	closed  bool

	corruptMu sync.Mutex
	corrupt   map[string]bool // IDs reported corrupt since Open

	fsync  func(*os.File) error // Options.Fsync, else (*os.File).Sync
	health health
}

// Open opens (or creates) the spool in opts.Dir, recovers interrupted
// deliveries (recovery.go) and rebuilds the in-memory indexes. Only one
// Store may have a directory open at a time, in any process: a second Open
// fails with an error naming the directory (Badger's flock). The caller must
// Close the Store.
func Open(opts Options) (*Store, error) {
	if err := checkOptions(opts); err != nil {
		return nil, err
	}
	s := &Store{
		dir: opts.Dir, log: opts.Logger, now: opts.Now, free: opts.FreeSpace,
		reserve: opts.MinFreeBytes, ix: newMemIndex(), seed: maphash.MakeSeed(),
		stop: make(chan struct{}), corrupt: make(map[string]bool), fsync: opts.Fsync,
		health: health{down: make(chan struct{})},
	}
	if s.log == nil {
		s.log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.free == nil {
		s.free = statfsFree
	}
	if s.fsync == nil {
		s.fsync = (*os.File).Sync
	}
	if err := makeDir(opts.Dir, s.fsync); err != nil {
		return nil, fmt.Errorf("cannot create the spool directory %s: %w", opts.Dir, err)
	}
	var err error
	if s.metrics, err = newMetrics(opts.Registerer); err != nil {
		return nil, fmt.Errorf("spool: open %s: metrics: %w", opts.Dir, err)
	}
	s.db, err = badger.Open(badgerOptions(opts, s.log))
	if err != nil {
		return nil, fmt.Errorf("spool: open %s: %w", opts.Dir, err)
	}
	s.mapDir = resolveDir(opts.Dir)
	if len(opts.EncryptionKey) == 0 {
		s.blog, err = openLog(filepath.Join(opts.Dir, logDirName), opts.Fsync)
		if err != nil {
			s.db.Close()
			return nil, fmt.Errorf("spool: open %s: body log: %w", opts.Dir, err)
		}
		s.blog.onFail = s.fail
		s.logSync = newGroupSync(s.syncLog)
		s.logSync.OnFail = s.fail
	}
	if err := s.start(); err != nil {
		s.db.Close()
		if s.files != nil {
			s.files.close()
		}
		if s.blog != nil {
			s.blog.close()
		}
		return nil, fmt.Errorf("spool: open %s: %w", opts.Dir, err)
	}
	return s, nil
}

// start loads the indexes, runs recovery and starts the flush goroutine.
func (s *Store) start() error {
	s.files = newFileSync(s.dir, s.db.Sync)
	s.files.fsync = s.fsync
	s.gs = newGroupSync(s.syncAll)
	s.gs.OnFail = s.fail
	if err := s.load(); err != nil {
		return err
	}
	if err := s.gs.wait(); err != nil {
		return err
	}
	if s.blog != nil {
		if err := s.startLog(); err != nil {
			return err
		}
	}
	s.trim = trimMappings(s.mapDir) // Badger read the last value log file
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		s.background()
	}()
	return nil
}

// background runs until Close: every flushEvery it fsyncs the non-durable
// writes (Update, PurgeJournal) and, after trimEvery bytes were committed or
// when RssFile is above trimAbove, trims Badger's mappings from RSS
// (trim_linux.go).
func (s *Store) background() {
	t := time.NewTicker(flushEvery)
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-t.C:
			s.tick()
		}
	}
}

func (s *Store) tick() {
	defer s.recoverPanic("flush")
	s.tickMu.Lock()
	defer s.tickMu.Unlock()
	if s.blog != nil {
		s.logTick()
	} else if s.gs.Dirty.Load() {
		if err := s.gs.wait(); err != nil {
			s.log.Error("spool flush failed", "err", err)
		}
	}
	if !s.trim {
		return
	}
	check := time.Since(s.trimChecked) >= trimCheckEvery
	if check {
		s.trimChecked = time.Now()
	}
	if s.written.Load() >= trimEvery || (check && rssFileBytes() > trimAbove) {
		s.written.Store(0)
		s.trim = trimMappings(s.mapDir)
	}
}

// syncLog is the body log's fdatasync, timed with Badger's.
func (s *Store) syncLog() error {
	start := time.Now()
	err := s.blog.sync()
	s.metrics.syncTime.Observe(time.Since(start).Seconds())
	return err
}

// syncAll is the store's fsync (fileSync), timed.
func (s *Store) syncAll() error {
	start := time.Now()
	err := s.files.sync()
	s.metrics.syncTime.Observe(time.Since(start).Seconds())
	return err
}

// Close makes every write durable, stops the background work and closes the
// database. It waits for operations in progress; later calls return
// ErrClosed. Close is idempotent.
func (s *Store) Close() error {
	s.closeMu.Lock()
	defer s.closeMu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	close(s.stop)
	s.wg.Wait()
	var err error
	if s.blog != nil { // no commit is in flight: every record is in Badger
		err = s.writeCheckpoint(s.blog.stable())
	}
	if serr := s.db.Sync(); err == nil {
		err = serr
	}
	if cerr := s.db.Close(); err == nil {
		err = cerr
	}
	s.files.close()
	if s.blog != nil {
		s.blog.close()
	}
	if err != nil {
		return fmt.Errorf("spool: close %s: %w", s.dir, err)
	}
	return nil
}

// enter marks the start of an operation; the caller must call s.leave()
// when it returns nil.
func (s *Store) enter() error {
	s.closeMu.RLock()
	if s.closed {
		s.closeMu.RUnlock()
		return ErrClosed
	}
	return nil
}

func (s *Store) leave() { s.closeMu.RUnlock() }

// lockID returns the lock that serialises writes to message id, so that the
// in-memory index is updated in the same order as the disk.
func (s *Store) lockID(id string) *sync.Mutex {
	return &s.locks[maphash.String(s.seed, id)%uint64(len(s.locks))]
}

// apply updates the in-memory index after a committed transaction changed
// message id from old to cur (either may be nil). Call with id's lock held.
func (s *Store) apply(id string, old, cur *Message) {
	var before, after *summary
	if old != nil {
		v := summarize(old)
		before = &v
	}
	if cur != nil {
		v := summarize(cur)
		after = &v
	}
	s.ix.change(id, before, after)
}

// markCorrupt logs and counts an undecodable record once per ID and drops
// it from the schedule, so it never blocks the queue. The record itself is
// left in place for inspection.
func (s *Store) markCorrupt(id string, err error) {
	s.ix.forget(id)
	s.corruptMu.Lock()
	seen := s.corrupt[id]
	s.corrupt[id] = true
	s.corruptMu.Unlock()
	if !seen {
		s.metrics.corrupt.Inc()
		s.log.Error("corrupt spool record skipped", "msg_id", id, "err", err)
	}
}

// Corrupt returns how many distinct corrupt records were found since Open.
// Safe for concurrent use.
func (s *Store) Corrupt() int {
	s.corruptMu.Lock()
	defer s.corruptMu.Unlock()
	return len(s.corrupt)
}

// recoverPanic is deferred at the top of the store's goroutines: it logs the
// stack and counts the panic; the queue state on disk is unaffected.
func (s *Store) recoverPanic(component string) {
	if r := recover(); r != nil {
		s.panics.Add(1)
		s.log.Error("panic recovered", "where", component, "panic", r, "stack", string(debug.Stack()))
	}
}

// resolveDir returns dir absolute and without symbolic links, as the kernel
// names it in /proc/self/maps; dir itself if that fails.
func resolveDir(dir string) string {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return dir
	}
	if real, err := filepath.EvalSymlinks(abs); err == nil {
		return real
	}
	return abs
}

var errDuplicate = errors.New("a message with this ID already exists")
