package spool

import (
	"fmt"

	"github.com/relayd/relayd/internal/groupsync"
)

// groupSync is group commit (internal/groupsync) on top of Badger with
// SyncWrites=false, and of the body log: a writer calls wait after its
// write; wait returns once an fsync that started after that call has
// finished, so N concurrent commits cost about two fsyncs, not N.
//
// A failed fsync is sticky: every later wait fails too and relay answers
// 452 until relayd is restarted and Badger recovers. OnFail (the Store's
// fail) is told once.
type groupSync struct{ *groupsync.Group }

func newGroupSync(fn func() error) *groupSync { return &groupSync{groupsync.New(fn)} }

// wait blocks until an fsync that started after the call has finished and
// returns its error (or an earlier sticky one), as "spool: fsync: ...".
func (g *groupSync) wait() error {
	if err := g.Wait(); err != nil {
		return fmt.Errorf("spool: fsync: %w", err)
	}
	return nil
}
