package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"
)

// memoryResult is the memory phase: relayd's memory while MemClients
// clients each send one MemSizeMB message at the same time (issue 14 point
// 8: the bytes buffered across sessions must be bounded, never an OOM).
type memoryResult struct {
	Clients, SizeMB int
	Load            loadResult
	Delivered, Lost int
	Idle            memStat // before the load
	Peak            memStat // largest RSS, anon and file sampled every 50 ms (each its own maximum)
	HWM             int64   // VmHWM (KiB) after delivery: the kernel's own peak RSS of the process
	Err             string  `json:",omitempty"`
}

// memoryPhase starts a fresh relayd relaying to a fresh smtp-sink, has
// o.MemClients clients send one o.MemSizeMB MiB message each, all at once,
// waits for delivery and reports relayd's peak RSS. Bounded: MemClients
// messages, o.RunTimeout.
func memoryPhase(ctx context.Context, o *options) (*memoryResult, error) {
	res := &memoryResult{Clients: o.MemClients, SizeMB: o.MemSizeMB}
	dir, err := mkdirTemp(o.Work, "memory.")
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
	addr := fmt.Sprintf("127.0.0.1:%d", ports[0])
	cfg, err := writeConfig(dir, relaydConfig{Listen: addr, SinkPort: fmt.Sprint(ports[1]),
		StateDir: filepath.Join(dir, "state"), Admin: fmt.Sprintf("127.0.0.1:%d", ports[2]),
		UpstreamConns: o.UpstreamConns, PerConn: o.PerConn, LogLevel: o.LogLevel})
	if err != nil {
		return res, err
	}
	sk, err := startSink(dir, ports[1])
	if err != nil {
		return res, err
	}
	defer sk.stop()
	logPath := filepath.Join(dir, "relayd.log")
	rd, err := startRelayd(o.Relayd, cfg, logPath)
	if err != nil {
		return res, err
	}
	defer rd.stop(60 * time.Second)
	if err := wait220(ctx, addr, 30*time.Second); err != nil {
		return res, fmt.Errorf("%w: %s", err, tailFile(logPath, 5))
	}
	res.Idle, _ = readMem(rd.pid())
	logf("memory: %d clients x %d MiB at once into relayd (idle RSS %s)", o.MemClients, o.MemSizeMB, res.Idle)
	stopSampling := sampleMem(rd.pid(), 50*time.Millisecond, &res.Peak)
	res.Load = runLoad(ctx, loadSpec{Addr: addr, N: o.MemClients, C: o.MemClients, SizeKB: o.MemSizeMB << 10,
		Deadline: o.RunTimeout})
	sk.waitCount(res.Load.Accepted, o.RunTimeout, time.Minute)
	stopSampling()
	res.Delivered = sk.count()
	res.Lost = max(0, res.Load.Accepted-res.Delivered)
	if m, err := readMem(rd.pid()); err == nil {
		res.HWM = m.HWM
	}
	logf("memory: accepted %d, failed %d, delivered %d; peak RSS %.1f MB", res.Load.Accepted, res.Load.Failed,
		res.Delivered, float64(res.HWM)/1024)
	return res, nil
}

func (m *memoryResult) print(w io.Writer) {
	l := m.Load
	fmt.Fprintf(w, "\n-- memory: %d clients each send one %d MiB message at once --\n", m.Clients, m.SizeMB)
	fmt.Fprintf(w, "accepted %d, refused or failed %d in %.1f s; delivered %d, lost %d %s\n",
		l.Accepted, l.Failed, l.Seconds, m.Delivered, m.Lost, l.FirstErr)
	fmt.Fprintf(w, "relayd RSS idle before: %s\n", m.Idle)
	fmt.Fprintf(w, "relayd peak RSS (VmHWM): %.1f MB; largest sampled every 50 ms: RSS %.1f MB, anon %.1f, file %.1f; "+
		"the messages alone are %d MB\n", float64(m.HWM)/1024, float64(m.Peak.RSS)/1024, float64(m.Peak.Anon)/1024,
		float64(m.Peak.File)/1024, m.Clients*m.SizeMB)
	if m.Err != "" {
		fmt.Fprintln(w, "error:", m.Err)
	}
}
