package spool

import (
	"testing"
	"time"
)

// A pause is stored in Badger and survives closing and reopening the
// spool; ClearPause removes it for good.
func TestPauseSurvivesReopen(t *testing.T) {
	dir := t.TempDir()
	c := newClock()
	s := openTest(t, dir, c)
	now := c.Now()
	until := now.Add(2 * time.Hour)
	if err := s.SetPause(Pause{Profile: "office365", Since: now, By: "admin"}); err != nil {
		t.Fatal(err)
	}
	if err := s.SetPause(Pause{Profile: "gmail", Until: until, Since: now, By: "alice"}); err != nil {
		t.Fatal(err)
	}
	closeTest(t, s)

	s = openTest(t, dir, c)
	ps, err := s.Pauses()
	if err != nil {
		t.Fatal(err)
	}
	if len(ps) != 2 || ps[0].Profile != "gmail" || ps[1].Profile != "office365" {
		t.Fatalf("pauses after reopen: %+v", ps)
	}
	if !ps[0].Until.Equal(until) || ps[0].By != "alice" || !ps[0].Since.Equal(now) {
		t.Errorf("gmail pause: %+v", ps[0])
	}
	if !ps[1].Until.IsZero() || !ps[1].Active(now.Add(1000*time.Hour)) {
		t.Errorf("office365 pause should last until resumed: %+v", ps[1])
	}
	if !ps[0].Active(until.Add(-time.Nanosecond)) || ps[0].Active(until) {
		t.Errorf("gmail pause should end at %v", until)
	}
	if err := s.ClearPause("office365"); err != nil {
		t.Fatal(err)
	}
	if err := s.ClearPause("nosuch"); err != nil {
		t.Fatalf("clearing a pause that is not there: %v", err)
	}
	closeTest(t, s)

	s = openTest(t, dir, c)
	if _, ok, err := s.GetPause("office365"); err != nil || ok {
		t.Errorf("cleared pause still there after reopen (ok=%v, err=%v)", ok, err)
	}
	if p, ok, err := s.GetPause("gmail"); err != nil || !ok || !p.Until.Equal(until) {
		t.Errorf("GetPause(gmail) = %+v, %v, %v", p, ok, err)
	}
	wantCounts(t, s, map[State]int{}) // pause keys are not messages
}

// Unpark makes the profile's parked ready and deferred recipients due now
// and leaves other profiles, delayed and held recipients alone.
func TestUnpark(t *testing.T) {
	c := newClock()
	s := openTest(t, t.TempDir(), c)
	now := c.Now()
	later := now.Add(time.Hour)
	m := newMsg(StateReady, later, "a@example.org", "b@example.org", "c@example.org", "d@example.org")
	for i := range m.Recipients {
		m.Recipients[i].Profile = "p1"
	}
	m.Recipients[1].State = StateDeferred
	m.Recipients[2].State = StateDelayed
	m.Recipients[3].Profile = "p2"
	mustCommit(t, s, m, []byte("body"))
	n, err := s.Unpark("p1")
	if err != nil || n != 1 {
		t.Fatalf("Unpark = %d, %v; want 1 message", n, err)
	}
	got, err := s.Get(m.ID)
	if err != nil {
		t.Fatal(err)
	}
	for i, want := range []time.Time{now, now, later, later} {
		if r := got.Recipients[i]; !r.NextAttempt.Equal(want) {
			t.Errorf("%s (%s, %s): next attempt %v, want %v", r.Address, r.State, r.Profile, r.NextAttempt, want)
		}
	}
	if n, err := s.Unpark("p1"); err != nil || n != 0 {
		t.Errorf("second Unpark = %d, %v; want 0", n, err)
	}
}
