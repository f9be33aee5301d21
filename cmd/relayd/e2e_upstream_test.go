package main

import (
	"testing"
	"time"
)

// The chaos test's "upstream down" can come right after "upstream up": the
// helper's stop must return then too. go-smtp's Server.Close closes only
// the listeners Serve has registered, so a Close before the serving
// goroutine got there left Serve accepting forever and stop waiting for it
// (TestE2EChaos hung for its whole 10 minutes).
func TestUpstreamStopRightAfterStart(t *testing.T) {
	pki := newPKI(t, t.TempDir())
	u := newUpstream(t, pki)
	for i := range 200 {
		u.start()
		stopped := make(chan struct{})
		go func() {
			defer close(stopped)
			u.stop()
		}()
		select {
		case <-stopped:
		case <-time.After(10 * time.Second):
			t.Fatalf("round %d: upstream stop did not return within 10 s", i)
		}
	}
}
