package spool

import (
	"bytes"
	"fmt"
	"testing"
)

// TestTrimKeepsData: after trimMappings reclaimed the mapped pages of the
// value log, the WAL and the tables, every body and envelope reads back
// intact (Badger faults the pages back in from the files), and the store
// keeps working.
func TestTrimKeepsData(t *testing.T) {
	c := newClock()
	s := openTest(t, t.TempDir(), c)
	var ids []string
	for i := range 300 {
		m := newMsg(StateReady, c.Now(), "a@example.org")
		if err := s.Commit(m, testBody(fmt.Sprint(i), 6000)); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, m.ID)
	}
	if rss := rssFileBytes(); rss <= 0 {
		t.Fatalf("rssFileBytes() = %d, want the process's resident file pages", rss)
	}
	if !trimMappings(s.mapDir) {
		t.Skip("MADV_PAGEOUT not supported by this kernel")
	}
	for i, id := range ids {
		b, err := s.Body(id)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(b, testBody(fmt.Sprint(i), 6000)) {
			t.Fatalf("body %d changed after trimming", i)
		}
		if _, err := s.Get(id); err != nil {
			t.Fatal(err)
		}
	}
	m := newMsg(StateReady, c.Now(), "b@example.org")
	if err := s.Commit(m, testBody("after", 6000)); err != nil {
		t.Fatal(err)
	}
	closeTest(t, s)
}
