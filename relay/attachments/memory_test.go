package attachments

import (
	"github.com/relayd/relayd/relay/attachments/attachtest"
	"runtime"
	"testing"
	"time"
)

// allocated returns the octets f allocates on the heap.
func allocated(f func()) uint64 {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

// TestStreamingMemory: for a 25 MB message, finding, measuring and storing
// its attachment streams from the message buffer (a few hundred KB of
// buffers, no copy of the part), and the rewrite allocates about the size
// of its result.
func TestStreamingMemory(t *testing.T) {
	c := &clock{t: time.Date(2026, 11, 24, 9, 0, 0, 0, time.UTC)}
	s, err := Open(Options{Dir: t.TempDir(), BaseURL: "http://127.0.0.1:9426", Now: c.Now})
	if err != nil {
		t.Fatal(err)
	}
	msg := []byte(attachtest.Thunderbird(attachtest.Content(18<<20, 21), attachtest.Content(100, 22))) // ~25 MB in base64
	var links map[int]Link
	walkStore := allocated(func() {
		atts := Walk(msg).Attachments()
		for _, a := range atts {
			a.Size(msg)
		}
		if links, err = s.Put("BIG", msg, atts[:1]); err != nil {
			t.Fatal(err)
		}
	})
	if walkStore > 2<<20 {
		t.Errorf("walk, size and store of a %d-octet message allocated %d octets; want < 2 MB", len(msg), walkStore)
	}
	rewrite := allocated(func() {
		if _, err := Rewrite(msg, links); err != nil {
			t.Fatal(err)
		}
	})
	if rewrite > 1<<20 { // the result, without the replaced 25 MB part
		t.Errorf("rewrite of a %d-octet message allocated %d octets; want about the size of the result", len(msg), rewrite)
	}
	t.Logf("message %d octets: walk+size+store allocated %d, rewrite %d", len(msg), walkStore, rewrite)
}
