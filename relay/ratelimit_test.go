package relay

import (
	"encoding/json"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/relayd/relayd/spool"
)

// TestLocalLimiterSlidingWindows checks the windows against every span:
// with ["2/m", "3/h"] a request every 10 s for three hours never puts more
// than 2 starts in any minute or 3 in any hour, and the limiter says
// exactly when the next start may go.
func TestLocalLimiterSlidingWindows(t *testing.T) {
	var ll localLimiter
	windows := Rates{{N: 2, Per: time.Minute}, {N: 3, Per: time.Hour}}
	t0 := time.Date(2026, 12, 6, 10, 0, 30, 0, time.UTC) // not aligned to a minute
	var starts []time.Time
	for now := t0; now.Before(t0.Add(3 * time.Hour)); now = now.Add(10 * time.Second) {
		wait := ll.WaitUntil("p", windows, now)
		ok, next := ll.Allow("p", windows, now)
		if ok != wait.IsZero() || (!ok && !next.Equal(wait)) {
			t.Fatalf("%s: Allow %v %s, WaitUntil %s", now, ok, next, wait)
		}
		if ok {
			starts = append(starts, now)
		}
	}
	if len(starts) != 9 {
		t.Errorf("%d starts in three hours, want 9: %v", len(starts), starts)
	}
	for i, s := range starts {
		inMinute, inHour := 0, 0
		for _, o := range starts[i:] {
			if o.Sub(s) < time.Minute {
				inMinute++
			}
			if o.Sub(s) < time.Hour {
				inHour++
			}
		}
		if inMinute > 2 || inHour > 3 {
			t.Errorf("from %s: %d starts within a minute, %d within an hour", s, inMinute, inHour)
		}
	}
	// Sliding, not calendar-aligned: the third start waits a full minute
	// after the first, not for the next minute on the clock.
	if want := t0.Add(time.Minute); !starts[2].Equal(want) {
		t.Errorf("third start at %s, want %s", starts[2], want)
	}
	if want := t0.Add(time.Hour); !starts[3].Equal(want) {
		t.Errorf("fourth start at %s, want %s (an hour after the first)", starts[3], want)
	}
	// A reload that changes the windows starts afresh; none is unlimited.
	if w := ll.WaitUntil("p", Rates{{N: 100, Per: time.Minute}}, t0.Add(3*time.Hour)); !w.IsZero() {
		t.Errorf("new windows still wait until %s", w)
	}
	if ok, _ := ll.Allow("q", nil, t0); !ok {
		t.Error("a profile without rate was limited")
	}
}

// TestRateWindowsDeferExcess runs a relay with rate = ["2/m", "3/h"] on an
// injected clock: 5 messages go 2, then 1 a minute later, then 2 an hour
// after the first; the waiting ones show as deferred with "rate limit".
func TestRateWindowsDeferExcess(t *testing.T) {
	sk := newSink(t)
	cfg := baseConfig(sk.addr)
	cfg.Profiles["sink"].Rate = Rates{{N: 2, Per: time.Minute}, {N: 3, Per: time.Hour}}
	r := startRelay(t, cfg)
	var ids []string
	for i := 0; i < 5; i++ {
		ids = append(ids, send(t, r.addr, "app@example.com", []string{"x@example.org"}, simpleBody))
	}
	got := func(n int) {
		t.Helper()
		for i := 0; i < n; i++ {
			sk.wait()
		}
		sk.none(r)
	}
	got(2)
	waiting := ""
	for _, id := range ids {
		if m, _ := r.store.Get(id); m.Recipients[0].State != spool.StateSent {
			waiting = id
		}
	}
	checkRateDeferred(t, r, waiting, "2/m, 3/h")
	r.advance(30 * time.Second)
	got(0)
	r.advance(30 * time.Second) // a minute after the first two
	got(1)
	for i := 0; i < 58; i++ {
		r.advance(time.Minute)
		got(0) // the hour's 3 are used
	}
	checkRateDeferred(t, r, waiting, "2/m, 3/h")
	r.advance(time.Minute) // an hour after the first two
	got(2)
	for _, id := range ids {
		if m := r.waitState(id, spool.StateSent); m.Recipients[0].Attempts != 1 {
			t.Errorf("%s: %d attempts; a rate wait must not count as a failure", id, m.Recipients[0].Attempts)
		}
	}
}

// checkRateDeferred asserts that the API shows message id as deferred by
// the rate limit.
func checkRateDeferred(t *testing.T, r *testRelay, id, rate string) {
	t.Helper()
	rec := httptest.NewRecorder()
	r.srv.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/api/v1/queue/"+id, nil))
	var it QueueItem
	if err := json.Unmarshal(rec.Body.Bytes(), &it); err != nil {
		t.Fatalf("%v: %s", err, rec.Body.String())
	}
	rc := it.Recipients[0]
	if it.State != "deferred" || rc.State != "deferred" || !strings.HasPrefix(rc.LastError, "rate limit") ||
		!strings.Contains(rc.LastError, rate) || rc.NextAttempt == nil || !rc.NextAttempt.After(r.clock.Now()) {
		t.Errorf("a message waiting for the rate shows as:\n%s", rec.Body.String())
	}
}
