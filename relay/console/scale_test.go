package console

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/relayd/relayd/policy"
	"github.com/relayd/relayd/relay"
	"github.com/relayd/relayd/spool"
)

// TestOutboxFirstPageScale: with 100,000 queued messages the Outbox's
// first page (and a filtered one) answers in well under 300 ms: it reads
// the newest envelopes, never the whole queue or a body. A
// search reads at most MaxScan envelopes per page; its time is logged.
// RELAYD_CONSOLE_SCALE changes the count; -short skips it.
func TestOutboxFirstPageScale(t *testing.T) {
	if testing.Short() {
		t.Skip("fills a spool with 100,000 messages")
	}
	n := 100000
	if s := os.Getenv("RELAYD_CONSOLE_SCALE"); s != "" {
		fmt.Sscan(s, &n)
	}
	store, err := spool.Open(spool.Options{Dir: t.TempDir(), Fsync: func(*os.File) error { return nil }})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	fill(t, store, n)
	cfg := &relay.Config{Hostname: "relay.test", Profiles: map[string]*relay.Profile{},
		Policy: policy.Config{Enabled: map[string]bool{}}, Users: map[string]relay.User{}}
	srv, err := relay.New(relay.Options{Config: cfg, Spool: store})
	if err != nil {
		t.Fatal(err)
	}
	c := New(Options{Server: srv, AdminToken: func() string { return "tok" }})
	id, _ := c.sessions.create(user{Name: "admin", Admin: true}, time.Now().Add(time.Hour), time.Now())
	ts := httptest.NewServer(c.Handler())
	t.Cleanup(ts.Close)
	limit := 300 * time.Millisecond
	if raceEnabled {
		limit *= 10 // the race detector slows everything down
	}
	for _, path := range []string{"/outbox", "/outbox?state=delayed", "/outbox?q=invoice+9", "/outbox?q=nothing+matches"} {
		req, _ := http.NewRequest("GET", ts.URL+path, nil)
		req.AddCookie(&http.Cookie{Name: sessionCookie, Value: id})
		start := time.Now()
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		took := time.Since(start)
		want := 50
		if strings.Contains(path, "nothing") {
			want = 0 // a search that matches nothing stops after MaxScan envelopes and says so
			if !strings.Contains(string(body), "Searched part of the queue") {
				t.Errorf("%s does not say it searched only part of the queue", path)
			}
		}
		rows := strings.Count(string(body), `type="checkbox" name="id"`)
		if resp.StatusCode != 200 || rows != want {
			t.Fatalf("%s: %d with %d rows, want 200 and %d", path, resp.StatusCode, rows, want)
		}
		t.Logf("%s with %d queued: %v", path, n, took)
		if took > limit && !strings.Contains(path, "q=") { // a search reads up to MaxScan envelopes: logged only
			t.Errorf("%s with %d queued took %v, want under %v", path, n, took, limit)
		}
	}
}

// fill commits n delayed messages from 8 goroutines.
func fill(t *testing.T, store *spool.Store, n int) {
	t.Helper()
	now := time.Now()
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for w := range 8 {
		wg.Go(func() {
			for i := w; i < n; i += 8 {
				m := &spool.Message{ID: spool.NewID(), Created: now, Sender: "crm@example.com", Listener: "l",
					From: "CRM <crm@example.com>", Subject: fmt.Sprintf("Invoice %d", i)}
				m.Recipients = []spool.Recipient{{Address: fmt.Sprintf("c%d@example.org", i), Profile: "up",
					Rule: "system default", State: spool.StateDelayed, NextAttempt: now.Add(time.Hour), Updated: now}}
				body := []byte("Subject: Invoice\r\n\r\nhello\r\n")
				m.Size = int64(len(body))
				if err := store.Commit(m, body); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}
