package spool

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/dgraph-io/badger/v4"
)

// crashClose closes s the way a crash leaves it for the next Open: no
// checkpoint is written (Badger's writes are kept; tests remove what a
// power cut would have lost themselves).
func crashClose(t *testing.T, s *Store) {
	t.Helper()
	s.closeMu.Lock()
	defer s.closeMu.Unlock()
	s.closed = true
	close(s.stop)
	s.wg.Wait()
	if err := s.db.Close(); err != nil {
		t.Fatal(err)
	}
	s.files.close()
	s.blog.close()
}

// logRefOf returns the body log reference of message id.
func logRefOf(t *testing.T, s *Store, id string) (logRef, bool) {
	t.Helper()
	var ref logRef
	found := false
	err := s.db.View(func(txn *badger.Txn) error {
		item, err := txn.Get(logRefKey(id))
		if errors.Is(err, badger.ErrKeyNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		found = true
		return item.Value(func(v []byte) error {
			ref, err = decodeLogRef(v)
			return err
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	return ref, found
}

// forget deletes the Badger keys of message id, as a power cut that lost
// Badger's unsynced writes would.
func forget(t *testing.T, s *Store, id string) {
	t.Helper()
	if err := s.deleteKeys(activeKey(id), logRefKey(id)); err != nil {
		t.Fatal(err)
	}
	s.ix.forget(id)
}

// finish marks every recipient of id sent.
func finish(t *testing.T, s *Store, id string) {
	t.Helper()
	_, err := s.Update(id, func(m *Message) error {
		for i := range m.Recipients {
			m.Recipients[i].State = StateSent
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestBodyLogCommit(t *testing.T) {
	c := newClock()
	s := openTest(t, t.TempDir(), c)
	m := newMsg(StateReady, c.Now(), "a@example.org")
	body := testBody(m.ID, 5000)
	mustCommit(t, s, m, body)
	if _, ok := logRefOf(t, s, m.ID); !ok {
		t.Fatal("a 5 KB body is not in the body log")
	}
	if got, err := s.Body(m.ID); err != nil || !bytes.Equal(got, body) {
		t.Fatalf("Body: %v", err)
	}
	if n := s.logSync.Rounds(); n == 0 {
		t.Error("the commit did not wait for the body log's fdatasync")
	}
	finish(t, s, m.ID)
	if _, ok := logRefOf(t, s, m.ID); ok {
		t.Error("the body log reference outlived the last final recipient")
	}
	if _, err := s.Body(m.ID); !errors.Is(err, ErrNotFound) {
		t.Errorf("Body after sent: %v, want ErrNotFound", err)
	}
}

// TestBodyLogReplay: messages whose Badger writes were lost (a power cut
// before Badger's background fsync) come back from the log records after
// the checkpoint; a record marked dead (a failed commit) does not.
func TestBodyLogReplay(t *testing.T) {
	dir := t.TempDir()
	c := newClock()
	s := openTest(t, dir, c)
	var ids []string
	for i := range 20 {
		m := newMsg(StateReady, c.Now(), "a@example.org", "b@example.org")
		mustCommit(t, s, m, testBody(m.ID, 1000+i*3000))
		ids = append(ids, m.ID)
	}
	first, _ := logRefOf(t, s, ids[10])
	dead, _ := logRefOf(t, s, ids[19])
	for _, id := range ids[10:] {
		forget(t, s, id)
	}
	s.blog.kill(dead)
	s.tickMu.Lock() // no background checkpoint past the lost messages
	if err := s.writeCheckpoint(first.pos()); err != nil {
		t.Fatal(err)
	}
	s.tickMu.Unlock()
	crashClose(t, s)

	s = openTest(t, dir, c)
	for i, id := range ids {
		if i == 19 {
			if _, err := s.Get(id); !errors.Is(err, ErrNotFound) {
				t.Errorf("the dead record of %s was replayed: %v", id, err)
			}
			continue
		}
		mustGet(t, s, id)
		if got, err := s.Body(id); err != nil || !bytes.Equal(got, testBody(id, 1000+i*3000)) {
			t.Errorf("message %d (%s) after replay: %v", i, id, err)
		}
	}
	if got := dueCount(t, s, c.Now()); got != 19 {
		t.Errorf("%d messages due after replay, want 19", got)
	}
	closeTest(t, s)
	s = openTest(t, dir, c) // replay is not repeated: the checkpoint moved
	if got := dueCount(t, s, c.Now()); got != 19 {
		t.Errorf("%d messages due after a second Open, want 19", got)
	}
}

// TestBodyLogDanglingRef: a reference whose record never reached the log
// (Badger's write was durable, the log's was not, so no 250 was sent) is
// a commit that never finished: Open removes its message.
func TestBodyLogDanglingRef(t *testing.T) {
	dir := t.TempDir()
	c := newClock()
	s := openTest(t, dir, c)
	keep := newMsg(StateReady, c.Now(), "a@example.org")
	mustCommit(t, s, keep, testBody(keep.ID, 5000))
	ref, _ := logRefOf(t, s, keep.ID)
	ghost := newMsg(StateReady, c.Now(), "b@example.org")
	enc, err := encodeMessage(ghost)
	if err != nil {
		t.Fatal(err)
	}
	lost := logRef{slot: ref.slot, seq: ref.seq, off: ref.off + uint32(pageAlign(int(ref.size))), size: 6000}
	err = s.db.Update(func(txn *badger.Txn) error {
		_, err := writeMessage(txn, nil, ghost, enc, nil, lost.encode())
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	closeTest(t, s)

	s = openTest(t, dir, c)
	if _, err := s.Get(ghost.ID); !errors.Is(err, ErrNotFound) {
		t.Errorf("message with a dangling body reference: %v, want ErrNotFound", err)
	}
	if got, err := s.Body(keep.ID); err != nil || !bytes.Equal(got, testBody(keep.ID, 5000)) {
		t.Errorf("Body(%s): %v", keep.ID, err)
	}
}

// segmentFiles counts the body log's segment files.
func segmentFiles(t *testing.T, dir string) int {
	t.Helper()
	m, err := filepath.Glob(filepath.Join(dir, logDirName, segPrefix+"*"))
	if err != nil {
		t.Fatal(err)
	}
	return len(m)
}

// TestBodyLogReuse: segments whose messages are all final are reused, so
// the log does not grow with the traffic, only with what is queued.
func TestBodyLogReuse(t *testing.T) {
	dir := t.TempDir()
	c := newClock()
	s := openTest(t, dir, c)
	const size = 100 << 10
	perSeg := segSize / size
	for round := range 4 {
		for range perSeg {
			m := newMsg(StateReady, c.Now(), "a@example.org")
			mustCommit(t, s, m, testBody(m.ID, size))
			finish(t, s, m.ID)
		}
		for range 3 { // the checkpoint passes the segments, then is durable
			s.tick()
		}
		if n := segmentFiles(t, dir); n > 3 {
			t.Fatalf("round %d: %d segment files for one segment of traffic at a time", round, n)
		}
	}

	// A backlog of 5 segments, then the first one's messages stay queued
	// while the rest is delivered: the drained segments' files go, but
	// keepFreeSegments, and the one still in use stays.
	var backlog []string
	for range 5 * perSeg {
		m := newMsg(StateReady, c.Now(), "a@example.org")
		mustCommit(t, s, m, testBody(m.ID, size))
		backlog = append(backlog, m.ID)
	}
	if n := segmentFiles(t, dir); n < 5 {
		t.Fatalf("%d segment files for 5 segments of queued messages", n)
	}
	for _, id := range backlog[perSeg:] {
		finish(t, s, id)
	}
	s.tick()
	c.Add(relocateQuiet) // the few bodies left in the boundary segment move out
	for range 4 {
		s.tick()
	}
	if n := segmentFiles(t, dir); n > 2+keepFreeSegments {
		t.Errorf("%d segment files after the backlog drained, want at most %d", n, 2+keepFreeSegments)
	}
	closeTest(t, s)
	spare := filepath.Join(dir, logDirName, spareName) // as a crash in addSpare leaves it
	if err := os.WriteFile(spare, make([]byte, 4096), 0o600); err != nil {
		t.Fatal(err)
	}
	s = openTest(t, dir, c) // slots may have gaps now
	if _, err := os.Stat(spare); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("an interrupted spare segment outlived Open: %v", err)
	}
	for _, id := range backlog[:perSeg] {
		if got, err := s.Body(id); err != nil || !bytes.Equal(got, testBody(id, size)) {
			t.Fatalf("Body(%s) after the drain and a reopen: %v", id, err)
		}
	}
	m := newMsg(StateReady, c.Now(), "a@example.org")
	mustCommit(t, s, m, testBody(m.ID, 5000))
	closeTest(t, s)
}

// TestBodyLogRelocate: the few live bodies of a mostly finished segment
// move into Badger once they have stayed unchanged for relocateQuiet, and
// the segment is reused. While its bodies are still being released (a
// drain), the segment is left alone.
func TestBodyLogRelocate(t *testing.T) {
	dir := t.TempDir()
	c := newClock()
	s := openTest(t, dir, c)
	const size = 100 << 10
	var keep []string
	for i := range segSize/size + 10 { // fill the first segment and start the next
		m := newMsg(StateReady, c.Now(), "a@example.org")
		mustCommit(t, s, m, testBody(m.ID, size))
		if i%50 == 7 {
			keep = append(keep, m.ID)
		} else {
			finish(t, s, m.ID)
		}
	}
	first, _ := logRefOf(t, s, keep[0])
	inFirst := func() int {
		n := 0
		for _, id := range keep {
			if ref, ok := logRefOf(t, s, id); ok && ref.slot == first.slot {
				n++
			}
		}
		return n
	}
	// A drain: a kept message finishes 40 s in; 80 s pass, never a quiet
	// minute, and nothing is moved.
	drained := keep[1]
	keep = append(keep[:1], keep[2:]...)
	if ref, _ := logRefOf(t, s, drained); ref.slot != first.slot {
		t.Fatalf("%s is not in the first segment", drained)
	}
	before := inFirst()
	for i := range 8 {
		s.tick()
		if i == 4 {
			finish(t, s, drained)
		}
		c.Add(10 * time.Second)
	}
	if n := inFirst(); n != before || n == 0 {
		t.Fatalf("%d bodies in the segment after it was drained for a while, want the %d it had", n, before)
	}
	// Quiet for relocateQuiet: the bodies move.
	c.Add(relocateQuiet)
	for range 4 {
		s.tick()
	}
	for _, id := range keep {
		if ref, ok := logRefOf(t, s, id); ok && ref.slot == first.slot {
			t.Fatalf("%s still in the body log segment that is mostly finished", id)
		}
		if got, err := s.Body(id); err != nil || !bytes.Equal(got, testBody(id, size)) {
			t.Fatalf("Body(%s) after relocation: %v", id, err)
		}
	}
	s.blog.mu.Lock()
	free := s.blog.segs[first.slot].free
	s.blog.mu.Unlock()
	if !free {
		t.Error("the segment is not free after its bodies moved out")
	}
	closeTest(t, s)
	s = openTest(t, dir, c)
	for _, id := range keep {
		if got, err := s.Body(id); err != nil || !bytes.Equal(got, testBody(id, size)) {
			t.Fatalf("Body(%s) after reopening: %v", id, err)
		}
	}
}

// TestBodyLogLargeBody: a body larger than a segment goes to Badger.
func TestBodyLogLargeBody(t *testing.T) {
	c := newClock()
	s := openTest(t, t.TempDir(), c)
	m := newMsg(StateReady, c.Now(), "a@example.org")
	body := testBody(m.ID, segSize+1)
	mustCommit(t, s, m, body)
	if _, ok := logRefOf(t, s, m.ID); ok {
		t.Error("a body larger than a segment is in the body log")
	}
	if got, err := s.Body(m.ID); err != nil || !bytes.Equal(got, body) {
		t.Fatalf("Body: %v", err)
	}
}

// TestBodyLogEncrypted: an encrypted spool keeps bodies in Badger only.
func TestBodyLogEncrypted(t *testing.T) {
	dir := t.TempDir()
	c := newClock()
	s := openTest(t, dir, c, func(o *Options) { o.EncryptionKey = bytes.Repeat([]byte{7}, 32) })
	m := newMsg(StateReady, c.Now(), "a@example.org")
	mustCommit(t, s, m, testBody(m.ID, 5000))
	if s.blog != nil {
		t.Fatal("body log in use with encryption")
	}
	if _, err := os.Stat(filepath.Join(dir, logDirName)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("encrypted spool has a body log directory: %v", err)
	}
}

// TestBodyLogFailedSync: an fdatasync failure fails the commit (452 in
// relay), removes the message and fails later commits too.
func TestBodyLogFailedSync(t *testing.T) {
	c := newClock()
	s := openTest(t, t.TempDir(), c)
	s.blog.fdatasync = func(*os.File) error { return errors.New("EIO") }
	m := newMsg(StateReady, c.Now(), "a@example.org")
	if err := s.Commit(m, testBody(m.ID, 5000)); err == nil {
		t.Fatal("commit succeeded although the body log fdatasync failed")
	}
	if _, err := s.Get(m.ID); !errors.Is(err, ErrNotFound) {
		t.Errorf("failed commit left the message: %v", err)
	}
	m2 := newMsg(StateReady, c.Now(), "a@example.org")
	if err := s.Commit(m2, testBody(m2.ID, 5000)); err == nil {
		t.Error("a commit after an fdatasync failure succeeded")
	}
	s.blog.fdatasync = fdatasync
}

func TestBodyLogRecordRoundTrip(t *testing.T) {
	rec := buildRecord("ABC123", []byte("envelope"), []byte("body\r\n"))
	crc := crc32Payload(rec)
	sealRecord(rec, 42, crc)
	got, err := parseRecord(rec, 42)
	if err != nil || got.id != "ABC123" || string(got.env) != "envelope" || string(got.body) != "body\r\n" || got.dead {
		t.Fatalf("parseRecord = %+v, %v", got, err)
	}
	if _, err := parseRecord(rec, 43); err == nil {
		t.Error("record accepted under another segment sequence number")
	}
	rec[len(rec)-1] ^= 1
	if _, err := parseRecord(rec, 42); !errors.Is(err, ErrCorrupt) {
		t.Errorf("flipped bit: %v, want ErrCorrupt", err)
	}
}

func FuzzParseRecord(f *testing.F) {
	rec := buildRecord("ABC123", []byte("envelope"), []byte("body\r\n"))
	sealRecord(rec, 7, crc32Payload(rec))
	f.Add(rec, uint64(7))
	f.Add(rec[:recHeaderLen], uint64(7))
	f.Add([]byte{}, uint64(0))
	f.Fuzz(func(t *testing.T, b []byte, seq uint64) {
		r, err := parseRecord(b, seq)
		if err != nil {
			return
		}
		if r.size > len(b) || len(r.id) == 0 || len(r.id) > maxIDLen {
			t.Fatalf("parsed record out of bounds: %+v of %d bytes", r, len(b))
		}
		again := buildRecord(r.id, r.env, r.body)
		sealRecord(again, seq, crc32Payload(again))
		if !bytes.Equal(again[12:], b[12:r.size]) {
			t.Fatalf("parsed record does not rebuild to its input")
		}
	})
}

// TestBodyLogCrashTick: the background goroutine keeps running ticks while
// commits go on; a commit answered is readable after every tick.
func TestBodyLogCommitsAcrossTicks(t *testing.T) {
	c := newClock()
	s := openTest(t, t.TempDir(), c)
	deadline := time.Now().Add(5 * time.Second)
	for i := 0; i < 300 && time.Now().Before(deadline); i++ {
		m := newMsg(StateReady, c.Now(), "a@example.org")
		mustCommit(t, s, m, testBody(m.ID, 60<<10))
		if i%3 == 0 {
			finish(t, s, m.ID)
		} else if got, err := s.Body(m.ID); err != nil || !bytes.Equal(got, testBody(m.ID, 60<<10)) {
			t.Fatalf("Body(%s): %v", m.ID, err)
		}
		s.tick()
	}
}

func dueCount(t *testing.T, s *Store, now time.Time) int {
	t.Helper()
	due, err := s.Due(now, 100)
	if err != nil {
		t.Fatal(err)
	}
	return len(due)
}

// TestFillRecordReusedBuffer: a record built in a reused buffer (append's
// pool) is the record built in a new one, zero padding included, whatever
// the buffer held before.
func TestFillRecordReusedBuffer(t *testing.T) {
	buf := make([]byte, 64<<10)
	for _, tt := range []struct {
		id        string
		env, body []byte
	}{
		{"LONGER-ID-0001", bytes.Repeat([]byte("e"), 900), bytes.Repeat([]byte("b"), 60000)},
		{"ID2", []byte("env"), []byte("short\r\n")},
		{"ID3", bytes.Repeat([]byte("e"), 100), bytes.Repeat([]byte("x"), 4096-recHeaderLen-103)}, // exactly a page
	} {
		for i := range buf {
			buf[i] = 0xA5
		}
		want := buildRecord(tt.id, tt.env, tt.body)
		padded := pageAlign(len(want))
		got := fillRecord(buf[:padded], tt.id, tt.env, tt.body)
		if !bytes.Equal(got, want) || !bytes.Equal(got[:padded], want[:padded]) {
			t.Errorf("%s: record in a reused buffer differs from a new one", tt.id)
		}
	}
}

// TestWithdraw: a committed message that is withdrawn is gone at once
// (Get, the schedule) and stays gone after a crash: its body log record
// is dead, so the replay at Open (which restores the records after the
// checkpoint that Badger lacks) does not bring it back.
func TestWithdraw(t *testing.T) {
	c := newClock()
	dir := t.TempDir()
	s := openTest(t, dir, c)
	kept := newMsg(StateReady, c.Now(), "a@example.org")
	gone := newMsg(StateReady, c.Now(), "b@example.org")
	mustCommit(t, s, kept, testBody(kept.ID, 5<<10))
	mustCommit(t, s, gone, testBody(gone.ID, 5<<10))
	if _, ok := logRefOf(t, s, gone.ID); !ok {
		t.Fatal("the message's body is not in the body log")
	}
	if err := s.Withdraw(gone.ID); err != nil {
		t.Fatal(err)
	}
	_, err := s.Get(gone.ID)
	wantErr(t, err, ErrNotFound)
	if ids := dueIDs(t, s, c.Now(), 10); len(ids) != 1 || ids[0] != kept.ID {
		t.Errorf("due after Withdraw: %v, want only %s", ids, kept.ID)
	}
	wantErr(t, s.Withdraw("NOSUCHID"), ErrNotFound)
	crashClose(t, s)
	s = openTest(t, dir, c)
	_, err = s.Get(gone.ID)
	wantErr(t, err, ErrNotFound)
	mustGet(t, s, kept.ID)
	wantCounts(t, s, map[State]int{StateReady: 1})
}
