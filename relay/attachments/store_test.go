package attachments

import (
	"crypto/sha256"
	"github.com/relayd/relayd/relay/attachments/attachtest"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// testStore is a Store in a temp dir behind a real HTTP server on loopback.
func testStore(t *testing.T, dir string, c *clock) (*Store, *httptest.Server, *prometheus.Registry) {
	t.Helper()
	reg := prometheus.NewRegistry()
	srv := httptest.NewUnstartedServer(nil)
	s, err := Open(Options{Dir: dir, BaseURL: "http://" + srv.Listener.Addr().String() + "/files", Retention: 30 * 24 * time.Hour,
		Now: c.Now, Registerer: reg})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/files/", http.StripPrefix("/files", s.Handler()))
	srv.Config.Handler = mux
	srv.Start()
	t.Cleanup(srv.Close)
	return s, srv, reg
}

func get(t *testing.T, method, url string, hdr map[string]string) (*http.Response, []byte) {
	t.Helper()
	req, _ := http.NewRequest(method, url, nil)
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, b
}

// TestStoreDownload: the link answers the original octets with the download server's
// headers, Range and HEAD; a changed token is 404, a revoked or expired
// one 410; the metrics count each result.
func TestStoreDownload(t *testing.T) {
	c := &clock{t: time.Date(2026, 11, 24, 9, 0, 0, 0, time.UTC)}
	s, _, reg := testStore(t, t.TempDir(), c)
	big, small := attachtest.Content(300<<10, 11), attachtest.Content(2000, 12)
	msg := []byte(attachtest.Thunderbird(big, small))
	atts := Walk(msg).Attachments()
	links, err := s.Put("MSG1", msg, atts)
	if err != nil {
		t.Fatal(err)
	}
	l := links[atts[1].Index]
	if !strings.HasSuffix(l.URL, "/Zahlen%20M%C3%A4rz.csv") {
		t.Errorf("link %s", l.URL)
	}
	resp, body := get(t, "GET", links[atts[0].Index].URL, nil)
	if resp.StatusCode != 200 || sha256.Sum256(body) != sha256.Sum256(big) {
		t.Fatalf("GET %d, %d octets", resp.StatusCode, len(body))
	}
	for k, v := range map[string]string{"Content-Type": "application/pdf", "Content-Disposition": `attachment; filename=report.pdf`,
		"X-Content-Type-Options": "nosniff", "Content-Security-Policy": "sandbox"} {
		if got := resp.Header.Get(k); got != v {
			t.Errorf("%s: %q, want %q", k, got, v)
		}
	}
	resp, body = get(t, "GET", l.URL, map[string]string{"Range": "bytes=100-199"})
	if resp.StatusCode != http.StatusPartialContent || string(body) != string(small[100:200]) {
		t.Errorf("Range: %d %d octets", resp.StatusCode, len(body))
	}
	if cd := resp.Header.Get("Content-Disposition"); cd != `attachment; filename*=utf-8''Zahlen%20M%C3%A4rz.csv` {
		t.Errorf("Content-Disposition %q", cd)
	}
	resp, body = get(t, "HEAD", l.URL, nil)
	if resp.StatusCode != 200 || len(body) != 0 || resp.ContentLength != 2000 {
		t.Errorf("HEAD: %d len %d body %d", resp.StatusCode, resp.ContentLength, len(body))
	}
	tok := strings.Split(l.URL, "/")[5]
	changed := strings.Replace(l.URL, tok, tok[:len(tok)-1]+"a", 1)
	if tok[len(tok)-1] == 'a' {
		changed = strings.Replace(l.URL, tok, tok[:len(tok)-1]+"b", 1)
	}
	if resp, _ := get(t, "GET", changed, nil); resp.StatusCode != 404 {
		t.Errorf("changed token: %d", resp.StatusCode)
	}
	if _, err := s.Revoke(tok); err != nil {
		t.Fatal(err)
	}
	if resp, _ := get(t, "GET", l.URL, nil); resp.StatusCode != 410 {
		t.Errorf("revoked: %d", resp.StatusCode)
	}
	c.Advance(30*24*time.Hour + time.Second)
	if resp, _ := get(t, "GET", links[atts[0].Index].URL, nil); resp.StatusCode != 410 {
		t.Errorf("expired: %d", resp.StatusCode)
	}
	s.GC(func(string) bool { return true })
	if ents, _ := os.ReadDir(filepath.Join(s.opts.Dir, "files")); len(ents) != 0 {
		t.Errorf("files left after retention: %v", ents)
	}
	if resp, _ := get(t, "GET", links[atts[0].Index].URL, nil); resp.StatusCode != 410 {
		t.Errorf("expired after GC: %d", resp.StatusCode)
	}
	for r, want := range map[string]float64{"ok": 3, "not_found": 1, "expired": 3} {
		if got := testutil.ToFloat64(s.metrics.downloads.WithLabelValues(r)); got != want {
			t.Errorf("downloads{result=%s} = %v, want %v", r, got, want)
		}
	}
	if n, err := testutil.GatherAndCount(reg, "relayd_attachment_downloads_total"); err != nil || n != 3 {
		t.Errorf("gather: %d %v", n, err)
	}
}

// TestStoreGCAndReopen: files of a message the spool never got are
// removed after the grace; a committed message's files survive a reopen
// (a restart) and still download.
func TestStoreGCAndReopen(t *testing.T) {
	c := &clock{t: time.Date(2026, 11, 24, 9, 0, 0, 0, time.UTC)}
	dir := t.TempDir()
	s, _, _ := testStore(t, dir, c)
	msg := []byte(attachtest.Thunderbird(attachtest.Content(10000, 13), attachtest.Content(100, 14)))
	atts := Walk(msg).Attachments()
	if _, err := s.Put("KEPT", msg, atts); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Put("ORPHAN", msg, atts); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, segmentsDirName, segmentName(99)), []byte("x"), 0o600) // a crashed Put's segment
	exists := func(id string) bool { return id == "KEPT" }
	if n := s.GC(exists); n != 0 {
		t.Errorf("GC within the grace removed %d", n)
	}
	c.Advance(2 * time.Hour)

	s2, _, _ := testStore(t, dir, c) // restart
	if n := s2.GC(exists); n != 1 {
		t.Errorf("GC removed %d messages' files, want 1 (the orphan)", n)
	}
	if len(s2.List("ORPHAN")) != 0 || len(s2.List("KEPT")) != 2 {
		t.Errorf("after GC: %+v", s2.List(""))
	}
	ents, _ := os.ReadDir(filepath.Join(dir, segmentsDirName))
	if len(ents) != 1 || ents[0].Name() != segmentName(1) {
		t.Errorf("segments left: %v, want the first (KEPT's)", ents)
	}
	info := s2.List("KEPT")[0]
	if resp, body := get(t, "GET", strings.Replace(info.URL, s.opts.BaseURL, s2.opts.BaseURL, 1), nil); resp.StatusCode != 200 ||
		len(body) != int(info.Size) {
		t.Errorf("download after restart: %d", resp.StatusCode)
	}
}
