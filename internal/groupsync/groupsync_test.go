package groupsync

import (
	"errors"
	"runtime"
	"sync"
	"testing"
)

// TestGroupShares: while one round runs, every caller that arrives waits
// for the next one: 1 + 8 concurrent callers cost two rounds. A failure is
// sticky and reported once to OnFail.
func TestGroupShares(t *testing.T) {
	release := make(chan struct{})
	entered := make(chan struct{}, 10)
	var mu sync.Mutex
	calls := 0
	g := New(func() error {
		mu.Lock()
		calls++
		mu.Unlock()
		entered <- struct{}{}
		<-release
		return nil
	})
	var wg sync.WaitGroup
	wg.Go(func() { g.Wait() }) // the leader, blocked in its round
	<-entered
	const followers = 8
	for range followers {
		wg.Go(func() { g.Wait() })
	}
	for g.Waiting() != followers { // all followers wait for the next round
		runtime.Gosched()
	}
	close(release)
	wg.Wait()
	if calls != 2 || g.Rounds() != 2 {
		t.Errorf("%d rounds (%d counted) for 1 + %d concurrent callers, want 2", calls, g.Rounds(), followers)
	}

	eio := errors.New("EIO")
	var told []error
	g2 := New(func() error { return eio })
	g2.OnFail = func(err error) { told = append(told, err) }
	first, second := g2.Wait(), g2.Wait()
	if first != eio || second != eio || len(told) != 1 || g2.Rounds() != 1 {
		t.Errorf("a failed round: %v, then %v (%d rounds), OnFail told %v; want EIO twice after one round, told once",
			first, second, g2.Rounds(), told)
	}
	g3 := New(func() error { return nil })
	g3.Fail(eio)
	if err := g3.Wait(); err != eio || g3.Rounds() != 0 {
		t.Errorf("after Fail: Wait %v after %d rounds, want EIO and no round", err, g3.Rounds())
	}
}
