package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// measured is one target of the harness: where the load goes, the process
// tree whose CPU, memory and disk writes count (0: none, the ceiling), and
// how to count what is left in its queue (nil: not known).
type measured struct {
	name   string
	addr   string
	root   int
	queued func() int
	sink   *sink
	dir    string
	// redis is the [cluster] redis-server of relayd-cluster ("" for the
	// others): its CPU is reported apart (and not counted as other load),
	// and the Lua script runs during the run are counted.
	redis    string
	redisPID int
}

// run is one measured run: the load, the wait for delivery, the figures.
// It returns the result line, the disk writes per accepted message and
// whether those could be measured.
func (m *measured) run(ctx context.Context, o *options, sh shape, rep int) (string, float64, bool) {
	base := m.sink.count()
	hc0, ht0, kt0 := readHostCPU(), hostTaskTicks(), treeTicks(2)
	sk0, self0 := pidTicks(m.sink.cmd.Process.Pid), selfTicks()
	var cpu0 int64
	var io0 ioBytes
	var ioErr error
	var stopSampler func() treeMem
	if m.root > 0 {
		cpu0 = treeTicks(m.root)
		io0, ioErr = treeIO(m.root)
		stopSampler = sampleTree(m.root, harnessSample)
	}
	var rs0 int64
	var sc0 int64
	scErr := error(nil)
	if m.redisPID > 0 {
		rs0 = pidTicks(m.redisPID)
		sc0, scErr = redisScriptCalls(m.redis)
	}
	logf("%s: run %d/%d: n=%d c=%d rcpt=1 size=%dKiB reuse=0", m.name, rep, o.Repeat, sh.N, sh.C, sh.SizeKB)
	t0 := time.Now()
	src := smtpSource(ctx, m.addr, sh.N, sh, filepath.Join(m.dir, fmt.Sprintf("load-%d", rep)), o.RunTimeout)
	t1 := time.Now()
	status := "ok"
	if src.err != nil {
		status = fmt.Sprintf("source_rc_%d", src.rc)
		logf("smtp-source after %d messages: %v", src.accepted, src.err)
	}
	m.sink.waitDelivered(ctx, base+src.accepted, t0.Add(o.RunTimeout), harnessStall)
	t2 := time.Now()
	hbusy := busyPct(hc0, readHostCPU())
	f := map[string]string{"cpu_s": "NA", "cpu_us_per_msg": "NA", "peak_rss_kb": "NA", "peak_pss_kb": "NA",
		"max_procs": "NA", "queue_left": "NA"}
	var dcpu int64
	if m.root > 0 {
		dcpu = treeTicks(m.root) - cpu0
		cpuS := float64(dcpu) / clkTck
		f["cpu_s"] = fmt.Sprintf("%.2f", cpuS)
		f["cpu_us_per_msg"] = fmt.Sprintf("%.0f", cpuS*1e6/float64(max(src.accepted, 1)))
		mem := stopSampler()
		f["max_procs"] = strconv.Itoa(mem.procs)
		if mem.rss > 0 {
			f["peak_rss_kb"] = strconv.FormatInt(mem.rss, 10)
		}
		if mem.pss > 0 {
			f["peak_pss_kb"] = strconv.FormatInt(mem.pss, 10)
		}
	}
	// CPU the machine spent on anything but the daemon, the sink, this
	// harness (smtp-source included: a reaped child) and kernel threads:
	// other sessions' load. Approximate (tick based).
	t3 := time.Now()
	foreign := (hostTaskTicks() - ht0) - dcpu - (pidTicks(m.sink.cmd.Process.Pid) - sk0) - (selfTicks() - self0) - (treeTicks(2) - kt0)
	redisCPU, redisCalls := "NA", "NA"
	if m.redisPID > 0 {
		d := pidTicks(m.redisPID) - rs0
		foreign -= d
		redisCPU = fmt.Sprintf("%.0f", float64(d)/clkTck*1e6/float64(max(src.accepted, 1)))
		if sc1, err := redisScriptCalls(m.redis); err == nil && scErr == nil {
			redisCalls = strconv.FormatInt(sc1-sc0, 10)
		}
	}
	other := 0
	if w := t3.Sub(t0).Seconds() * clkTck * float64(runtime.NumCPU()); w > 0 {
		other = max(0, int(100*float64(foreign)/w+0.5))
	}
	time.Sleep(harnessSettle)
	cnt := m.sink.count() - base
	lost, dup := max(0, src.accepted-cnt), max(0, cnt-src.accepted)
	if m.queued != nil {
		f["queue_left"] = strconv.Itoa(m.queued())
	}
	if status == "ok" && lost > 0 {
		status = "undelivered"
	} else if status == "ok" && dup > 0 {
		status = "duplicates"
	}
	accS, e2eS := t1.Sub(t0).Seconds(), t2.Sub(t0).Seconds()
	e2eR := "NA"
	if lost == 0 {
		e2eR = fmt.Sprintf("%.1f", float64(src.accepted)/e2eS)
	}
	var wpm float64
	wok := false
	if m.root > 0 && ioErr == nil && src.accepted > 0 {
		if io1, err := treeIO(m.root); err == nil {
			wpm, wok = float64(io1.Write-io0.Write)/float64(src.accepted), true
		}
	}
	line := fmt.Sprintf("target=%s rep=%d n=%d c=%d rcpt=1 size_kb=%d reuse=0 accepted=%d accept_s=%.3f accept_msgs_per_s=%.1f"+
		" e2e_s=%.3f e2e_msgs_per_s=%s delivered=%d lost=%d dup=%d queue_left=%s cpu_s=%s cpu_us_per_msg=%s"+
		" peak_rss_kb=%s peak_pss_kb=%s max_procs=%s redis_cpu_us_per_msg=%s redis_script_calls=%s host_busy_pct=%d other_load_pct=%d status=%s",
		m.name, rep, sh.N, sh.C, sh.SizeKB, src.accepted, accS, float64(src.accepted)/accS, e2eS, e2eR, cnt, lost, dup,
		f["queue_left"], f["cpu_s"], f["cpu_us_per_msg"], f["peak_rss_kb"], f["peak_pss_kb"], f["max_procs"], redisCPU, redisCalls, hbusy, other, status)
	if other > 10 {
		logf("WARNING: %s run %d: %d%% of the machine's CPU went to other processes (other sessions?); treat this run as noisy", m.name, rep, other)
	}
	return line, wpm, wok
}

// sourceResult is one smtp-source run.
type sourceResult struct {
	accepted int // messages that got a 250 after DATA (smtp-source -c)
	rc       int
	err      error
}

// smtpSource runs Debian's smtp-source against addr: count messages of
// sh.SizeKB KiB over sh.C sessions, a new connection per message, one
// recipient each (made unique by -N), as the shell harness ran it. Output
// goes to out.out and out.err.
func smtpSource(ctx context.Context, addr string, count int, sh shape, out string, limit time.Duration) sourceResult {
	ctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	args := []string{"-c", "-s", strconv.Itoa(sh.C), "-m", strconv.Itoa(count), "-l", strconv.Itoa(sh.SizeKB * 1024),
		"-r", "1", "-N", "-M", "bench.test", "-f", "sender@bench.test", "-t", "rcpt@bench.test", "-S", "relayd-bench", addr}
	cmd := exec.CommandContext(ctx, "smtp-source", args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	cmd.WaitDelay = 5 * time.Second
	err := cmd.Run()
	os.WriteFile(out+".out", stdout.Bytes(), 0o644)
	os.WriteFile(out+".err", stderr.Bytes(), 0o644)
	// smtp-source -c prints "N\r" after every completed DATA: the last N
	// is the number of accepted messages.
	r := sourceResult{accepted: sourceCount(stdout.String())}
	if err != nil {
		r.rc = -1
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			r.rc = ee.ExitCode()
		}
		r.err = fmt.Errorf("smtp-source: %v: %s", err, strings.TrimSpace(string(head(stderr.Bytes(), 300))))
	}
	return r
}

// sourceCount is the last number smtp-source -c printed ("1\r2\r...N\r").
func sourceCount(out string) int {
	f := strings.Fields(strings.NewReplacer("\r", " ", "\n", " ").Replace(out))
	if len(f) == 0 {
		return 0
	}
	n, _ := strconv.Atoi(f[len(f)-1])
	return n
}

func head(b []byte, n int) []byte { return b[:min(len(b), n)] }

// hostCPU is the whole machine's busy and idle jiffies (/proc/stat "cpu").
type hostCPU struct{ busy, idle int64 }

// cpuLine returns the numbers of /proc/stat's first line: user nice system
// idle iowait irq softirq steal ...
func cpuLine() []int64 {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return nil
	}
	line, _, _ := strings.Cut(string(b), "\n")
	var v []int64
	for _, w := range strings.Fields(line)[1:] {
		n, _ := strconv.ParseInt(w, 10, 64)
		v = append(v, n)
	}
	return v
}

// readHostCPU: busy is user+nice+system+irq+softirq+steal, idle is
// idle+iowait.
func readHostCPU() hostCPU {
	v := cpuLine()
	if len(v) < 8 {
		return hostCPU{}
	}
	return hostCPU{busy: v[0] + v[1] + v[2] + v[5] + v[6] + v[7], idle: v[3] + v[4]}
}

// busyPct is the machine's busy percentage between two readings.
func busyPct(a, b hostCPU) int {
	d := (b.busy - a.busy) + (b.idle - a.idle)
	if d <= 0 {
		return 0
	}
	return int(100 * (b.busy - a.busy) / d)
}

// hostTaskTicks is user+nice+system+irq+softirq: with tick accounting,
// ticks spent in softirq (loopback TCP) are charged to the interrupted
// task's stime but to the softirq column of /proc/stat.
func hostTaskTicks() int64 {
	v := cpuLine()
	if len(v) < 7 {
		return 0
	}
	return v[0] + v[1] + v[2] + v[5] + v[6]
}

// statFields returns the fields of /proc/PID/stat after the command name
// (field 3, the state, first).
func statFields(pid int) []string {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return nil
	}
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return nil
	}
	return strings.Fields(string(b[i+1:]))
}

// pidTicks is utime+stime+cutime+cstime of pid: its own CPU plus that of
// the children it reaped.
func pidTicks(pid int) int64 {
	f := statFields(pid)
	if len(f) < 15 {
		return 0
	}
	var s int64
	for _, w := range f[11:15] {
		n, _ := strconv.ParseInt(w, 10, 64)
		s += n
	}
	return s
}

// treeTicks sums pidTicks over root and its descendants; children reaped
// inside the tree are in their parent's cutime/cstime, so deltas include
// short-lived workers (Postfix's smtpd, cleanup, smtp processes).
func treeTicks(root int) int64 {
	var s int64
	for _, p := range treePIDs(root) {
		s += pidTicks(p)
	}
	return s
}

// selfTicks is this process's CPU including the reaped smtp-source runs.
func selfTicks() int64 {
	var self, children syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &self)
	syscall.Getrusage(syscall.RUSAGE_CHILDREN, &children)
	us := func(r syscall.Rusage) int64 {
		return (r.Utime.Sec+r.Stime.Sec)*1e6 + int64(r.Utime.Usec+r.Stime.Usec)
	}
	return (us(self) + us(children)) * clkTck / 1e6
}

// treeMem is the maxima over samples of a process tree's summed RSS and
// PSS (KiB) and of its process count.
type treeMem struct {
	rss, pss int64
	procs    int
}

// sampleTree samples root's tree every period until the returned function
// is called, which returns the maxima. PSS comes from smaps_rollup (shared
// libraries shared out: the fair figure to compare a multi-process daemon
// with one Go process); RSS sums count shared pages once per process.
func sampleTree(root int, period time.Duration) (stop func() treeMem) {
	done, finished := make(chan struct{}), make(chan treeMem, 1)
	go func() {
		var peak treeMem
		t := time.NewTicker(period)
		defer t.Stop()
		for {
			var cur treeMem
			for _, p := range treePIDs(root) {
				rss, pss, ok := smapsRollup(p)
				if !ok {
					if m, err := readMem(p); err == nil {
						rss, ok = m.RSS, true
					}
				}
				if ok {
					cur.rss, cur.pss, cur.procs = cur.rss+rss, cur.pss+pss, cur.procs+1
				}
			}
			peak.rss, peak.pss, peak.procs = max(peak.rss, cur.rss), max(peak.pss, cur.pss), max(peak.procs, cur.procs)
			select {
			case <-done:
				finished <- peak
				return
			case <-t.C:
			}
		}
	}()
	return func() treeMem {
		close(done)
		return <-finished
	}
}

// smapsRollup returns the Rss and Pss lines of /proc/PID/smaps_rollup, KiB.
func smapsRollup(pid int) (rss, pss int64, ok bool) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/smaps_rollup", pid))
	if err != nil {
		return 0, 0, false
	}
	for _, line := range strings.Split(string(b), "\n") {
		k, v, found := strings.Cut(line, ":")
		if !found {
			continue
		}
		n, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
		switch k {
		case "Rss":
			rss, ok = n, true
		case "Pss":
			pss = n
		}
	}
	return rss, pss, ok
}

func kernelRelease() string {
	b, _ := os.ReadFile("/proc/sys/kernel/osrelease")
	return strings.TrimSpace(string(b))
}

// fsType is the file system type of dir (df -PT).
func fsType(dir string) string {
	out, err := exec.Command("df", "-PT", dir).Output()
	if err != nil {
		return "NA"
	}
	if l := strings.Split(strings.TrimSpace(string(out)), "\n"); len(l) == 2 {
		if f := strings.Fields(l[1]); len(f) > 1 {
			return f[1]
		}
	}
	return "NA"
}

func postfixVersion() string {
	out, err := exec.Command("postconf", "-d", "-h", "mail_version").Output()
	if err != nil {
		return "NA"
	}
	return strings.TrimSpace(string(out))
}
