package spool

import (
	"bytes"
	"fmt"
	"strings"
	"sync"
	"testing"
)

func TestCommitGetBody(t *testing.T) {
	c := newClock()
	s := openTest(t, t.TempDir(), c)
	for _, size := range []int{0, 10, 5 << 10, 30 << 20} {
		t.Run(fmt.Sprint(size), func(t *testing.T) {
			m := newMsg(StateReady, c.Now(), "a@example.org", "b@example.org")
			body := testBody(m.ID, size)[:size]
			mustCommit(t, s, m, body)
			got := mustGet(t, s, m.ID)
			if got.Size != int64(size) || got.Sender != m.Sender || len(got.Recipients) != 2 ||
				got.Recipients[1].Address != "b@example.org" || !got.Created.Equal(m.Created) {
				t.Errorf("Get = %+v, want %+v", got, m)
			}
			b, err := s.Body(m.ID)
			if err != nil || !bytes.Equal(b, body) {
				t.Fatalf("Body: %d bytes, err %v; want %d bytes", len(b), err, size)
			}
			got.Recipients[0].State = StateSent // a copy: must not change the store
			if again := mustGet(t, s, m.ID); again.Recipients[0].State != StateReady {
				t.Errorf("Get returned shared state")
			}
		})
	}
	_, err := s.Get("NOSUCHID")
	wantErr(t, err, ErrNotFound)
	_, err = s.Body("NOSUCHID")
	wantErr(t, err, ErrNotFound)
}

func TestCommitMaxBody(t *testing.T) {
	if testing.Short() {
		t.Skip("64 MiB body")
	}
	c := newClock()
	dir := t.TempDir()
	s := openTest(t, dir, c)
	m := newMsg(StateReady, c.Now(), "a@example.org")
	body := testBody(m.ID, 64<<20)[:64<<20]
	mustCommit(t, s, m, body)
	closeTest(t, s)
	s = openTest(t, dir, c)
	b, err := s.Body(m.ID)
	if err != nil || !bytes.Equal(b, body) {
		t.Fatalf("Body after reopen: %d bytes, err %v", len(b), err)
	}
}

func TestCommitValidation(t *testing.T) {
	c := newClock()
	s := openTest(t, t.TempDir(), c)
	m := newMsg(StateReady, c.Now(), "a@example.org")
	mustCommit(t, s, m, []byte("x"))
	if err := s.Commit(m, []byte("x")); err == nil || !strings.Contains(err.Error(), m.ID) {
		t.Errorf("duplicate Commit: %v", err)
	}
	if err := s.Commit(newMsg(StateReady, c.Now()), nil); err == nil {
		t.Error("Commit without recipients succeeded")
	}
	if err := s.Commit(newMsg("bogus", c.Now(), "a@example.org"), nil); err == nil {
		t.Error("Commit with an unknown state succeeded")
	}
	bad := newMsg(StateReady, c.Now(), "a@example.org")
	bad.ID = "a/b"
	if err := s.Commit(bad, nil); err == nil {
		t.Error("Commit with a bad ID succeeded")
	}
	empty := newMsg(StateReady, c.Now(), "a@example.org")
	empty.ID = ""
	mustCommit(t, s, empty, nil)
	if len(empty.ID) != 17 {
		t.Errorf("Commit assigned ID %q", empty.ID)
	}
	wantCounts(t, s, map[State]int{StateReady: 2})
}

func TestCommitConcurrentReopen(t *testing.T) {
	c := newClock()
	dir := t.TempDir()
	s := openTest(t, dir, c)
	const workers, each = 50, 20
	ids := make(chan string, workers*each)
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for range each {
				m := newMsg(StateReady, c.Now(), "a@example.org")
				if err := s.Commit(m, testBody(m.ID, sizeFor(m.ID))); err != nil {
					t.Error(err)
					return
				}
				ids <- m.ID
			}
		})
	}
	wg.Wait()
	close(ids)
	closeTest(t, s)
	s = openTest(t, dir, c)
	n := 0
	for id := range ids {
		n++
		mustGet(t, s, id)
		b, err := s.Body(id)
		if err != nil || !bytes.Equal(b, testBody(id, sizeFor(id))) {
			t.Fatalf("Body(%s) after reopen: %d bytes, %v", id, len(b), err)
		}
	}
	if n != workers*each {
		t.Fatalf("%d commits, want %d", n, workers*each)
	}
	wantCounts(t, s, map[State]int{StateReady: workers * each})
}

func TestCommitNoSpace(t *testing.T) {
	c := newClock()
	var free uint64 = 1 << 30
	var mu sync.Mutex
	s := openTest(t, t.TempDir(), c, func(o *Options) {
		o.MinFreeBytes = 100 << 20
		o.FreeSpace = func(string) (uint64, error) { mu.Lock(); defer mu.Unlock(); return free, nil }
	})
	first := newMsg(StateReady, c.Now(), "a@example.org")
	mustCommit(t, s, first, []byte("first"))
	mu.Lock()
	free = 100<<20 + 10 // enough for the reserve, not for the body
	mu.Unlock()
	m := newMsg(StateReady, c.Now(), "a@example.org")
	wantErr(t, s.Commit(m, make([]byte, 11)), ErrNoSpace)
	_, err := s.Get(m.ID)
	wantErr(t, err, ErrNotFound)
	_, err = s.Body(m.ID)
	wantErr(t, err, ErrNotFound)
	if b, err := s.Body(first.ID); err != nil || string(b) != "first" {
		t.Errorf("earlier message: %q, %v", b, err)
	}
	wantCounts(t, s, map[State]int{StateReady: 1})
	if got := dueIDs(t, s, c.Now(), 10); len(got) != 1 || got[0] != first.ID {
		t.Errorf("Due = %v, want only %s", got, first.ID)
	}
}

func TestOpenTwice(t *testing.T) {
	dir := t.TempDir()
	s := openTest(t, dir, newClock())
	s2, err := Open(Options{Dir: dir})
	if err == nil {
		s2.Close()
		t.Fatal("second Open succeeded")
	}
	if !strings.Contains(err.Error(), dir) {
		t.Errorf("error %q does not name %s", err, dir)
	}
	closeTest(t, s)
	wantErr(t, s.Commit(newMsg(StateReady, newClock().Now(), "a@example.org"), nil), ErrClosed)
	if err := s.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

func TestOpenBadOptions(t *testing.T) {
	if _, err := Open(Options{}); err == nil {
		t.Error("Open without Dir succeeded")
	}
	if _, err := Open(Options{Dir: t.TempDir(), EncryptionKey: []byte("short")}); err == nil {
		t.Error("Open with a 5-byte key succeeded")
	}
}

func TestEncryption(t *testing.T) {
	c := newClock()
	dir := t.TempDir()
	key := bytes.Repeat([]byte{7}, 32)
	s := openTest(t, dir, c, func(o *Options) { o.EncryptionKey = key })
	m := newMsg(StateReady, c.Now(), "a@example.org")
	body := testBody(m.ID, 20000)
	mustCommit(t, s, m, body)
	closeTest(t, s)
	if _, err := Open(Options{Dir: dir}); err == nil {
		t.Fatal("Open of an encrypted spool without the key succeeded")
	}
	s = openTest(t, dir, c, func(o *Options) { o.EncryptionKey = key })
	if b, err := s.Body(m.ID); err != nil || !bytes.Equal(b, body) {
		t.Fatalf("Body: %v", err)
	}
}

func TestNewID(t *testing.T) {
	seen := map[string]bool{}
	prev := ""
	for range 10000 {
		id := NewID()
		if len(id) != 17 || checkID(id) != nil || strings.ToUpper(id) != id {
			t.Fatalf("bad ID %q", id)
		}
		if seen[id] || id <= prev {
			t.Fatalf("ID %q repeated or not increasing after %q", id, prev)
		}
		seen[id], prev = true, id
	}
}

func TestBytes(t *testing.T) {
	c := newClock()
	s := openTest(t, t.TempDir(), c)
	before := s.Bytes()
	m := newMsg(StateReady, c.Now(), "a@example.org")
	mustCommit(t, s, m, make([]byte, 1<<20))
	if after := s.Bytes(); after < before+1<<20 {
		t.Errorf("Bytes %d -> %d after a 1 MiB body", before, after)
	}
}
