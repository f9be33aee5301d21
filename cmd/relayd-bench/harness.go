package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"
)

// The side-by-side harness: for one shape it measures the tools' ceiling
// (smtp-source straight into smtp-sink), a private Postfix and relayd, one
// after the other, each relaying to its own fresh smtp-sink, all on
// loopback in this child's private network namespace:
//
//	smtp-source (load) --SMTP--> target (relay under test) --SMTP--> smtp-sink (upstream)
//
// Every figure is measured as the project's original shell harness
// (peer-bench.sh) measured it, so that the ratios to the goals stay comparable with
// earlier results: each target first gets Warmup unmeasured messages, then
// Repeat measured runs of N messages over C sessions, one TCP connection
// per message, one recipient, S KiB bodies.

// Harness constants, the shell harness's defaults.
const (
	harnessStall    = 60 * time.Second       // give up waiting for delivery after this long without progress
	harnessSettle   = time.Second            // keep watching the sink after the last message (duplicates)
	harnessSample   = 200 * time.Millisecond // memory sampling period
	harnessPollSink = 10 * time.Millisecond
	clkTck          = 100 // USER_HZ: the unit of /proc/PID/stat and /proc/stat times on Linux
)

// harnessRun is one shape's harness outcome: a result line per measured run
// of each target, parsed, plus the disk writes of each run.
type harnessRun struct {
	Header string                         // the "# relayd-bench harness start=..." line
	Runs   map[string][]map[string]string // target -> one map of key=value per measured run
	// WritePerMsg is write_bytes of the target's process tree during each
	// measured run (load, delivery and the settle second), per accepted
	// message.
	WritePerMsg map[string][]float64
}

// lineKV parses "k=v k=v ..." words.
func lineKV(line string) map[string]string {
	kv := map[string]string{}
	for _, w := range strings.Fields(line) {
		if k, v, ok := strings.Cut(w, "="); ok {
			kv[k] = v
		}
	}
	return kv
}

// harnessPhase is the child side of one shape: ceiling, Postfix, relayd.
func harnessPhase(ctx context.Context, o *options, sh shape) (*harnessRun, error) {
	hr := &harnessRun{Runs: map[string][]map[string]string{}, WritePerMsg: map[string][]float64{}}
	h0 := readHostCPU()
	time.Sleep(time.Second)
	busy := busyPct(h0, readHostCPU())
	if busy > 15 {
		logf("WARNING: host already %d%% busy before the benchmark: other load present, figures will be noisy", busy)
	}
	hr.Header = fmt.Sprintf("# relayd-bench harness start=%s cpus=%d kernel=%s workdir_fs=%s postfix=%s netns=%d busy_before_pct=%d",
		time.Now().UTC().Format("2006-01-02T15:04:05Z"), runtime.NumCPU(), kernelRelease(), fsType(o.Work),
		postfixVersion(), map[bool]int{true: 1}[o.Netns], busy)
	targets := []string{}
	if o.ceiling {
		targets = append(targets, "sink")
	}
	if o.Postfix {
		targets = append(targets, "postfix")
	}
	targets = append(targets, "relayd")
	if o.Cluster {
		targets = append(targets, "relayd-cluster")
	}
	for _, t := range targets {
		if err := harnessTarget(ctx, o, sh, t, hr); err != nil {
			logf("harness %s: %s: %v", sh, t, err)
		}
		if ctx.Err() != nil {
			return hr, ctx.Err()
		}
	}
	return hr, nil
}

// harnessTarget starts target's sink and the target itself (fresh state),
// warms it up and measures o.Repeat runs.
func harnessTarget(ctx context.Context, o *options, sh shape, target string, hr *harnessRun) error {
	dir, err := mkdirTemp(o.Work, "harness-"+target+".")
	if err != nil {
		return err
	}
	if !o.Keep {
		defer os.RemoveAll(dir)
	}
	sinkPort, err := freePort()
	if err != nil {
		return err
	}
	sk, err := startSink(dir, sinkPort)
	if err != nil {
		return err
	}
	defer sk.stop()
	m := &measured{name: target, sink: sk, dir: dir}
	switch target {
	case "sink":
		m.addr = fmt.Sprintf("127.0.0.1:%d", sinkPort)
	case "postfix":
		port, err := freePort()
		if err != nil {
			return err
		}
		pf, err := startPostfix(filepath.Join(dir, "postfix"), port, sinkPort)
		if err != nil {
			return err
		}
		defer pf.Stop()
		logf("postfix %s started: master pid %d, 127.0.0.1:%d -> [127.0.0.1]:%d", postfixVersion(), pf.Master(), port, sinkPort)
		m.addr, m.root, m.queued = fmt.Sprintf("127.0.0.1:%d", port), pf.Master(), pf.Queued
	case "relayd", "relayd-cluster":
		var ports [2]int
		for i := range ports {
			if ports[i], err = freePort(); err != nil {
				return err
			}
		}
		addr := fmt.Sprintf("127.0.0.1:%d", ports[0])
		c := relaydConfig{Listen: addr, SinkPort: fmt.Sprint(sinkPort),
			StateDir: filepath.Join(dir, "state"), Admin: fmt.Sprintf("127.0.0.1:%d", ports[1]),
			UpstreamConns: o.UpstreamConns, PerConn: o.PerConn, LogLevel: o.LogLevel}
		if target == "relayd-cluster" {
			port, err := freePort()
			if err != nil {
				return err
			}
			rs, err := startRedis(dir, port)
			if err != nil {
				return err
			}
			defer rs.stop() // after relayd's stop (defers run last first)
			logf("redis-server started: pid %d, %s", rs.pid(), rs.addr)
			c.ClusterRedis, c.Rate = rs.url(), clusterRate
			m.redis, m.redisPID = rs.addr, rs.pid()
		}
		cfg, err := writeConfig(dir, c)
		if err != nil {
			return err
		}
		logPath := filepath.Join(dir, "relayd.log")
		rd, err := startRelayd(o.Relayd, cfg, logPath)
		if err != nil {
			return err
		}
		defer rd.stop(30 * time.Second)
		if err := wait220(ctx, addr, 30*time.Second); err != nil {
			return fmt.Errorf("%w: %s", err, tailFile(logPath, 5))
		}
		logf("relayd started: pid %d, %s -> 127.0.0.1:%d", rd.pid(), addr, sinkPort)
		m.addr, m.root = addr, rd.pid()
	}
	if o.Warmup > 0 {
		logf("%s: warm-up %d messages", target, o.Warmup)
		b0 := sk.count()
		w := smtpSource(ctx, m.addr, o.Warmup, sh, filepath.Join(dir, "warmup"), o.RunTimeout)
		if w.err != nil {
			logf("%s: warm-up load failed: %v", target, w.err)
		}
		sk.waitDelivered(ctx, b0+w.accepted, time.Now().Add(o.RunTimeout), harnessStall)
		time.Sleep(harnessSettle)
	}
	for rep := 1; rep <= o.Repeat && ctx.Err() == nil; rep++ {
		line, wpm, ok := m.run(ctx, o, sh, rep)
		fmt.Fprintln(os.Stderr, "  | "+line)
		kv := lineKV(line)
		hr.Runs[target] = append(hr.Runs[target], kv)
		if ok {
			hr.WritePerMsg[target] = append(hr.WritePerMsg[target], wpm)
		}
		if kv["lost"] != "0" {
			logf("%s: %s messages not delivered within the wait; later runs may be skewed", target, kv["lost"])
		}
	}
	return nil
}
