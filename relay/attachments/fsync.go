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
// round of sync per group (group commit, as the spool's body log does): a
// caller writes without syncing, then calls wait, which returns once a
// round that started after the call has finished. While one runs, every
// caller that arrives waits for the next one, which the first of them
// starts: N concurrent Puts cost about two rounds, not N. The Store's
// round syncs the files directory and the manifest log (syncRound).
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

// fail makes err the sticky failure, as if a round had failed.
func (g *groupSync) fail(err error) {
	g.mu.Lock()
	if g.err == nil {
		g.err = err
	}
	g.mu.Unlock()
}

// fdatasync makes f's content durable (its name is the directory's
// business: syncRound syncs the directory).
func fdatasync(f *os.File) error { return unix.Fdatasync(int(f.Fd())) }
