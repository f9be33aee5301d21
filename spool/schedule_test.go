package spool

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/dgraph-io/badger/v4"
)

func TestDueOrderAndLimit(t *testing.T) {
	c := newClock()
	s := openTest(t, t.TempDir(), c)
	now := c.Now()
	// Committed out of due order; one has two recipients, the earlier one due later.
	late := newMsg(StateDeferred, now.Add(-time.Minute), "a@example.org")
	early := newMsg(StateReady, now.Add(-time.Hour), "a@example.org")
	mixed := newMsg(StateDeferred, now.Add(time.Hour), "a@example.org", "b@example.org")
	mixed.Recipients[1].NextAttempt = now.Add(-30 * time.Minute)
	future := newMsg(StateDeferred, now.Add(time.Hour), "a@example.org")
	for _, m := range []*Message{late, early, mixed, future} {
		mustCommit(t, s, m, []byte("body"))
	}
	if got, want := dueIDs(t, s, now, 10), []string{early.ID, mixed.ID, late.ID}; !slices.Equal(got, want) {
		t.Errorf("Due = %v, want %v", got, want)
	}
	if got, want := dueIDs(t, s, now, 2), []string{early.ID, mixed.ID}; !slices.Equal(got, want) {
		t.Errorf("Due limit 2 = %v, want %v", got, want)
	}
	// Due does not consume: asking again gives the same.
	if got := dueIDs(t, s, now, 1); !slices.Equal(got, []string{early.ID}) {
		t.Errorf("Due again = %v", got)
	}
	if got := dueIDs(t, s, now.Add(2*time.Hour), 10); len(got) != 4 {
		t.Errorf("Due later = %v, want all 4", got)
	}
}

func TestNextDueAndLease(t *testing.T) {
	c := newClock()
	s := openTest(t, t.TempDir(), c)
	if _, ok := s.NextDue(); ok {
		t.Fatal("NextDue on an empty spool")
	}
	now := c.Now()
	m := newMsg(StateDelayed, now.Add(5*time.Minute), "a@example.org") // send_delay
	mustCommit(t, s, m, []byte("body"))
	if next, ok := s.NextDue(); !ok || !next.Equal(now.Add(5*time.Minute)) {
		t.Errorf("NextDue = %v %v, want the end of the delay", next, ok)
	}
	if got := dueIDs(t, s, now, 10); len(got) != 0 {
		t.Errorf("delayed message due early: %v", got)
	}
	now = c.Add(5 * time.Minute)
	if got := dueIDs(t, s, now, 10); !slices.Equal(got, []string{m.ID}) {
		t.Fatalf("Due at the end of the delay = %v", got)
	}
	// Lease it: not due until the lease expires.
	lease := now.Add(10 * time.Minute)
	_, err := s.Update(m.ID, func(m *Message) error {
		r := &m.Recipients[0]
		r.State, r.NextAttempt, r.Attempts, r.Updated = StateSending, lease, r.Attempts+1, now
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if got := dueIDs(t, s, now, 10); len(got) != 0 {
		t.Errorf("leased message due: %v", got)
	}
	if next, ok := s.NextDue(); !ok || !next.Equal(lease) {
		t.Errorf("NextDue = %v, want the lease expiry %v", next, lease)
	}
	if got := dueIDs(t, s, lease, 10); !slices.Equal(got, []string{m.ID}) {
		t.Errorf("expired lease not due: %v", got)
	}
	wantCounts(t, s, map[State]int{StateSending: 1})
	// Delivered: the body goes, the record stays, nothing is scheduled.
	sent, err := s.Update(m.ID, func(m *Message) error {
		m.Recipients[0].State, m.Recipients[0].Updated = StateSent, now
		return nil
	})
	if err != nil || sent.Recipients[0].State != StateSent {
		t.Fatalf("Update to sent: %v %v", sent, err)
	}
	if _, ok := s.NextDue(); ok {
		t.Error("NextDue after the last recipient was sent")
	}
	_, err = s.Body(m.ID)
	wantErr(t, err, ErrNotFound)
	if got := mustGet(t, s, m.ID); got.Recipients[0].State != StateSent {
		t.Errorf("journal record: %+v", got)
	}
	wantCounts(t, s, map[State]int{StateSent: 1})
	if age := s.OldestAge(now); age != 0 {
		t.Errorf("OldestAge with only final messages = %v", age)
	}
}

func TestUpdateFnError(t *testing.T) {
	c := newClock()
	s := openTest(t, t.TempDir(), c)
	m := newMsg(StateReady, c.Now(), "a@example.org")
	mustCommit(t, s, m, []byte("body"))
	boom := errors.New("boom")
	_, err := s.Update(m.ID, func(m *Message) error {
		m.Recipients[0].State = StateSent
		return boom
	})
	if err != boom {
		t.Fatalf("Update error = %v, want the callback's", err)
	}
	if got := mustGet(t, s, m.ID); got.Recipients[0].State != StateReady {
		t.Errorf("failed Update wrote %s", got.Recipients[0].State)
	}
	if _, err := s.Update(m.ID, func(m *Message) error { m.ID = "OTHER"; return nil }); err == nil {
		t.Error("Update changed the ID")
	}
	_, err = s.Update("NOSUCHID", func(*Message) error { return nil })
	wantErr(t, err, ErrNotFound)
	wantCounts(t, s, map[State]int{StateReady: 1})
}

func TestPurgeJournal(t *testing.T) {
	c := newClock()
	dir := t.TempDir()
	s := openTest(t, dir, c)
	start := c.Now()
	final := func(st State) *Message {
		m := newMsg(StateReady, c.Now(), "a@example.org")
		mustCommit(t, s, m, []byte("body"))
		if _, err := s.Update(m.ID, func(m *Message) error {
			m.Recipients[0].State, m.Recipients[0].Updated = st, c.Now()
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		return m
	}
	old1, old2 := final(StateSent), final(StateBounced)
	c.Add(time.Hour)
	recent := final(StateSent)
	active := newMsg(StateDeferred, start, "a@example.org")
	mustCommit(t, s, active, []byte("body"))
	wantCounts(t, s, map[State]int{StateSent: 2, StateBounced: 1, StateDeferred: 1})
	retention := 7 * 24 * time.Hour
	if n, err := s.PurgeJournal(start.Add(retention), retention); err != nil || n != 0 {
		t.Fatalf("PurgeJournal at the retention = %d, %v; want 0 (not older yet)", n, err)
	}
	n, err := s.PurgeJournal(start.Add(retention+time.Minute), retention)
	if err != nil || n != 2 {
		t.Fatalf("PurgeJournal = %d, %v; want 2", n, err)
	}
	for _, id := range []string{old1.ID, old2.ID} {
		_, err := s.Get(id)
		wantErr(t, err, ErrNotFound)
	}
	mustGet(t, s, recent.ID)
	mustGet(t, s, active.ID)
	wantCounts(t, s, map[State]int{StateSent: 1, StateDeferred: 1})
	closeTest(t, s)
	s = openTest(t, dir, c)
	wantCounts(t, s, map[State]int{StateSent: 1, StateDeferred: 1})
	if n, err := s.PurgeJournal(c.Now().Add(retention+time.Second), retention); err != nil || n != 1 {
		t.Fatalf("PurgeJournal after reopen = %d, %v; want 1", n, err)
	}
	wantCounts(t, s, map[State]int{StateDeferred: 1})
}

func TestCountsReopen(t *testing.T) {
	c := newClock()
	dir := t.TempDir()
	s := openTest(t, dir, c)
	now := c.Now()
	a := newMsg(StateReady, now, "a@example.org", "b@example.org")
	a.Recipients[1].State = StateSent
	b := newMsg(StateDeferred, now, "a@example.org")
	h := newMsg(StateDelayed, now.Add(time.Hour), "a@example.org")
	for _, m := range []*Message{a, b, h} {
		mustCommit(t, s, m, []byte("body"))
	}
	if _, err := s.Hold(h.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Cancel(b.ID); err != nil {
		t.Fatal(err)
	}
	want := map[State]int{StateReady: 1, StateSent: 1, StateHeld: 1, StateCancelled: 1}
	wantCounts(t, s, want)
	c.Add(time.Hour)
	if age := s.OldestAge(c.Now()); age != time.Hour {
		t.Errorf("OldestAge = %v, want 1h", age)
	}
	closeTest(t, s)
	s = openTest(t, dir, c)
	wantCounts(t, s, want)
	if age := s.OldestAge(c.Now()); age != time.Hour {
		t.Errorf("OldestAge after reopen = %v, want 1h", age)
	}
	if got := dueIDs(t, s, c.Now(), 10); !slices.Equal(got, []string{a.ID}) {
		t.Errorf("Due after reopen = %v", got)
	}
}

func TestList(t *testing.T) {
	c := newClock()
	s := openTest(t, t.TempDir(), c)
	var ids []string
	for i := range 600 { // more than a page
		m := newMsg(StateReady, c.Now(), "a@example.org")
		mustCommit(t, s, m, nil)
		ids = append(ids, m.ID)
		if i%3 == 0 {
			if _, err := s.Cancel(m.ID); err != nil {
				t.Fatal(err)
			}
		}
	}
	var all, cancelled []string
	if err := s.List("", func(m *Message) bool { all = append(all, m.ID); return true }); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(all, ids) {
		t.Errorf("List(\"\") gave %d messages, not the %d in ID order", len(all), len(ids))
	}
	if err := s.List(StateCancelled, func(m *Message) bool { cancelled = append(cancelled, m.ID); return true }); err != nil {
		t.Fatal(err)
	}
	if len(cancelled) != 200 || cancelled[1] != ids[3] {
		t.Errorf("List(cancelled) = %d messages", len(cancelled))
	}
	var active []string
	if err := s.ListActive(func(m *Message) bool { active = append(active, m.ID); return true }); err != nil {
		t.Fatal(err)
	}
	if len(active) != 400 || active[0] != ids[1] || active[399] != ids[599] {
		t.Errorf("ListActive = %d messages, want the 400 not cancelled in ID order", len(active))
	}
	n := 0
	s.List(StateReady, func(*Message) bool { n++; return n < 5 })
	if n != 5 {
		t.Errorf("List did not stop: %d calls", n)
	}
}

func TestRunGCStops(t *testing.T) {
	c := newClock()
	s := openTest(t, t.TempDir(), c)
	mustCommit(t, s, newMsg(StateReady, c.Now(), "a@example.org"), make([]byte, 64<<10))
	if err := s.gcOnce(); err != nil && !errors.Is(err, badger.ErrNoRewrite) {
		t.Errorf("gcOnce: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { s.RunGC(ctx, time.Millisecond); close(done) }()
	cancel()
	<-done
	done = make(chan struct{})
	go func() { s.RunGC(context.Background(), time.Millisecond); close(done) }()
	closeTest(t, s)
	<-done // returns once the store is closed
}

func TestConcurrentUpdates(t *testing.T) {
	c := newClock()
	dir := t.TempDir()
	s := openTest(t, dir, c)
	var ids []string
	for range 5 {
		m := newMsg(StateReady, c.Now(), "a@example.org")
		mustCommit(t, s, m, []byte("body"))
		ids = append(ids, m.ID)
	}
	const workers, each = 10, 20
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := range each {
				id := ids[(w+i)%len(ids)]
				update := s.Update
				if i%5 == 0 {
					update = s.UpdateSync
				}
				_, err := update(id, func(m *Message) error {
					r := &m.Recipients[0]
					r.Attempts++
					r.State = []State{StateReady, StateSending, StateDeferred, StateHeld}[r.Attempts%4]
					r.NextAttempt = c.Now().Add(time.Duration(r.Attempts) * time.Second)
					return nil
				})
				if err != nil {
					t.Error(err)
				}
			}
		})
	}
	wg.Wait()
	total := 0
	want := map[State]int{}
	for _, id := range ids {
		r := mustGet(t, s, id).Recipients[0]
		total += r.Attempts
		want[r.State]++
	}
	if total != workers*each {
		t.Errorf("%d updates applied, want %d", total, workers*each)
	}
	wantCounts(t, s, want)
	checkSchedule(t, s, ids, c.Now().Add(time.Hour))
	closeTest(t, s)
	s = openTest(t, dir, c)
	want[StateDeferred] += want[StateSending] // recovered
	delete(want, StateSending)
	wantCounts(t, s, want)
	checkSchedule(t, s, ids, c.Now().Add(time.Hour))
}

// checkSchedule checks that at now exactly the messages ids that are not
// held are due.
func checkSchedule(t *testing.T, s *Store, ids []string, now time.Time) {
	t.Helper()
	var want []string
	for _, id := range ids {
		if st := mustGet(t, s, id).Recipients[0].State; st != StateHeld {
			want = append(want, id)
		}
	}
	got := dueIDs(t, s, now, len(ids)+1)
	slices.Sort(got)
	if !slices.Equal(got, want) {
		t.Errorf("Due = %v, want %v", got, want)
	}
}
