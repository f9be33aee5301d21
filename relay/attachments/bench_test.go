package attachments

import (
	"fmt"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/relayd/relayd/relay/attachments/attachtest"
)

// BenchmarkAttachPut stores the 100 KiB attachment of relayd-bench's
// attachments shape from 20 concurrent sessions into a real directory,
// as the accept path does (Walk, Size, Put).
func BenchmarkAttachPut(b *testing.B) {
	s, err := Open(Options{Dir: b.TempDir(), BaseURL: "http://127.0.0.1/files",
		Now: func() time.Time { return time.Date(2026, 12, 6, 9, 0, 0, 0, time.UTC) }})
	if err != nil {
		b.Fatal(err)
	}
	msg := []byte(attachtest.Thunderbird(attachtest.Content(100<<10, 21), attachtest.Content(1<<10, 22)))
	var seq atomic.Int64
	b.SetBytes(int64(len(msg)))
	b.SetParallelism(10) // 20 sessions on 2 CPUs
	cpu0 := cpuTime()
	b.ResetTimer()
	defer func() {
		b.ReportMetric(float64((cpuTime()-cpu0).Microseconds())/float64(b.N), "cpu-µs/op")
	}()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			t := Walk(msg)
			var big []Part
			for _, a := range t.Attachments() {
				if a.Size(msg) > 50_000 {
					big = append(big, a)
				}
			}
			if _, err := s.Put(fmt.Sprintf("msg-%d", seq.Add(1)), msg, big); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// cpuTime is the process's user and system CPU time so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkWalkSize is the accept path's look at a message before any
// store: the MIME walk and each attachment's size (relayd-bench's
// attachments shape: one 100 KiB PDF and a small file).
func BenchmarkWalkSize(b *testing.B) {
	msg := []byte(attachtest.Thunderbird(attachtest.Content(100<<10, 21), attachtest.Content(1<<10, 22)))
	b.SetBytes(int64(len(msg)))
	for b.Loop() {
		for _, a := range Walk(msg).Attachments() {
			a.Size(msg)
		}
	}
}
