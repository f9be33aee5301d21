package spool

import (
	"slices"
	"testing"

	"github.com/dgraph-io/badger/v4"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// writeRaw puts value under key with a raw Badger handle on a closed spool.
func writeRaw(t *testing.T, dir string, key, value []byte) {
	t.Helper()
	db, err := badger.Open(badger.DefaultOptions(dir).WithLogger(nil).
		WithValueLogFileSize(valueLogFileSize).WithMemTableSize(memTableSize))
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Update(func(txn *badger.Txn) error { return txn.Set(key, value) }); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestCorruptEnvelope(t *testing.T) {
	c := newClock()
	dir := t.TempDir()
	s := openTest(t, dir, c)
	now := c.Now()
	var ids []string
	for range 4 {
		m := newMsg(StateReady, now, "a@example.org")
		mustCommit(t, s, m, []byte("body"))
		ids = append(ids, m.ID)
	}
	closeTest(t, s)
	writeRaw(t, dir, activeKey(ids[0]), []byte("\x00garbage{"))

	reg := prometheus.NewRegistry()
	s = openTest(t, dir, c, func(o *Options) { o.Registerer = reg })
	if s.Corrupt() != 1 {
		t.Errorf("Corrupt() after Open = %d, want 1", s.Corrupt())
	}
	if got := dueIDs(t, s, now, 10); !slices.Equal(got, ids[1:]) {
		t.Errorf("Due = %v, want %v", got, ids[1:])
	}
	wantCounts(t, s, map[State]int{StateReady: 3})

	// Corrupted while running: valid JSON under the wrong key, and garbage.
	err := s.db.Update(func(txn *badger.Txn) error {
		if err := txn.Set(activeKey(ids[1]), []byte(`{"id":"OTHER","recipients":[{"state":"ready"}]}`)); err != nil {
			return err
		}
		return txn.Set(activeKey(ids[2]), []byte(`{"id":`))
	})
	if err != nil {
		t.Fatal(err)
	}
	if got := dueIDs(t, s, now, 1); !slices.Equal(got, ids[3:]) {
		t.Errorf("Due(limit 1) = %v, want %v: corrupt records must not block it", got, ids[3:])
	}
	if s.Corrupt() != 3 {
		t.Errorf("Corrupt() = %d, want 3", s.Corrupt())
	}
	var listed []string
	if err := s.List("", func(m *Message) bool { listed = append(listed, m.ID); return true }); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(listed, ids[3:]) {
		t.Errorf("List = %v, want %v", listed, ids[3:])
	}
	_, err = s.Get(ids[2])
	wantErr(t, err, ErrCorrupt)
	_, err = s.Update(ids[2], func(*Message) error { return nil })
	wantErr(t, err, ErrCorrupt)
	if n := testutil.ToFloat64(s.metrics.corrupt); n != 3 {
		t.Errorf("relayd_spool_corrupt_records_total = %v, want 3 (each record once)", n)
	}
	wantCounts(t, s, map[State]int{StateReady: 1})
	// New mail still flows.
	m := newMsg(StateReady, now, "a@example.org")
	mustCommit(t, s, m, []byte("body"))
	if got := dueIDs(t, s, now, 10); !slices.Equal(got, []string{ids[3], m.ID}) {
		t.Errorf("Due after new commit = %v", got)
	}
}
