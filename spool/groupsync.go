package spool

import (
	"fmt"
	"sync"
	"sync/atomic"
)

// groupSync implements group commit on top of Badger with SyncWrites=false.
// A writer calls wait after its transaction committed; wait returns once an
// fsync that started after that call has finished. While one fsync runs,
// every writer that arrives waits for the next one, which the first of them
// starts: N concurrent commits cost about two fsyncs, not N.
//
// A failed fsync is sticky: after it, the durability of earlier writes is
// unknown (Linux may drop the dirty pages), so every later wait fails too
// and relay answers 452 until relayd is restarted and Badger recovers.
type groupSync struct {
	sync  func() error // one full fsync of the store
	dirty atomic.Bool  // a non-durable write happened since the last fsync
	// onFail, when set, is called once, with the first failure (and mu
	// held): the store is failing from then on.
	onFail func(error)

	mu      sync.Mutex
	cond    *sync.Cond
	started uint64 // generation of the latest fsync started
	done    uint64 // generation of the latest fsync finished
	running bool
	err     error  // sticky failure
	syncs   uint64 // fsyncs run, for tests and benchmarks
	waiting int    // writers waiting for a running fsync, for tests
}

func newGroupSync(fn func() error) *groupSync {
	g := &groupSync{sync: fn}
	g.cond = sync.NewCond(&g.mu)
	return g
}

// wait blocks until a store fsync that started after the call has finished
// and returns its error (or an earlier sticky one).
func (g *groupSync) wait() error {
	g.mu.Lock()
	defer g.mu.Unlock()
	target := g.started + 1
	for g.done < target && g.err == nil {
		if g.running {
			g.waiting++
			g.cond.Wait()
			g.waiting--
			continue
		}
		g.running = true
		g.started++
		gen := g.started
		g.dirty.Store(false)
		g.mu.Unlock()
		err := g.sync()
		g.mu.Lock()
		g.running = false
		g.done = gen
		g.syncs++
		if err != nil && g.err == nil {
			g.err = fmt.Errorf("spool: fsync: %w", err)
			if g.onFail != nil {
				g.onFail(err)
			}
		}
		g.cond.Broadcast()
	}
	return g.err
}
