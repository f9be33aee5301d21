package spool

import (
	"slices"
	"testing"
)

// TestListNewest: newest first, paged by "before", journal merged in when
// asked, each message once.
func TestListNewest(t *testing.T) {
	c := newClock()
	s := openTest(t, t.TempDir(), c)
	var ids []string
	for i := range 600 {
		m := newMsg(StateReady, c.Now(), "a@example.org")
		if i%3 == 0 {
			m.Recipients[0].State = StateSent
		}
		mustCommit(t, s, m, testBody(m.ID, 100))
		ids = append(ids, m.ID)
	}
	var active []string
	for _, id := range ids {
		if m, err := s.Get(id); err == nil && !m.Recipients[0].State.Final() {
			active = append(active, id)
		}
	}
	collect := func(before string, journal bool, limit int) []string {
		var got []string
		err := s.ListNewest(before, journal, func(m *Message) bool {
			got = append(got, m.ID)
			return len(got) < limit
		})
		if err != nil {
			t.Fatal(err)
		}
		return got
	}
	want := slices.Clone(ids)
	slices.Reverse(want)
	if got := collect("", true, 1000); !slices.Equal(got, want) {
		t.Fatalf("journal+active newest first: got %d ids, want %d (first %v)", len(got), len(want), got[:min(3, len(got))])
	}
	wantActive := slices.Clone(active)
	slices.Reverse(wantActive)
	if got := collect("", false, 1000); !slices.Equal(got, wantActive) {
		t.Fatalf("active newest first: got %d, want %d", len(got), len(wantActive))
	}
	page1 := collect("", true, 50)
	page2 := collect(page1[len(page1)-1], true, 50)
	if !slices.Equal(append(page1, page2...), want[:100]) {
		t.Fatalf("pages do not continue each other")
	}
}
