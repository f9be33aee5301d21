package attachments

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/relayd/relayd/relay/attachments/attachtest"
)

// TestAttachGroupSyncShares: concurrent Puts share sync rounds, and
// each one's files are on disk with their manifest when it returns.
func TestAttachGroupSyncShares(t *testing.T) {
	s, _, _ := testStore(t, t.TempDir(), &clock{t: time.Date(2026, 11, 24, 9, 0, 0, 0, time.UTC)})
	const n = 40
	msg := []byte(attachtest.Thunderbird(attachtest.Content(100<<10, 21), attachtest.Content(100, 22)))
	parts := Walk(msg).Attachments()
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := s.Put(fmt.Sprintf("msg-%d", i), msg, parts)
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	rounds := s.synced.Rounds()
	if rounds < 1 || rounds > n {
		t.Fatalf("%d sync rounds for %d Puts", rounds, n)
	}
	t.Logf("%d sync rounds for %d concurrent Puts", rounds, n)
	if got := len(s.List("")); got != 2*n {
		t.Fatalf("%d stored attachments, want %d", got, n)
	}
}
