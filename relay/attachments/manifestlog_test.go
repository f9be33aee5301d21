package attachments

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/relayd/relayd/relay/attachments/attachtest"
)

// TestAttachPutDurableOnDisk: when Put returns, every file is on disk
// complete (its SHA-256 is the manifest's) and the manifest log holds the
// message's manifest as a whole line, read back the way Open reads it.
func TestAttachPutDurableOnDisk(t *testing.T) {
	dir := t.TempDir()
	s, _, _ := testStore(t, dir, &clock{t: time.Date(2026, 12, 6, 9, 0, 0, 0, time.UTC)})
	big, small := attachtest.Content(100<<10, 31), attachtest.Content(500, 32)
	msg := []byte(attachtest.Thunderbird(big, small))
	if _, err := s.Put("DURABLE", msg, Walk(msg).Attachments()); err != nil {
		t.Fatal(err)
	}
	logged, lines, err := readManifestLog(filepath.Join(dir, manifestLogName))
	if err != nil || lines != 1 {
		t.Fatalf("manifest log: %d lines, %v", lines, err)
	}
	m := logged["DURABLE"]
	if m == nil || len(m.Files) != 2 {
		t.Fatalf("manifest after Put: %+v", m)
	}
	for i, want := range [][]byte{big, small} {
		f := m.Files[i]
		b, err := readStored(dir, f)
		sum := sha256.Sum256(b)
		if err != nil || !bytes.Equal(b, want) || hex.EncodeToString(sum[:]) != f.SHA256 || f.Size != int64(len(want)) {
			t.Errorf("file %d (%s): %d octets, %v; manifest %+v", i, f.Token, len(b), err, f)
		}
	}
}

// TestAttachSyncFailureSticky: a sync round that fails (here the
// segments directory's descriptor is gone when a round must sync it)
// fails Put, removes what it wrote, and every later Put fails too.
func TestAttachSyncFailureSticky(t *testing.T) {
	dir := t.TempDir()
	s, _, _ := testStore(t, dir, &clock{t: time.Date(2026, 12, 6, 9, 0, 0, 0, time.UTC)})
	msg := []byte(attachtest.Thunderbird(attachtest.Content(10<<10, 33), attachtest.Content(100, 34)))
	atts := Walk(msg).Attachments()
	if _, err := s.Put("BEFORE", msg, atts); err != nil {
		t.Fatal(err)
	}
	s.segs.dirF.Close()
	s.segs.mu.Lock()
	s.segs.created = true // as if a segment was started: the round syncs the directory
	s.segs.mu.Unlock()
	if _, err := s.Put("FAILED", msg, atts); err == nil || !strings.Contains(err.Error(), filepath.Join(dir, "segments")) {
		t.Fatalf("Put after a failed sync: %v", err)
	}
	if _, err := s.Put("AFTER", msg, atts); err == nil {
		t.Fatal("the failure is not sticky: a later Put succeeded")
	}
	if len(s.List("FAILED")) != 0 || len(s.List("AFTER")) != 0 {
		t.Errorf("failed Puts are listed: %+v", s.List(""))
	}
	if live := s.segs.cur.live; live != 2 {
		t.Errorf("files left in the segment: %d, want BEFORE's 2", live)
	}
}

// readStored reads f's content from the store in dir as a download
// finds it: its range of its segment, or an older relayd's file.
func readStored(dir string, f *file) ([]byte, error) {
	if f.Seg == 0 {
		return os.ReadFile(filepath.Join(dir, "files", f.Token))
	}
	fh, err := os.Open(filepath.Join(dir, segmentsDirName, segmentName(f.Seg)))
	if err != nil {
		return nil, err
	}
	defer fh.Close()
	b := make([]byte, f.Size)
	_, err = fh.ReadAt(b, f.Off)
	return b, err
}

// TestAttachManifestLogReopen: the log's last line of a message wins
// (the commit mark, a revoke, a removal), a torn last line (a crash while
// appending) is cut off, appends go on after it, and GC compacts the log
// to the live manifests.
func TestAttachManifestLogReopen(t *testing.T) {
	c := &clock{t: time.Date(2026, 12, 6, 9, 0, 0, 0, time.UTC)}
	dir := t.TempDir()
	s, _, _ := testStore(t, dir, c)
	msg := []byte(attachtest.Thunderbird(attachtest.Content(2000, 35), attachtest.Content(100, 36)))
	atts := Walk(msg).Attachments()
	for _, id := range []string{"SENT", "REVOKED", "DISCARDED"} {
		if _, err := s.Put(id, msg, atts); err != nil {
			t.Fatal(err)
		}
	}
	s.Links("SENT") // delivery: committed
	tok := s.List("REVOKED")[0].Token
	if _, err := s.Revoke(tok); err != nil {
		t.Fatal(err)
	}
	s.Discard("DISCARDED")
	path := filepath.Join(dir, manifestLogName)
	f, _ := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	f.WriteString(`{"message_id":"TORN","files":[`)
	f.Close()

	c.Advance(2 * time.Hour)
	s2, _, _ := testStore(t, dir, c) // restart
	if got := s2.List("SENT"); len(got) != 2 || got[0].State != "active" {
		t.Errorf("SENT after restart: %+v", got)
	}
	if got := s2.List("REVOKED"); len(got) != 2 || s2.List("DISCARDED") != nil {
		t.Errorf("REVOKED after restart: %+v; DISCARDED %+v", got, s2.List("DISCARDED"))
	}
	for _, i := range s2.List("REVOKED") {
		if (i.Token == tok) != (i.State == "revoked") {
			t.Errorf("revoke lost: %+v", i)
		}
	}
	if n := s2.GC(func(id string) bool { return id == "REVOKED" }); n != 0 {
		t.Errorf("GC removed %d messages; SENT is committed, REVOKED in the spool", n)
	}
	if _, err := s2.Put("NEXT", msg, atts); err != nil {
		t.Fatal(err)
	}
	logged, _, err := readManifestLog(path)
	if err != nil || len(logged) != 3 || logged["NEXT"] == nil || logged["TORN"] != nil {
		t.Fatalf("log after the torn line: %d manifests, %v", len(logged), err)
	}

	s2.mlog.base = 0 // make compaction due without writing 1 MiB
	s2.mlog.size = 2 << 20
	s2.GC(func(string) bool { return true })
	b, _ := os.ReadFile(path)
	if n := bytes.Count(b, []byte("\n")); n != 3 {
		t.Errorf("compacted log has %d lines, want 3:\n%s", n, b)
	}
	s3, _, _ := testStore(t, dir, c)
	if len(s3.List("")) != 6 {
		t.Errorf("after compaction and restart: %+v", s3.List(""))
	}
}

// TestAttachLegacyManifests: a store written before the manifest log
// (messages/<id>.json) opens with its manifests, moved into the log.
func TestAttachLegacyManifests(t *testing.T) {
	c := &clock{t: time.Date(2026, 12, 6, 9, 0, 0, 0, time.UTC)}
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "messages"), 0o700)
	os.MkdirAll(filepath.Join(dir, "files"), 0o700)
	m := manifest{MessageID: "OLD", Created: c.Now(), Expires: c.Now().Add(time.Hour), Committed: true,
		Files: []*file{{Token: "tok0", Name: "a.pdf", Type: "application/pdf", Size: 3}}}
	b, _ := json.Marshal(m)
	os.WriteFile(filepath.Join(dir, "messages", "OLD.json"), b, 0o600)
	os.WriteFile(filepath.Join(dir, "messages", "tmp-OLD.json"), []byte("{"), 0o600)
	os.WriteFile(filepath.Join(dir, "files", "tok0"), []byte("abc"), 0o600)
	s, _, _ := testStore(t, dir, c)
	if got := s.List("OLD"); len(got) != 1 || got[0].File != "a.pdf" {
		t.Fatalf("legacy manifest: %+v", got)
	}
	if _, err := os.Stat(filepath.Join(dir, "messages")); !os.IsNotExist(err) {
		t.Errorf("messages/ left: %v", err)
	}
	logged, _, err := readManifestLog(filepath.Join(dir, manifestLogName))
	if err != nil || logged["OLD"] == nil {
		t.Errorf("legacy manifest not in the log: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "files", "tok0")); err != nil {
		t.Errorf("legacy file removed: %v", err)
	}
}

// TestAttachCompactDuringPuts: a compaction running while Puts append
// keeps every manifest whose Put returned: right after Put, the current
// log holds it (in the rewritten log or appended after it).
func TestAttachCompactDuringPuts(t *testing.T) {
	c := &clock{t: time.Date(2026, 12, 6, 9, 0, 0, 0, time.UTC)}
	dir := t.TempDir()
	s, _, _ := testStore(t, dir, c)
	msg := []byte(attachtest.Thunderbird(attachtest.Content(300, 37), attachtest.Content(100, 38)))
	atts := Walk(msg).Attachments()
	var swap sync.RWMutex // held by a compaction; the check reads the log between them
	inLog := func(id string) bool {
		swap.RLock()
		defer swap.RUnlock()
		b, _ := os.ReadFile(filepath.Join(dir, manifestLogName))
		return bytes.Contains(b, []byte(`{"message_id":"`+id+`"`))
	}
	const sessions, each = 8, 25
	var wg sync.WaitGroup
	done := make(chan struct{})
	for g := range sessions {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				id := fmt.Sprintf("M-%d-%d", g, i)
				if _, err := s.Put(id, msg, atts); err != nil {
					t.Error(err)
					return
				}
				if !inLog(id) {
					t.Errorf("%s: Put returned, its manifest is not in the log", id)
				}
			}
		}()
	}
	go func() { wg.Wait(); close(done) }()
	for compactions := 0; compactions < 100000; compactions++ { // bounded; ends when the Puts do
		select {
		case <-done:
			return
		default:
			swap.Lock()
			err := s.mlog.compact(s.live)
			swap.Unlock()
			if err != nil {
				t.Fatal(err)
			}
		}
	}
	<-done
}
