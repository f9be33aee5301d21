package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"time"
)

// scaleResult is the scale mode (goal, docs/performance.md: 100,000 queued messages in under
// 150 MB RSS, ready to accept within 2 s of start).
type scaleResult struct {
	N        int
	Load     loadResult // queueing N messages with the upstream down
	Settled  float64    // seconds waited after the load before measuring
	Mem      memStat    // relayd's memory with N queued, after the load settled (HWM: peak during the load)
	DiskUsed int64      // du of state_dir (allocated bytes) with N queued
	DiskApp  int64      // apparent size of the files
	Stop     float64    // SIGTERM to exit, seconds
	// Ready is the time from starting relayd on the full spool until its
	// SMTP port answered 220; ReadyEmpty the same on an empty spool.
	Ready, ReadyEmpty float64
	MemRestart        memStat // 2 s after the restart, idle, N queued
	RetryAll          float64 // POST /api/v1/queue/retry (deferred -> ready), seconds
	Retried           int
	Drain             float64 // sink up until the sink counted every message, seconds
	DrainPerSec       float64
	MemDrain          memStat // after the drain; HWM: peak of restart and drain
	DrainPeak         memStat // largest RSS, anon and file sampled during the drain (each its own maximum)
	Delivered, Lost   int
	Dup               int
	DiskAfterDrain    int64
	Err               string `json:",omitempty"`

	// Console is the console's Outbox with N queued, after MemRestart and
	// before the drain: its first page and a recipient search, each timed,
	// with relayd's RSS after each.
	Console *consoleResult `json:",omitempty"`
}

// scalePhase queues o.Scale messages with the upstream (smtp-sink) down,
// measures, restarts relayd, measures the time to 220 and the console's
// Outbox (consoleScale), starts the sink,
// makes the deferred mail due (as an operator would: `relayd queue retry
// -all`) and measures the drain. Bounded by RunTimeout per step.
func scalePhase(ctx context.Context, o *options) (*scaleResult, error) {
	res := &scaleResult{N: o.Scale}
	dir, err := mkdirTemp(o.Work, "scale.")
	if err != nil {
		return res, err
	}
	if !o.Keep {
		defer os.RemoveAll(dir)
	}
	var ports [3]int
	for i := range ports {
		if ports[i], err = freePort(); err != nil {
			return res, err
		}
	}
	addr, admin := fmt.Sprintf("127.0.0.1:%d", ports[0]), fmt.Sprintf("127.0.0.1:%d", ports[2])
	state := filepath.Join(dir, "state")
	cfg, err := writeConfig(dir, relaydConfig{Listen: addr, SinkPort: fmt.Sprint(ports[1]), StateDir: state,
		Admin: admin, UpstreamConns: o.UpstreamConns, PerConn: o.PerConn, LogLevel: o.LogLevel})
	if err != nil {
		return res, err
	}
	logPath := filepath.Join(dir, "relayd.log")
	rd, err := startRelayd(o.Relayd, cfg, logPath)
	if err != nil {
		return res, err
	}
	if err := wait220(ctx, addr, 60*time.Second); err != nil {
		rd.stop(30 * time.Second)
		return res, fmt.Errorf("%w: %s", err, tailFile(logPath, 5))
	}
	res.ReadyEmpty = time.Since(rd.started).Seconds()

	logf("scale: queueing %d messages (C=%d, %d KiB), upstream down", o.Scale, o.ScaleC, o.ScaleSizeKB)
	res.Load = runLoad(ctx, loadSpec{Addr: addr, N: o.Scale, C: o.ScaleC, SizeKB: o.ScaleSizeKB, Deadline: o.RunTimeout})
	logf("scale: accepted %d in %.1f s (%.0f/s), first error: %q", res.Load.Accepted, res.Load.Seconds, res.Load.PerSec, res.Load.FirstErr)
	const settle = 10 * time.Second
	time.Sleep(settle)
	res.Settled = settle.Seconds()
	res.Mem, _ = readMem(rd.pid())
	res.DiskUsed, res.DiskApp, _ = diskUsage(state)
	d, err := rd.stop(60 * time.Second)
	res.Stop = d.Seconds()
	if err != nil {
		logf("scale: relayd stop: %v", err)
	}

	// Restart on the full spool: process start to 220.
	rd, err = startRelayd(o.Relayd, cfg, logPath)
	if err != nil {
		return res, err
	}
	defer rd.stop(60 * time.Second)
	if err := wait220(ctx, addr, 5*time.Minute); err != nil {
		return res, fmt.Errorf("restart: %w: %s", err, tailFile(logPath, 5))
	}
	res.Ready = time.Since(rd.started).Seconds()
	logf("scale: restarted with %d queued: 220 after %.3f s", res.Load.Accepted, res.Ready)
	time.Sleep(2 * time.Second)
	res.MemRestart, _ = readMem(rd.pid())
	res.Console = consoleScale(ctx, admin, state, rd.pid(), scaleSearch(o.Scale))
	if res.Console.Err != "" {
		logf("scale: console: %s", res.Console.Err)
	}

	sk, err := startSink(dir, ports[1])
	if err != nil {
		return res, err
	}
	defer sk.stop()
	stopSampling := sampleMem(rd.pid(), 100*time.Millisecond, &res.DrainPeak)
	t0 := time.Now()
	res.Retried, err = retryAll(ctx, admin)
	res.RetryAll = time.Since(t0).Seconds()
	if err != nil {
		logf("scale: retry all: %v", err)
	}
	got := sk.waitCount(res.Load.Accepted, o.RunTimeout, 2*time.Minute)
	res.Drain = time.Since(t0).Seconds()
	stopSampling()
	if res.Drain > 0 {
		res.DrainPerSec = float64(got) / res.Drain
	}
	time.Sleep(2 * time.Second)
	res.Delivered = sk.count()
	res.Lost = max(0, res.Load.Accepted-res.Delivered)
	res.Dup = max(0, res.Delivered-res.Load.Accepted)
	res.MemDrain, _ = readMem(rd.pid())
	res.DiskAfterDrain, _, _ = diskUsage(state)
	logf("scale: drained %d/%d in %.1f s", res.Delivered, res.Load.Accepted, res.Drain)
	return res, nil
}

// scaleSearch is the console search of the scale mode: a recipient from
// the middle of the queue (the load sends message i to i.rcpt@bench.test),
// so the search reads envelopes before it finds it, if it does.
func scaleSearch(n int) string { return fmt.Sprintf("%d.rcpt@bench.test", n/2) }

// retryAll makes every deferred message due now through the admin API
// (what `relayd queue retry -all` does) and returns how many it changed.
func retryAll(ctx context.Context, admin string) (int, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Minute)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+admin+"/api/v1/queue/retry", nil)
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/json") // the admin API refuses other POSTs (415)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	var v struct {
		Retried int    `json:"retried"`
		Error   string `json:"error"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&v); err != nil {
		return 0, fmt.Errorf("retry all: %s: %w", resp.Status, err)
	}
	if resp.StatusCode != http.StatusOK {
		return v.Retried, fmt.Errorf("retry all: %s: %s", resp.Status, v.Error)
	}
	return v.Retried, nil
}
