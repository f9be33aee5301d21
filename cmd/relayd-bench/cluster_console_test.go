package main

import (
	"context"
	"fmt"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/BurntSushi/toml"

	"github.com/relayd/relayd/policy"
	"github.com/relayd/relayd/relay"
	"github.com/relayd/relayd/relay/console"
	"github.com/relayd/relayd/spool"
)

func TestClusterFlag(t *testing.T) {
	o, err := parseFlags([]string{"-shapes", "2000x20x5", "-cluster"})
	if err != nil {
		t.Fatal(err)
	}
	if !o.Cluster || len(o.Shapes) != 1 || o.Shapes[0] != (shape{N: 2000, C: 20, SizeKB: 5}) {
		t.Errorf("-shapes 2000x20x5 -cluster parsed as %+v", o)
	}
	if o, err := parseFlags([]string{"-n", "100"}); err != nil || o.Cluster {
		t.Errorf("without -cluster: Cluster %v, %v", o != nil && o.Cluster, err)
	}
	if _, err := parseFlags([]string{"-n", "0", "-scale", "10", "-cluster"}); err == nil || !strings.Contains(err.Error(), "-shapes") {
		t.Errorf("-cluster without shapes: %v, want an error naming -shapes", err)
	}
}

// The cluster config: the profile's rate and a [cluster] table with the
// Redis URL; without them neither appears.
func TestClusterConfig(t *testing.T) {
	c := relaydConfig{Listen: "127.0.0.1:2525", SinkPort: "2626", StateDir: "/var/tmp/x", Admin: "127.0.0.1:9425",
		UpstreamConns: 8, PerConn: 1000, LogLevel: "info", Rate: clusterRate, ClusterRedis: "redis://127.0.0.1:6390/0"}
	var v struct {
		Profile []struct {
			Name, Rate string
		}
		Cluster struct{ Redis string }
	}
	if _, err := toml.Decode(c.toml(), &v); err != nil {
		t.Fatalf("config does not parse: %v\n%s", err, c.toml())
	}
	if len(v.Profile) != 1 || v.Profile[0].Name != "sink" || v.Profile[0].Rate != "1000000/m" || v.Cluster.Redis != "redis://127.0.0.1:6390/0" {
		t.Errorf("decoded %+v from\n%s", v, c.toml())
	}
	c.Rate, c.ClusterRedis = "", ""
	if s := c.toml(); strings.Contains(s, "[cluster]") || strings.Contains(s, "rate =") {
		t.Errorf("config without cluster has cluster keys:\n%s", s)
	}
	want := []string{"--save", "", "--appendonly", "no", "--bind", "127.0.0.1", "--port", "6390"}
	if a := redisArgs("/d", 6390); !slices.Equal(a[:len(want)], want) {
		t.Errorf("redisArgs = %q", a)
	}
}

func TestScriptCalls(t *testing.T) {
	info := "# Commandstats\r\ncmdstat_ping:calls=3,usec=1\r\ncmdstat_evalsha:calls=2000,usec=9,usec_per_call=0.1\r\n" +
		"cmdstat_eval:calls=1,usec=5\r\ncmdstat_script|load:calls=1,usec=1\r\n"
	if n := scriptCalls(info); n != 2001 {
		t.Errorf("scriptCalls = %d, want 2001", n)
	}
}

// startRedis runs a real redis-server on loopback that answers, counts the
// scripts it ran, and is gone after stop.
func TestRedisProc(t *testing.T) {
	if _, err := exec.LookPath("redis-server"); err != nil {
		t.Skip("redis-server is not installed (apt-get install redis-server)")
	}
	port, err := freePort()
	if err != nil {
		t.Fatal(err)
	}
	rs, err := startRedis(t.TempDir(), port)
	if err != nil {
		t.Fatal(err)
	}
	defer rs.stop()
	if got, err := redisCommand(rs.addr, `EVAL "return 1" 0`); err != nil || got != "1" {
		t.Fatalf("EVAL = %q, %v", got, err)
	}
	if n, err := redisScriptCalls(rs.addr); err != nil || n != 1 {
		t.Errorf("script calls = %d, %v; want 1", n, err)
	}
	rs.stop()
	if _, err := redisCommand(rs.addr, "PING"); err == nil {
		t.Error("redis-server still answers after stop")
	}
}

// consoleScale logs in with the admin token over loopback HTTP as a
// browser does (the login form's cookie, its CSRF field, Origin), then
// times the Outbox's first page five times and one recipient search.
func TestConsoleScale(t *testing.T) {
	state := t.TempDir()
	const tok = "bench-admin-token"
	if err := os.WriteFile(adminTokenPath(state), []byte(tok+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	store, err := spool.Open(spool.Options{Dir: filepath.Join(state, "spool"), Fsync: func(*os.File) error { return nil }})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	now := time.Now()
	for i := range 3 {
		m := &spool.Message{ID: spool.NewID(), Created: now, Sender: "sender@bench.test", Listener: "bench",
			From: "<sender@bench.test>", Subject: fmt.Sprintf("relayd-bench %d", i)}
		m.Recipients = []spool.Recipient{{Address: fmt.Sprintf("%d.rcpt@bench.test", i), Profile: "sink",
			Rule: "system default", State: spool.StateDeferred, NextAttempt: now.Add(time.Hour), Updated: now}}
		body := []byte("Subject: x\r\n\r\nhello\r\n")
		m.Size = int64(len(body))
		if err := store.Commit(m, body); err != nil {
			t.Fatal(err)
		}
	}
	cfg := &relay.Config{Hostname: "relay.test", Profiles: map[string]*relay.Profile{},
		Policy: policy.Config{Enabled: map[string]bool{}}, Users: map[string]relay.User{}}
	srv, err := relay.New(relay.Options{Config: cfg, Spool: store})
	if err != nil {
		t.Fatal(err)
	}
	c := console.New(console.Options{Server: srv, AdminToken: func() string { return tok }})
	ts := httptest.NewServer(c.Handler())
	defer ts.Close()
	admin := strings.TrimPrefix(ts.URL, "http://")

	res := consoleScale(context.Background(), admin, state, os.Getpid(), scaleSearch(3))
	if res.Err != "" {
		t.Fatal(res.Err)
	}
	if len(res.Requests) != consoleOutboxRepeats+1 || res.MaxRSS <= 0 || res.Login <= 0 {
		t.Fatalf("result %+v", res)
	}
	for _, q := range res.Requests {
		want := 3
		if strings.Contains(q.Path, "q=") {
			want = 1 // 1.rcpt@bench.test
		}
		if q.Status != 200 || q.Rows != want || q.RSS <= 0 {
			t.Errorf("%s: %+v, want 200 with %d rows", q.Path, q, want)
		}
	}
	if got := len(res.firstPageMs()); got != consoleOutboxRepeats {
		t.Errorf("%d first-page times", got)
	}
	var b strings.Builder
	res.print(&b, 3)
	if !strings.Contains(b.String(), "Outbox first page: max") || !strings.Contains(b.String(), "GET /outbox?q=1.rcpt%40bench.test: 200, 1 rows") {
		t.Errorf("report:\n%s", b.String())
	}

	// A wrong token: the login fails and says so; no page is requested.
	if err := os.WriteFile(adminTokenPath(state), []byte("wrong"), 0o600); err != nil {
		t.Fatal(err)
	}
	res = consoleScale(context.Background(), admin, state, os.Getpid(), "x")
	if !strings.Contains(res.Err, "401") || len(res.Requests) != 0 || strings.Contains(res.Err, "wrong") {
		t.Errorf("wrong token: %+v", res)
	}
}

// A shape with relayd-cluster runs gets the [cluster] table: relayd with
// cluster against Postfix with the goal, plain relayd beside it, and the
// script runs Redis counted.
func TestClusterReport(t *testing.T) {
	run := func(target, accept, cpu, extra string) map[string]string {
		return lineKV("target=" + target + " accepted=2000 accept_msgs_per_s=" + accept + " e2e_msgs_per_s=" + accept +
			" cpu_us_per_msg=" + cpu + " peak_rss_kb=40960 peak_pss_kb=40960 lost=0 dup=0 status=ok other_load_pct=1 " + extra)
	}
	hr := &harnessRun{Header: "# h", Runs: map[string][]map[string]string{
		"relayd":         {run("relayd", "900", "600", "")},
		"postfix":        {run("postfix", "150", "4000", "")},
		"relayd-cluster": {run("relayd-cluster", "780", "700", "redis_cpu_us_per_msg=90 redis_script_calls=2000")},
	}, WritePerMsg: map[string][]float64{}}
	sh := shape{N: 2000, C: 20, SizeKB: 5}
	rep := &report{Opts: &options{Shapes: []shape{sh}}, Harness: []*harnessRun{hr}}
	var b strings.Builder
	rep.print(&b)
	out := b.String()
	for _, want := range []string{"with [cluster]", "relayd+cluster", "relayd (no cluster)", "5.20", "script runs per measured run: 2000 (accepted: 2000)"} {
		if !strings.Contains(out, want) {
			t.Errorf("report lacks %q:\n%s", want, out)
		}
	}
	var accept string
	for _, l := range strings.Split(out[strings.Index(out, "with [cluster]"):], "\n") {
		if strings.Contains(l, "accept msg/s") {
			accept = strings.Join(strings.Fields(l), " ")
			break
		}
	}
	if accept != "accept msg/s 780.0 150.0 5.20 >= 5x ok 900.0" {
		t.Errorf("cluster accept row = %q", accept)
	}
}
