package spool

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestRecoverSending(t *testing.T) {
	c := newClock()
	dir := t.TempDir()
	s := openTest(t, dir, c)
	now := c.Now()
	m := newMsg(StateReady, now, "a@example.org", "b@example.org", "c@example.org")
	m.Recipients[2].State = StateSent
	mustCommit(t, s, m, []byte("body"))
	// A delivery leases two recipients (the first for the third time) and the
	// process dies before it records the result.
	_, err := s.Update(m.ID, func(m *Message) error {
		for i, attempts := range []int{3, 1} {
			r := &m.Recipients[i]
			r.State, r.Attempts, r.NextAttempt = StateSending, attempts, now.Add(10*time.Minute)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	s.Close() // (a real crash is TestCrashDurability; the state on disk is the same)
	now = c.Add(time.Second)
	s = openTest(t, dir, c)
	got := mustGet(t, s, m.ID)
	if rcptStates(got) != "deferred deferred sent" {
		t.Fatalf("after recovery: %s", rcptStates(got))
	}
	for i, want := range []time.Duration{30 * time.Second, 10 * time.Second} {
		r := got.Recipients[i]
		if !r.NextAttempt.Equal(now.Add(want)) || r.LastError == "" || r.Attempts == 0 {
			t.Errorf("recipient %d: next %v (want now+%v), error %q", i, r.NextAttempt.Sub(now), want, r.LastError)
		}
	}
	if b, err := s.Body(m.ID); err != nil || string(b) != "body" {
		t.Errorf("body after recovery: %q %v", b, err)
	}
	if ids := dueIDs(t, s, now, 10); len(ids) != 0 {
		t.Errorf("recovered message due at once: %v", ids)
	}
	if next, ok := s.NextDue(); !ok || !next.Equal(now.Add(10*time.Second)) {
		t.Errorf("NextDue = %v %v, want now+10s", next, ok)
	}
	wantCounts(t, s, map[State]int{StateDeferred: 1, StateSent: 1})
	// Recovery was written back: a second restart does not push it further.
	closeTest(t, s)
	c.Add(time.Minute)
	s = openTest(t, dir, c)
	if r := mustGet(t, s, m.ID).Recipients[1]; !r.NextAttempt.Equal(now.Add(10 * time.Second)) {
		t.Errorf("second reopen moved NextAttempt to %v", r.NextAttempt)
	}
}

func TestRecoveryBackoff(t *testing.T) {
	var prev time.Duration
	for a := 0; a < 20; a++ {
		d := recoveryBackoff(a)
		if d < prev || d < 10*time.Second || d > time.Minute {
			t.Errorf("recoveryBackoff(%d) = %v", a, d)
		}
		prev = d
	}
}

// crashEnv switches the test binary into the child of TestCrashDurability.
const crashEnv = "SPOOL_CRASH_CHILD_DIR"

// TestCrashDurability commits from a child process that prints each ID
// only after Commit returned, SIGKILLs it in the middle, and checks that
// every printed message survived with its body.
func TestCrashDurability(t *testing.T) {
	if dir := os.Getenv(crashEnv); dir != "" {
		crashChild(dir)
		return
	}
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^TestCrashDurability$")
	cmd.Env = append(os.Environ(), crashEnv+"="+dir)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var printed []string
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		if id := sc.Text(); checkID(id) == nil && len(id) == 17 {
			printed = append(printed, id)
		}
		if len(printed) == 300 {
			cmd.Process.Kill() // SIGKILL
		}
	}
	cmd.Wait()
	if len(printed) < 300 {
		t.Fatalf("child printed %d IDs before it ended", len(printed))
	}
	s := openTest(t, dir, newClock())
	for _, id := range printed {
		mustGet(t, s, id)
		b, err := s.Body(id)
		if err != nil || !bytes.Equal(b, testBody(id, sizeFor(id))) {
			t.Fatalf("message %s lost after kill -9: %v", id, err)
		}
	}
	n := 0
	s.List("", func(*Message) bool { n++; return true })
	t.Logf("%d IDs printed, %d messages in the spool after kill -9", len(printed), n)
}

// crashChild commits from 4 goroutines until killed (or 100,000 messages)
// and prints each ID once Commit returned.
func crashChild(dir string) {
	s, err := Open(Options{Dir: dir})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for range 25000 {
				m := newMsg(StateReady, time.Now(), "a@example.org")
				if err := s.Commit(m, testBody(m.ID, sizeFor(m.ID))); err != nil {
					fmt.Fprintln(os.Stderr, err)
					os.Exit(1)
				}
				mu.Lock()
				os.Stdout.WriteString(m.ID + "\n")
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	os.Exit(0)
}

func TestFileSyncRotation(t *testing.T) {
	dir := t.TempDir()
	touch := func(name string) {
		if err := os.WriteFile(dir+"/"+name, nil, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	touch("00001.mem")
	touch("000001.vlog")
	touch("MANIFEST")
	f := newFileSync(dir, func() error { return nil })
	defer f.close()
	var mu sync.Mutex
	var synced []string
	f.fsync = func(fh *os.File) error { // called in parallel
		mu.Lock()
		defer mu.Unlock()
		synced = append(synced, strings.TrimPrefix(strings.TrimPrefix(fh.Name(), dir), "/"))
		return nil
	}
	syncNow := func() []string {
		synced = nil
		if err := f.sync(); err != nil {
			t.Fatal(err)
		}
		slices.Sort(synced)
		return synced
	}
	if got := syncNow(); !slices.Equal(got, []string{"", "000001.vlog", "00001.mem"}) {
		t.Errorf("first sync: %q", got) // "" is the directory
	}
	if got := syncNow(); !slices.Equal(got, []string{"000001.vlog", "00001.mem"}) {
		t.Errorf("steady sync: %q", got)
	}
	touch("00002.mem") // memtable rotated twice, 00002 already flushed
	touch("00003.mem")
	os.Remove(dir + "/00002.mem")
	touch("000002.vlog")
	if got := syncNow(); !slices.Equal(got, []string{"", "000001.vlog", "000002.vlog", "00001.mem", "00003.mem"}) {
		t.Errorf("after rotation: %q", got)
	}
	if got := syncNow(); !slices.Equal(got, []string{"000002.vlog", "00003.mem"}) {
		t.Errorf("after rotation, steady: %q", got)
	}
}
