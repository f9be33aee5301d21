package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"
)

// latencyResult is the Go-driven phase of one shape: the same load against
// a fresh relayd and a fresh private Postfix, one after the other.
type latencyResult struct {
	Shape   shape
	Targets map[string]*targetLoad // "relayd", "postfix"
}

// targetLoad is one target's load result and what reached the sink.
type targetLoad struct {
	Load      loadResult
	Delivered int
	Lost      int
	Sync      syncStats // relayd: spool fsyncs during the load
	Err       string    `json:",omitempty"`
}

// latencyWarmup messages go to each target before the measured load.
const latencyWarmup = 200

// latencyPhase runs, for every shape, min(N, LatencyN) messages against
// relayd and then Postfix, each with its own smtp-sink upstream.
func latencyPhase(ctx context.Context, o *options) ([]latencyResult, error) {
	var out []latencyResult
	for _, sh := range o.Shapes {
		n := min(sh.N, o.LatencyN)
		spec := loadSpec{N: n, C: sh.C, SizeKB: sh.SizeKB, Deadline: o.RunTimeout}
		lr := latencyResult{Shape: sh, Targets: map[string]*targetLoad{}}
		targets := []string{"relayd"}
		if o.Postfix {
			targets = append(targets, "postfix")
		}
		for _, t := range targets {
			logf("latency %s: %s, %d messages", sh, t, n)
			tl, err := latencyTarget(ctx, o, t, spec)
			if err != nil {
				tl = &targetLoad{Err: err.Error()}
				logf("latency %s: %s: %v", sh, t, err)
			}
			lr.Targets[t] = tl
			if ctx.Err() != nil {
				return append(out, lr), ctx.Err()
			}
		}
		out = append(out, lr)
	}
	return out, nil
}

// latencyTarget starts a sink and target (fresh state), warms it up, runs
// spec against it and waits for delivery.
func latencyTarget(ctx context.Context, o *options, target string, spec loadSpec) (*targetLoad, error) {
	dir, err := mkdirTemp(o.Work, "latency-"+target+".")
	if err != nil {
		return nil, err
	}
	if !o.Keep {
		defer os.RemoveAll(dir)
	}
	sinkPort, err := freePort()
	if err != nil {
		return nil, err
	}
	sk, err := startSink(dir, sinkPort)
	if err != nil {
		return nil, err
	}
	defer sk.stop()
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	admin := ""
	switch target {
	case "relayd":
		ap, err := freePort()
		if err != nil {
			return nil, err
		}
		admin = fmt.Sprintf("127.0.0.1:%d", ap)
		cfg, err := writeConfig(dir, relaydConfig{Listen: addr, SinkPort: fmt.Sprint(sinkPort),
			StateDir: filepath.Join(dir, "state"), Admin: admin,
			UpstreamConns: o.UpstreamConns, PerConn: o.PerConn, LogLevel: o.LogLevel})
		if err != nil {
			return nil, err
		}
		rd, err := startRelayd(o.Relayd, cfg, filepath.Join(dir, "relayd.log"))
		if err != nil {
			return nil, err
		}
		defer rd.stop(30 * time.Second)
		if err := wait220(ctx, addr, 30*time.Second); err != nil {
			return nil, fmt.Errorf("%w: %s", err, tailFile(filepath.Join(dir, "relayd.log"), 5))
		}
	case "postfix":
		pf, err := startPostfix(filepath.Join(dir, "postfix"), port, sinkPort)
		if err != nil {
			return nil, err
		}
		defer pf.Stop()
	}
	spec.Addr = addr
	warm := runLoad(ctx, loadSpec{Addr: addr, N: latencyWarmup, C: spec.C, SizeKB: spec.SizeKB, Deadline: spec.Deadline})
	base := sk.waitCount(warm.Accepted, 2*time.Minute, 30*time.Second)
	var s0 syncStats
	if admin != "" {
		s0, _ = scrapeSync(ctx, admin)
	}
	tl := &targetLoad{Load: runLoad(ctx, spec)}
	if admin != "" {
		if s1, err := scrapeSync(ctx, admin); err == nil {
			tl.Sync = s1.sub(s0)
		}
	}
	sk.waitCount(base+tl.Load.Accepted, o.RunTimeout, time.Minute)
	time.Sleep(time.Second) // settle: count late duplicates too
	tl.Delivered = sk.count() - base
	tl.Lost = max(0, tl.Load.Accepted-tl.Delivered)
	return tl, nil
}
