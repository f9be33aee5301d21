package spool

import (
	"os"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
)

func rss() string {
	b, _ := os.ReadFile("/proc/self/status")
	var out []string
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, "VmRSS") || strings.HasPrefix(l, "RssAnon") || strings.HasPrefix(l, "RssFile") {
			out = append(out, strings.Join(strings.Fields(l), " "))
		}
	}
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return strings.Join(out, ", ") + " heapinuse=" + itoa(ms.HeapInuse>>20) + "MB sys=" + itoa(ms.Sys>>20) + "MB"
}

func itoa(v uint64) string {
	return strings.TrimSpace(strings.Repeat(" ", 0) + func() string { return fmtU(v) }())
}
func fmtU(v uint64) string {
	if v == 0 {
		return "0"
	}
	var b []byte
	for v > 0 {
		b = append([]byte{byte('0' + v%10)}, b...)
		v /= 10
	}
	return string(b)
}

func TestZZScale(t *testing.T) {
	dir := os.Getenv("SPOOL_SCALE_DIR")
	if dir == "" {
		t.Skip()
	}
	c := newClock()
	if os.Getenv("SPOOL_SCALE_FILL") != "" {
		s := openTest(t, dir, c)
		t0 := time.Now()
		var wg sync.WaitGroup
		body := testBody("X", 5000)
		for range 20 {
			wg.Go(func() {
				for range 5000 {
					m := newMsg(StateReady, c.Now(), "a@example.org")
					if err := s.Commit(m, body); err != nil {
						t.Error(err)
						return
					}
				}
			})
		}
		wg.Wait()
		t.Log("fill", time.Since(t0), "syncs", testutilSyncCount(s), rss())
		closeTest(t, s)
		return
	}
	t0 := time.Now()
	s := openTest(t, dir, c)
	t.Log("open", time.Since(t0), rss(), s.Counts()[StateReady])
	t0 = time.Now()
	msgs, _ := s.Due(c.Now(), 100)
	t.Log("due", time.Since(t0), len(msgs))
	runtime.GC()
	t.Log(rss())
	if os.Getenv("SPOOL_SCALE_GC") == "" {
		return
	}
	t0 = time.Now()
	var ids []string
	s.List(StateReady, func(m *Message) bool { ids = append(ids, m.ID); return true })
	for _, id := range ids {
		if _, err := s.Update(id, func(m *Message) error { m.Recipients[0].State = StateSent; return nil }); err != nil {
			t.Fatal(err)
		}
	}
	t.Log("updated", len(ids), time.Since(t0), "bytes", s.Bytes()>>20, rss())
	for i := range 20 {
		err := s.gcOnce()
		t.Log("gc", i, err, "bytes", s.Bytes()>>20)
		time.Sleep(2 * time.Second)
	}
	t.Log(s.Counts(), rss())
}
