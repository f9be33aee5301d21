// Package groupsync is group commit: the writes of concurrent callers
// are made durable by one sync per round, not one per caller. A caller
// writes without syncing, then calls Wait, which returns once a round that
// started after the call has finished. While one round runs, every caller
// that arrives waits for the next one, which the first of them starts: N
// concurrent commits cost about two rounds, not N.
//
// The spool runs its Badger fsync and its body log fdatasync this way, and
// the attachment store its directory and manifest log syncs. It is a leaf:
// it imports only the standard library.
//
// A failure is sticky: after it the durability of earlier writes is
// unknown (Linux may drop the dirty pages and reports the error once), so
// every later Wait fails too, until relayd is restarted.
package groupsync

import (
	"sync"
	"sync/atomic"
)

// Group is one group-committed sync. Its methods are safe for concurrent
// use; set OnFail before the first Wait.
type Group struct {
	sync func() error // one round: makes every earlier write durable
	// OnFail, when set, is called once, with the first failure (and the
	// group's lock held): whoever owns the files is failing from then on.
	OnFail func(error)
	// Dirty is for the caller to say that a write happened that no round
	// has made durable yet; a round clears it when it starts.
	Dirty atomic.Bool

	mu      sync.Mutex
	cond    *sync.Cond
	started uint64 // generation of the latest round started
	done    uint64 // generation of the latest round finished
	running bool
	err     error  // sticky failure
	rounds  uint64 // rounds run
	waiting int    // callers waiting for a running round
}

// New returns a Group whose rounds call round.
func New(round func() error) *Group {
	g := &Group{sync: round}
	g.cond = sync.NewCond(&g.mu)
	return g
}

// Wait blocks until a round that started after the call has finished and
// returns its error (or an earlier sticky one).
func (g *Group) Wait() error {
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
		g.Dirty.Store(false)
		g.mu.Unlock()
		err := g.sync()
		g.mu.Lock()
		g.running = false
		g.done = gen
		g.rounds++
		if err != nil {
			g.failLocked(err)
		}
		g.cond.Broadcast()
	}
	return g.err
}

// Fail makes err the sticky failure, as if a round had failed (a write
// that the next round would have had to make durable failed).
func (g *Group) Fail(err error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.failLocked(err)
}

func (g *Group) failLocked(err error) {
	if g.err != nil {
		return
	}
	g.err = err
	if g.OnFail != nil {
		g.OnFail(err)
	}
}

// Err is the sticky failure, nil while the group works.
func (g *Group) Err() error {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.err
}

// Rounds is how many rounds have run (for tests and benchmarks).
func (g *Group) Rounds() uint64 {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.rounds
}

// Waiting is how many callers wait for a running round (for tests).
func (g *Group) Waiting() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.waiting
}
