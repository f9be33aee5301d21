package spool

import (
	"testing"
)

// BenchmarkCommitParallel measures group commit: run with -cpu and
// -benchtime; b.SetParallelism(10) on 2 CPUs gives 20 concurrent committers,
// the client count of the goals in docs/performance.md.
func BenchmarkCommitParallel(b *testing.B) {
	c := newClock()
	s, err := Open(Options{Dir: b.TempDir(), Now: c.Now})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	body := testBody("X", 5000)
	b.SetParallelism(10)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			m := newMsg(StateReady, c.Now(), "a@example.org")
			if err := s.Commit(m, body); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "commits/s")
	if n := testutilSyncCount(s); n > 0 {
		b.ReportMetric(float64(b.N)/float64(n), "commits/fsync")
	}
}

// BenchmarkCommitSerial is one client committing one message at a time.
func BenchmarkCommitSerial(b *testing.B) {
	c := newClock()
	s, err := Open(Options{Dir: b.TempDir(), Now: c.Now})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	body := testBody("X", 5000)
	b.ResetTimer()
	for b.Loop() {
		m := newMsg(StateReady, c.Now(), "a@example.org")
		if err := s.Commit(m, body); err != nil {
			b.Fatal(err)
		}
	}
}
