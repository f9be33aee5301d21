package attachments

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/relayd/relayd/relay/attachments/attachtest"
)

// segmentsOnDisk lists the segment files of the store in dir.
func segmentsOnDisk(t *testing.T, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir(filepath.Join(dir, segmentsDirName))
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range ents {
		out = append(out, e.Name())
	}
	return out
}

// TestAttachSegmentsLifecycle: Puts fill a segment and go on in a new
// one past the size limit (a file larger than the limit gets a segment
// of its own); a revoked file's range reads as zeros (its blocks are
// freed); a segment whose files are all removed is deleted, except the
// current one, which the next Open removes; the files left download
// whole, before and after a restart.
func TestAttachSegmentsLifecycle(t *testing.T) {
	c := &clock{t: time.Date(2026, 12, 6, 9, 0, 0, 0, time.UTC)}
	dir := t.TempDir()
	s, _, _ := testStore(t, dir, c)
	s.segs.limit = 64 << 10
	small := []byte(attachtest.Thunderbird(attachtest.Content(20<<10, 51), attachtest.Content(100, 52)))
	large := []byte(attachtest.Thunderbird(attachtest.Content(200<<10, 53), attachtest.Content(100, 54)))
	put := func(id string, msg []byte) {
		t.Helper()
		if _, err := s.Put(id, msg, Walk(msg).Attachments()); err != nil {
			t.Fatal(err)
		}
	}
	put("A", small) // segment 1: 28 KiB reserved for the base64 of 20 KiB, 4 KiB for the csv
	put("B", small) // segment 1 is at 64 KiB: 2 more reservations fit exactly
	put("C", large) // segment 2, alone: larger than the limit
	put("D", small) // segment 3
	if got := strings.Join(segmentsOnDisk(t, dir), " "); got != "000001.seg 000002.seg 000003.seg" {
		t.Fatalf("segments %s", got)
	}
	seg := func(id string) uint32 { return s.byMsg[id].Files[0].Seg }
	if seg("A") != 1 || seg("B") != 1 || seg("C") != 2 || seg("D") != 3 {
		t.Fatalf("segments of A B C D: %d %d %d %d", seg("A"), seg("B"), seg("C"), seg("D"))
	}

	revoked := s.byMsg["A"].Files[0]
	if _, err := s.Revoke(revoked.Token); err != nil {
		t.Fatal(err)
	}
	b, err := readStored(dir, revoked)
	if err != nil || len(b) != int(revoked.Size) || !bytes.Equal(b, make([]byte, len(b))) {
		t.Errorf("a revoked file's range still holds its content (%v)", err)
	}
	s.Discard("C")
	for _, f := range s.byMsg["B"].Files {
		s.Revoke(f.Token)
	}
	s.Revoke(s.byMsg["A"].Files[1].Token)
	// Segment 1 lost its last file, segment 2 its only message; segment 3
	// is the current one.
	if got := strings.Join(segmentsOnDisk(t, dir), " "); got != "000003.seg" {
		t.Errorf("segments after the removals: %s, want 000003.seg", got)
	}

	for _, f := range s.byMsg["D"].Files {
		b, err := readStored(dir, f)
		if sum := sha256.Sum256(b); err != nil || int64(len(b)) != f.Size {
			t.Errorf("D's %s: %d octets, %v", f.Name, len(b), err)
		} else if got := hexSum(sum); got != f.SHA256 {
			t.Errorf("D's %s: checksum %s, manifest %s", f.Name, got, f.SHA256)
		}
	}
	s.Revoke(s.byMsg["D"].Files[0].Token)
	s.Revoke(s.byMsg["D"].Files[1].Token)
	s2, _, _ := testStore(t, dir, c) // restart: segment 3 holds nothing live
	if got := segmentsOnDisk(t, dir); len(got) != 0 {
		t.Errorf("segments after a restart with nothing live: %v", got)
	}
	put2 := func(id string) {
		if _, err := s2.Put(id, small, Walk(small).Attachments()); err != nil {
			t.Fatal(err)
		}
	}
	put2("E")
	if n := s2.byMsg["E"].Files[0].Seg; n != 4 {
		t.Errorf("a new segment after a restart is %d, want 4 (numbers are not reused)", n)
	}
	info := s2.List("E")[0]
	resp, body := get(t, "GET", info.URL, nil)
	if resp.StatusCode != 200 || int64(len(body)) != info.Size || hexSum(sha256.Sum256(body)) != info.SHA256 {
		t.Errorf("download from a segment: %d, %d octets", resp.StatusCode, len(body))
	}
}

func hexSum(sum [32]byte) string { return hex.EncodeToString(sum[:]) }

// TestAttachOlderFilesServed: the file of an older relayd, one per
// attachment (files/<token>, a manifest without a segment), still
// downloads, and a revoke removes it.
func TestAttachOlderFilesServed(t *testing.T) {
	c := &clock{t: time.Date(2026, 12, 6, 9, 0, 0, 0, time.UTC)}
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "files"), 0o700)
	content := attachtest.Content(5000, 55)
	m := manifest{MessageID: "OLD", Created: c.Now(), Expires: c.Now().Add(time.Hour), Committed: true,
		Files: []*file{{Token: "tokold", Name: "old.pdf", Type: "application/pdf", Size: int64(len(content))}}}
	line, _ := json.Marshal(m)
	os.WriteFile(filepath.Join(dir, manifestLogName), append(line, '\n'), 0o600)
	os.WriteFile(filepath.Join(dir, "files", "tokold"), content, 0o600)
	s, _, _ := testStore(t, dir, c)
	info := s.List("OLD")[0]
	resp, body := get(t, "GET", info.URL, map[string]string{"Range": "bytes=10-19"})
	if resp.StatusCode != 206 || !bytes.Equal(body, content[10:20]) {
		t.Errorf("Range of an older file: %d %q", resp.StatusCode, body)
	}
	if _, err := s.Revoke("tokold"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "files", "tokold")); !os.IsNotExist(err) {
		t.Errorf("revoked older file still there: %v", err)
	}
}

// TestAttachLinksWaitsForStage: Links for a message whose Stage has not
// ended waits for its round, and fails if the round failed (the message
// is being withdrawn); the store then refuses every Stage.
func TestAttachLinksWaitsForStage(t *testing.T) {
	c := &clock{t: time.Date(2026, 12, 6, 9, 0, 0, 0, time.UTC)}
	s, _, _ := testStore(t, t.TempDir(), c)
	msg := []byte(attachtest.Thunderbird(attachtest.Content(10<<10, 56), attachtest.Content(100, 57)))
	atts := Walk(msg).Attachments()
	st, err := s.Stage("OK", msg, atts)
	if err != nil {
		t.Fatal(err)
	}
	got := make(chan int, 1)
	go func() {
		links, err := s.Links("OK")
		if err != nil {
			t.Error(err)
		}
		got <- len(links)
	}()
	select {
	case <-got:
		t.Fatal("Links returned before the Stage's round")
	case <-time.After(50 * time.Millisecond): // a bound on the wrong outcome, not a synchronisation
	}
	if _, err := st.Wait(); err != nil {
		t.Fatal(err)
	}
	if n := <-got; n != 2 {
		t.Fatalf("Links after the round: %d links, want 2", n)
	}

	st, err = s.Stage("FAILS", msg, atts)
	if err != nil {
		t.Fatal(err)
	}
	s.segs.dirF.Close()
	s.segs.mu.Lock()
	s.segs.created = true // the round must sync the directory, whose descriptor is gone
	s.segs.mu.Unlock()
	if _, err := st.Wait(); err == nil {
		t.Fatal("the round did not fail")
	}
	if links, err := s.Links("FAILS"); err == nil || links != nil {
		t.Errorf("Links of a failed Stage: %v, %v", links, err)
	}
	if _, err := s.Stage("AFTER", msg, atts); err == nil {
		t.Error("a failing store accepted a Stage")
	}
	if s.List("FAILS") != nil || s.List("AFTER") != nil {
		t.Errorf("failed Stages listed: %+v", s.List(""))
	}
}

// TestAttachNotIntactAfterRestart: the files of a message stored before
// a restart and never delivered are checked before they are trusted,
// by Links and by GC: torn content (here zeros over one file, as a power
// cut during the sync round would leave it) makes the store forget the
// message, so that delivery stores the files again; intact ones are kept.
func TestAttachNotIntactAfterRestart(t *testing.T) {
	c := &clock{t: time.Date(2026, 12, 6, 9, 0, 0, 0, time.UTC)}
	dir := t.TempDir()
	s, _, _ := testStore(t, dir, c)
	msg := []byte(attachtest.Thunderbird(attachtest.Content(30<<10, 61), attachtest.Content(100, 62)))
	for _, id := range []string{"TORN-LINKS", "TORN-GC", "WHOLE"} {
		if _, err := s.Put(id, msg, Walk(msg).Attachments()); err != nil {
			t.Fatal(err)
		}
	}
	for _, id := range []string{"TORN-LINKS", "TORN-GC"} {
		f := s.byMsg[id].Files[0]
		seg, err := os.OpenFile(filepath.Join(dir, segmentsDirName, segmentName(f.Seg)), os.O_WRONLY, 0)
		if err != nil {
			t.Fatal(err)
		}
		seg.WriteAt(make([]byte, f.Size), f.Off)
		seg.Close()
	}

	s2, _, _ := testStore(t, dir, c) // restart
	if links, err := s2.Links("TORN-LINKS"); links != nil || err != nil {
		t.Errorf("Links of torn files: %v, %v; want none, so that delivery stores them again", links, err)
	}
	c.Advance(2 * time.Hour) // past the grace: GC asks about the others
	if n := s2.GC(func(string) bool { return true }); n != 1 {
		t.Errorf("GC removed %d messages' files, want 1 (TORN-GC)", n)
	}
	if s2.List("TORN-LINKS") != nil || s2.List("TORN-GC") != nil {
		t.Errorf("torn messages still listed: %+v", s2.List(""))
	}
	if links, err := s2.Links("WHOLE"); len(links) != 2 || err != nil {
		t.Errorf("Links of an intact message after the restart: %v, %v", links, err)
	}
}
