package spool

import (
	"testing"
	"time"
)

func TestZZTiming(t *testing.T) {
	c := newClock()
	dir := t.TempDir()
	s := openTest(t, dir, c)
	m := newMsg(StateReady, c.Now(), "a@example.org")
	body := testBody(m.ID, 64<<20)[:64<<20]
	t0 := time.Now()
	mustCommit(t, s, m, body)
	t.Log("commit", time.Since(t0))
	t0 = time.Now()
	s.Body(m.ID)
	t.Log("body", time.Since(t0))
	t0 = time.Now()
	s.Close()
	t.Log("close", time.Since(t0))
	t0 = time.Now()
	s = openTest(t, dir, c)
	t.Log("open", time.Since(t0))
	t0 = time.Now()
	s.Body(m.ID)
	t.Log("body", time.Since(t0))
}
