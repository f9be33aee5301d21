package attachments

import (
	"os"
	"path/filepath"
	"sync"

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

// groupSync makes the writes of concurrent callers durable with one
// syncfs(2) of the store's file system per round (group commit, as the
// spool's body log does): a caller writes its files and manifest without
// fsyncing them, then calls wait, which returns once a syncfs that
// started after the call has finished. While one runs, every caller that
// arrives waits for the next one, which the first of them starts: N
// concurrent Puts cost about two syncfs calls, not 4N fsyncs.
//
// A failure is sticky: afterwards the durability of earlier writes is
// unknown (Linux may drop the dirty pages and reports the error once), so
// every later wait fails too until relayd is restarted.
type groupSync struct {
	sync func() error

	mu      sync.Mutex
	cond    *sync.Cond
	started uint64 // generation of the latest round started
	done    uint64 // generation of the latest round finished
	running bool
	err     error // sticky failure
	rounds  uint64
}

func newGroupSync(fn func() error) *groupSync {
	g := &groupSync{sync: fn}
	g.cond = sync.NewCond(&g.mu)
	return g
}

// wait blocks until a round that started after the call has finished and
// returns its error (or an earlier sticky one).
func (g *groupSync) wait() error {
	g.mu.Lock()
	defer g.mu.Unlock()
	target := g.started + 1
	for g.done < target && g.err == nil {
		if g.running {
			g.cond.Wait()
			continue
		}
		g.running = true
		g.started++
		gen := g.started
		g.mu.Unlock()
		err := g.sync()
		g.mu.Lock()
		g.running = false
		g.done = gen
		g.rounds++
		if err != nil && g.err == nil {
			g.err = err
		}
		g.cond.Broadcast()
	}
	return g.err
}

// syncFS returns a function that flushes the file system holding dir
// (syncfs(2): file data, inodes and directory entries alike). The
// directory stays open so that a writeback error is reported to the next
// call even if it happened before.
func syncFS(dir string) (func() error, error) {
	d, err := os.Open(dir)
	if err != nil {
		return nil, err
	}
	return func() error { return unix.Syncfs(int(d.Fd())) }, nil
}
