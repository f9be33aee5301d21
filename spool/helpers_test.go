package spool

import (
	"bytes"
	"errors"
	"fmt"
	"hash/fnv"
	"sync"
	"testing"
	"time"
)

// testClock is an injectable clock that tests move by hand.
type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *testClock {
	return &testClock{t: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
}

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *testClock) Add(d time.Duration) time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
	return c.t
}

// openTest opens a store on dir with the clock c; mods adjust the options.
func openTest(t *testing.T, dir string, c *testClock, mods ...func(*Options)) *Store {
	t.Helper()
	opts := Options{Dir: dir, Now: c.Now}
	for _, m := range mods {
		m(&opts)
	}
	s, err := Open(opts)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// closeTest closes s and checks that no background goroutine panicked.
func closeTest(t *testing.T, s *Store) {
	t.Helper()
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if n := s.panics.Load(); n != 0 {
		t.Fatalf("%d panics recovered", n)
	}
}

// newMsg returns a message with one recipient per address, all in state st
// and due at due.
func newMsg(st State, due time.Time, addrs ...string) *Message {
	m := &Message{ID: NewID(), Created: due, Sender: "app@example.com", Team: "sales", Listener: "local"}
	for _, a := range addrs {
		m.Recipients = append(m.Recipients, Recipient{Address: a, Profile: "office365",
			Rule: "system default", State: st, NextAttempt: due, Updated: due})
	}
	return m
}

// testBody is a deterministic body for id of about n bytes.
func testBody(id string, n int) []byte {
	line := []byte("Subject: " + id + "\r\n")
	return bytes.Repeat(line, n/len(line)+1)
}

// sizeFor picks a body size from the ID so that a test mixes small bodies
// (in the LSM) and large ones (in the value log).
func sizeFor(id string) int {
	h := fnv.New32a()
	h.Write([]byte(id))
	return []int{100, 3000, 5000, 40000, 120000}[h.Sum32()%5]
}

func mustCommit(t *testing.T, s *Store, m *Message, body []byte) {
	t.Helper()
	if err := s.Commit(m, body); err != nil {
		t.Fatalf("Commit: %v", err)
	}
}

func mustGet(t *testing.T, s *Store, id string) *Message {
	t.Helper()
	m, err := s.Get(id)
	if err != nil {
		t.Fatalf("Get(%s): %v", id, err)
	}
	return m
}

// wantCounts checks Counts against want; states not in want must be 0.
func wantCounts(t *testing.T, s *Store, want map[State]int) {
	t.Helper()
	got := s.Counts()
	for _, st := range allStates {
		if got[st] != want[st] {
			t.Errorf("Counts()[%s] = %d, want %d (all: %v)", st, got[st], want[st], got)
		}
	}
}

// dueIDs returns the IDs Due returns at now.
func dueIDs(t *testing.T, s *Store, now time.Time, limit int) []string {
	t.Helper()
	msgs, err := s.Due(now, limit)
	if err != nil {
		t.Fatalf("Due: %v", err)
	}
	ids := make([]string, len(msgs))
	for i, m := range msgs {
		ids[i] = m.ID
	}
	return ids
}

func wantErr(t *testing.T, err, target error) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Fatalf("error = %v, want %v", err, target)
	}
}

func rcptStates(m *Message) string {
	var b bytes.Buffer
	for i, r := range m.Recipients {
		if i > 0 {
			b.WriteByte(' ')
		}
		fmt.Fprintf(&b, "%s", r.State)
	}
	return b.String()
}
