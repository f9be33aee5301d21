package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// harnessRun is the outcome of one peer-bench.sh invocation (one shape, all
// targets): its result lines, parsed, plus the disk writes relayd-bench
// measured itself around each measured run.
type harnessRun struct {
	Header string                         // the "# peer-bench start=..." line
	Runs   map[string][]map[string]string // target -> one map of key=value per measured run
	// WritePerMsg is write_bytes of the target's process tree during each
	// measured run (load, delivery and the harness's settle second), per
	// accepted message.
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

// runStart matches the harness's stderr line announcing a measured run,
// e.g. "[01:11:44] relayd: run 1/1: n=2000 c=20 ...".
var runStart = regexp.MustCompile(`^\[[0-9:]+\] ([A-Za-z0-9_.-]+): run [0-9]+/[0-9]+:`)

// peerBench runs peer-bench.sh for one shape with the peers sink (optional)
// and postfix and the target relayd started by script, and collects the
// results. pidFile is where script records relayd's PID.
func peerBench(ctx context.Context, o *options, sh shape) (*harnessRun, error) {
	// Ports are free ones of this namespace: the harness runs the target in
	// a private namespace when root (all free), in this one otherwise.
	var ports [3]int
	for i := range ports {
		p, err := freePort()
		if err != nil {
			return nil, err
		}
		ports[i] = p
	}
	script, pidFile := filepath.Join(o.Work, "relayd-target.sh"), filepath.Join(o.Work, "relayd.pid")
	if err := writeTargetScript(script, o.Relayd, pidFile, relaydConfig{Admin: fmt.Sprintf("127.0.0.1:%d", ports[2]),
		UpstreamConns: o.UpstreamConns, PerConn: o.PerConn, LogLevel: o.LogLevel}); err != nil {
		return nil, err
	}
	args := []string{"-n", strconv.Itoa(sh.N), "-c", strconv.Itoa(sh.C), "-s", strconv.Itoa(sh.SizeKB),
		"--repeat", strconv.Itoa(o.Repeat), "--warmup", strconv.Itoa(o.Warmup),
		"--timeout", strconv.Itoa(int(o.RunTimeout.Seconds())), "--workdir", o.Work}
	if o.ceiling {
		args = append(args, "--peer", "sink")
	}
	if o.Postfix {
		args = append(args, "--peer", "postfix")
	}
	args = append(args, "--target", fmt.Sprintf("relayd=127.0.0.1:%d,sink=%d", ports[0], ports[1]),
		"--target-cmd", "relayd=exec "+shellQuote(script))
	// Bound: every target's warm-up and runs, each capped by --timeout.
	limit := time.Duration(3*(o.Repeat+1))*o.RunTimeout + 5*time.Minute
	ctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	cmd := exec.CommandContext(ctx, o.harness, args...)
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) } // the harness cleans up on TERM
	cmd.WaitDelay = 60 * time.Second
	cmd.Dir = o.Work
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return nil, err
	}
	os.Remove(pidFile)
	logf("peer-bench.sh %s", strings.Join(args, " "))
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", o.harness, err)
	}
	hr := &harnessRun{Runs: map[string][]map[string]string{}, WritePerMsg: map[string][]float64{}}
	tr := &ioTracker{work: o.Work, pidFile: pidFile, start: map[string]ioBytes{}}
	var wg sync.WaitGroup
	wg.Go(func() { forwardStderr(stderr, tr) })
	sc := bufio.NewScanner(stdout)
	for sc.Scan() {
		line := sc.Text()
		fmt.Fprintln(os.Stderr, "  | "+line)
		switch {
		case strings.HasPrefix(line, "# peer-bench"):
			hr.Header = line
		case strings.HasPrefix(line, "target="):
			kv := lineKV(line)
			t := kv["target"]
			hr.Runs[t] = append(hr.Runs[t], kv)
			if w, ok := tr.end(t, kv["accepted"]); ok {
				hr.WritePerMsg[t] = append(hr.WritePerMsg[t], w)
			}
		}
	}
	wg.Wait()
	if err := cmd.Wait(); err != nil {
		return hr, fmt.Errorf("peer-bench.sh: %w", err)
	}
	return hr, nil
}

// forwardStderr copies the harness's diagnostics to stderr and starts the
// disk-write measurement when a measured run begins.
func forwardStderr(r io.Reader, t *ioTracker) {
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		line := sc.Text()
		if m := runStart.FindStringSubmatch(line); m != nil {
			t.begin(m[1])
		}
		fmt.Fprintln(os.Stderr, "  | "+line)
	}
}

// ioTracker measures write_bytes of the relayd and postfix process trees
// between the harness's "run" line and its result line.
type ioTracker struct {
	work, pidFile string
	mu            sync.Mutex
	start         map[string]ioBytes
}

// rootPID finds the measured process of target: relayd's PID from the
// target script's PID file; Postfix's master from the private instance's
// pid file under the harness's state directory.
func (t *ioTracker) rootPID(target string) int {
	switch target {
	case "relayd":
		return readPIDFile(t.pidFile)
	case "postfix":
		files, _ := filepath.Glob(filepath.Join(t.work, "peer-bench.*", "postfix", "spool", "pid", "master.pid"))
		for _, f := range files {
			if p := readPIDFile(f); p > 0 && alive(p) {
				return p
			}
		}
	}
	return 0
}

func (t *ioTracker) begin(target string) {
	pid := t.rootPID(target)
	if pid == 0 {
		return
	}
	if b, err := treeIO(pid); err == nil {
		t.mu.Lock()
		t.start[target] = b
		t.mu.Unlock()
	}
}

// end returns the bytes written per accepted message since begin.
func (t *ioTracker) end(target, accepted string) (float64, bool) {
	t.mu.Lock()
	s, ok := t.start[target]
	delete(t.start, target)
	t.mu.Unlock()
	n, _ := strconv.Atoi(accepted)
	pid := t.rootPID(target)
	if !ok || n <= 0 || pid == 0 {
		return 0, false
	}
	e, err := treeIO(pid)
	if err != nil {
		return 0, false
	}
	return float64(e.Write-s.Write) / float64(n), true
}
