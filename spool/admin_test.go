package spool

import (
	"errors"
	"slices"
	"testing"
	"time"
)

func TestHoldRelease(t *testing.T) {
	c := newClock()
	s := openTest(t, t.TempDir(), c)
	now := c.Now()
	m := newMsg(StateDeferred, now.Add(time.Minute), "a@example.org", "b@example.org", "c@example.org", "d@example.org")
	m.Recipients[1].State = StateDelayed
	m.Recipients[1].NextAttempt = now.Add(time.Hour)
	m.Recipients[2].State = StateReady
	m.Recipients[2].NextAttempt = now
	m.Recipients[3].State = StateSent
	mustCommit(t, s, m, []byte("body"))
	h, err := s.Hold(m.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got := rcptStates(h); got != "held held held sent" {
		t.Errorf("after Hold: %s", got)
	}
	if _, ok := s.NextDue(); ok {
		t.Error("held message scheduled")
	}
	if got := dueIDs(t, s, now.Add(48*time.Hour), 10); len(got) != 0 {
		t.Errorf("held message due: %v", got)
	}
	wantCounts(t, s, map[State]int{StateHeld: 1, StateSent: 1})
	if _, err := s.Hold(m.ID); err != nil { // holding again is a no-op
		t.Errorf("second Hold: %v", err)
	}
	c.Add(2 * time.Minute)
	r, err := s.Release(m.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got := rcptStates(r); got != "deferred delayed ready sent" {
		t.Errorf("after Release: %s", got)
	}
	if !r.Recipients[0].NextAttempt.Equal(now.Add(time.Minute)) ||
		!r.Recipients[1].NextAttempt.Equal(now.Add(time.Hour)) ||
		!r.Recipients[2].NextAttempt.Equal(now) || r.Recipients[0].HeldFrom != "" {
		t.Errorf("Release times: %+v", r.Recipients)
	}
	if got := dueIDs(t, s, c.Now(), 10); !slices.Equal(got, []string{m.ID}) {
		t.Errorf("released message not due: %v", got)
	}
	_, err = s.Release(m.ID)
	wantErr(t, err, ErrState)
	_, err = s.Hold("NOSUCHID")
	wantErr(t, err, ErrNotFound)
	wantCounts(t, s, map[State]int{StateDeferred: 1, StateDelayed: 1, StateReady: 1, StateSent: 1})
}

// TestHoldAndCancelRefusedWhileSending: a message with a recipient in
// "sending" cannot be held or cancelled (the attempt in flight would make
// the record lie); nothing changes on disk, and the refusal is ErrState.
func TestHoldAndCancelRefusedWhileSending(t *testing.T) {
	c := newClock()
	dir := t.TempDir()
	s := openTest(t, dir, c)
	m := newMsg(StateDelayed, c.Now().Add(time.Hour), "a@example.org", "b@example.org")
	m.Recipients[1].State = StateSending
	mustCommit(t, s, m, []byte("body"))
	for name, act := range map[string]func(string) (*Message, error){"hold": s.Hold, "cancel": s.Cancel} {
		_, err := act(m.ID)
		wantErr(t, err, ErrState)
		if se, ok := errors.AsType[*SendingError](err); !ok || se.Recipient != "b@example.org" {
			t.Errorf("%s: %v, want a SendingError naming b@example.org", name, err)
		}
	}
	s.Close()
	s = openTest(t, dir, c)
	if got := rcptStates(mustGet(t, s, m.ID)); got != "delayed deferred" { // recovery: sending → deferred
		t.Errorf("after the refused actions and a restart: %s", got)
	}
}

func TestCancel(t *testing.T) {
	c := newClock()
	s := openTest(t, t.TempDir(), c)
	m := newMsg(StateDelayed, c.Now().Add(time.Hour), "a@example.org", "b@example.org")
	mustCommit(t, s, m, []byte("oops"))
	if _, err := s.Hold(m.ID); err != nil {
		t.Fatal(err)
	}
	got, err := s.Cancel(m.ID)
	if err != nil {
		t.Fatal(err)
	}
	if rcptStates(got) != "cancelled cancelled" {
		t.Errorf("after Cancel: %s", rcptStates(got))
	}
	_, err = s.Body(m.ID)
	wantErr(t, err, ErrNotFound)
	if rec := mustGet(t, s, m.ID); rcptStates(rec) != "cancelled cancelled" {
		t.Errorf("journal record: %s", rcptStates(rec))
	}
	_, err = s.Cancel(m.ID)
	wantErr(t, err, ErrState)
	_, err = s.Hold(m.ID)
	wantErr(t, err, ErrState)
	_, err = s.RetryNow(m.ID)
	wantErr(t, err, ErrState)
	if _, ok := s.NextDue(); ok {
		t.Error("cancelled message scheduled")
	}
	wantCounts(t, s, map[State]int{StateCancelled: 1})
}

func TestRetry(t *testing.T) {
	c := newClock()
	s := openTest(t, t.TempDir(), c)
	now := c.Now()
	d1 := newMsg(StateDeferred, now.Add(time.Hour), "a@example.org")
	d2 := newMsg(StateDeferred, now.Add(2*time.Hour), "a@example.org", "b@example.org")
	d2.Recipients[1].State = StateDelayed
	delayed := newMsg(StateDelayed, now.Add(time.Hour), "a@example.org")
	held := newMsg(StateHeld, now, "a@example.org")
	for _, m := range []*Message{d1, d2, delayed, held} {
		mustCommit(t, s, m, []byte("body"))
	}
	_, err := s.RetryNow(held.ID)
	wantErr(t, err, ErrState)
	got, err := s.RetryNow(delayed.ID)
	if err != nil || got.Recipients[0].State != StateReady || !got.Recipients[0].NextAttempt.Equal(now) {
		t.Fatalf("RetryNow: %+v %v", got, err)
	}
	n, err := s.RetryAll()
	if err != nil || n != 2 {
		t.Fatalf("RetryAll = %d, %v; want 2", n, err)
	}
	if got := mustGet(t, s, d2.ID); rcptStates(got) != "ready delayed" {
		t.Errorf("RetryAll changed the delayed recipient: %s", rcptStates(got))
	}
	if got := dueIDs(t, s, now, 10); len(got) != 3 {
		t.Errorf("Due after retry = %v, want 3 messages", got)
	}
	wantCounts(t, s, map[State]int{StateReady: 3, StateDelayed: 1, StateHeld: 1})
}

// TestRetryAllMany: RetryAll changes many messages with its workers, counts
// each once, and the change is on disk when it returns.
func TestRetryAllMany(t *testing.T) {
	c := newClock()
	dir := t.TempDir()
	s := openTest(t, dir, c)
	now := c.Now()
	const n = 500
	for i := range n {
		mustCommit(t, s, newMsg(StateDeferred, now.Add(time.Duration(i+1)*time.Minute), "a@example.org"), []byte("body"))
	}
	held := newMsg(StateHeld, now, "b@example.org")
	mustCommit(t, s, held, []byte("body"))
	got, err := s.RetryAll()
	if err != nil || got != n {
		t.Fatalf("RetryAll = %d, %v; want %d", got, err, n)
	}
	wantCounts(t, s, map[State]int{StateReady: n, StateHeld: 1})
	closeTest(t, s)
	s = openTest(t, dir, c)
	wantCounts(t, s, map[State]int{StateReady: n, StateHeld: 1})
	if due := dueIDs(t, s, now, 2*n); len(due) != n {
		t.Errorf("due after reopening: %d messages, want %d", len(due), n)
	}
}
