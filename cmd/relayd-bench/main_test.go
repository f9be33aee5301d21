package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// The benchmark itself never runs under go test; these check the parsing
// and rendering it relies on, in microseconds.

func TestParseShape(t *testing.T) {
	got, err := parseShape(" 5000x20x5")
	if err != nil || got != (shape{N: 5000, C: 20, SizeKB: 5}) {
		t.Fatalf("parseShape = %v, %v", got, err)
	}
	for _, bad := range []string{"5000x20", "0x1x1", "ax1x1", "1x1x1x1"} {
		if _, err := parseShape(bad); err == nil {
			t.Errorf("parseShape(%q): no error", bad)
		}
	}
}

func TestLineKVAndMedian(t *testing.T) {
	runs := []map[string]string{
		lineKV("target=relayd rep=1 accept_msgs_per_s=900.5 lost=0 status=ok"),
		lineKV("target=relayd rep=2 accept_msgs_per_s=NA lost=2 status=ok"),
		lineKV("target=relayd rep=3 accept_msgs_per_s=700.5 lost=1 status=ok"),
	}
	if m, ok := median(runs, "accept_msgs_per_s"); !ok || m != 800.5 {
		t.Errorf("median = %v, %v; want 800.5 (NA skipped)", m, ok)
	}
	if s := sum(runs, "lost"); s != "3" {
		t.Errorf("sum lost = %s", s)
	}
}

func TestGoals(t *testing.T) {
	g := goals(shape{N: 1, C: 20, SizeKB: 5})
	if g["accept"].verdict(5.1, true) != "ok" || g["accept"].verdict(4.9, true) != "MISS" {
		t.Error("accept >= 5x not applied")
	}
	if g["cpu"].verdict(0.19, true) != "ok" || g["cpu"].verdict(0.3, true) != "MISS" {
		t.Error("cpu <= 0.2x not applied")
	}
	if goals(shape{N: 1, C: 1, SizeKB: 5})["accept"].Min != 3 || goals(shape{N: 1, C: 20, SizeKB: 100})["e2e"].Min != 3 {
		t.Error("3x goals not applied")
	}
}

func TestConfigAndSyncStats(t *testing.T) {
	toml := relaydConfig{Listen: "127.0.0.1:2525", SinkPort: "2626", StateDir: "/var/tmp/x", Admin: "127.0.0.1:9425",
		UpstreamConns: 8, PerConn: 1000, LogLevel: "info"}.toml()
	for _, want := range []string{`auth = "none"`, "max_connections_per_ip = 200", `default_profile = "sink"`,
		"port = 2626", `tls = "none"`, "max_per_connection = 1000", `state_dir = "/var/tmp/x"`} {
		if !strings.Contains(toml, want) {
			t.Errorf("config lacks %s", want)
		}
	}
	s := parseSyncStats(strings.NewReader("relayd_spool_sync_duration_seconds_sum 0.5\nrelayd_spool_sync_duration_seconds_count 100\n"))
	if s != (syncStats{Count: 100, Sum: 0.5}) {
		t.Errorf("parseSyncStats = %+v", s)
	}
}

// The harness reads smtp-sink's and smtp-source's counters as the shell
// harness did: the last complete record counts, a partial one does not.
func TestToolCounters(t *testing.T) {
	out := filepath.Join(t.TempDir(), "sink.out")
	var b strings.Builder
	for i := 1; i <= 300; i++ {
		fmt.Fprintf(&b, "sess=%d quit=%d mesg=%d\r", i, i, i)
	}
	b.WriteString("sess=301 quit=30") // being written
	if err := os.WriteFile(out, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	if n := (&sink{out: out}).count(); n != 300 {
		t.Errorf("sink count = %d, want 300", n)
	}
	if n := sourceCount("1\r2\r3\r"); n != 3 {
		t.Errorf("smtp-source count = %d, want 3", n)
	}
	if n := sourceCount(""); n != 0 {
		t.Errorf("smtp-source count of nothing = %d", n)
	}
}

// The process figures come from /proc: this process's own tree has CPU
// ticks, an RSS and (with smaps_rollup) a PSS.
func TestProcFigures(t *testing.T) {
	pid := os.Getpid()
	for i := 0; i < 3e7; i++ { // burn a few ticks
		_ = i * i
	}
	if treeTicks(pid) <= 0 && selfTicks() <= 0 {
		t.Error("no CPU ticks for this process")
	}
	stop := sampleTree(pid, time.Millisecond)
	m := stop()
	if m.rss <= 0 || m.procs != 1 {
		t.Errorf("sampleTree = %+v", m)
	}
	if h := readHostCPU(); h.busy+h.idle <= 0 {
		t.Errorf("host CPU = %+v", h)
	}
}
