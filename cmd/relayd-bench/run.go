package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"time"
)

// run is the whole benchmark: build, the harness per shape, then the
// Go-driven phases, then the report on stdout.
func run(ctx context.Context, o *options) error {
	if len(o.Shapes) == 0 && o.Scale == 0 && o.ProfileDir == "" && o.MemClients == 0 && o.Sendmail == 0 && o.AttachShape.N == 0 {
		return errors.New("nothing to do: give -n/-shapes, -sendmail, -attach, -scale, -memory or -profile")
	}
	root := os.Geteuid() == 0
	if (len(o.Shapes) > 0 || o.Sendmail > 0 || o.AttachShape.N > 0) && o.Postfix && !root {
		return errors.New("the Postfix comparison needs root (relayd-bench starts a private Postfix instance); run as root or give -postfix=false")
	}
	o.Netns = root
	if err := locate(o); err != nil {
		return err
	}
	work, err := mkdirTemp(o.workBase, "relayd-bench.")
	if err != nil {
		return err
	}
	o.Work = work
	if o.Keep {
		logf("run directory (kept): %s", work)
	} else {
		defer os.RemoveAll(work)
	}
	if o.Relayd == "" {
		if o.Relayd, err = buildRelayd(ctx, o.src, work); err != nil {
			return err
		}
	}
	rep := &report{Machine: machineInfo(o.workBase), Opts: o}
	for _, sh := range o.Shapes {
		logf("shape %s: harness (sink ceiling, postfix, relayd)", sh)
		hr := &harnessRun{}
		if err := runChildJob(ctx, o, childJob{Kind: "harness", Shape: &sh}, hr); err != nil {
			logf("shape %s: %v", sh, err)
		}
		rep.Harness = append(rep.Harness, hr)
		if ctx.Err() != nil {
			return ctx.Err()
		}
	}
	if len(o.Shapes) > 0 && o.LatencyN > 0 {
		var lat []latencyResult
		if err := runChild(ctx, o, "latency", &lat); err != nil {
			logf("latency phase: %v", err)
		}
		rep.Latency = lat
	}
	if o.Sendmail > 0 {
		rep.Sendmail = &sendmailResult{}
		if err := runChild(ctx, o, "sendmail", rep.Sendmail); err != nil {
			logf("sendmail phase: %v", err)
		}
	}
	if o.AttachShape.N > 0 {
		rep.Attach = &attachResult{}
		if err := runChild(ctx, o, "attach", rep.Attach); err != nil {
			logf("attachments phase: %v", err)
		}
	}
	if o.Scale > 0 {
		rep.Scale = &scaleResult{}
		if err := runChild(ctx, o, "scale", rep.Scale); err != nil {
			logf("scale mode: %v", err)
		}
	}
	if o.MemClients > 0 {
		rep.Memory = &memoryResult{}
		if err := runChild(ctx, o, "memory", rep.Memory); err != nil {
			logf("memory phase: %v", err)
		}
	}
	if o.ProfileDir != "" {
		rep.Profile = &profileResult{}
		if err := runChild(ctx, o, "profile", rep.Profile); err != nil {
			logf("profile: %v", err)
		}
	}
	rep.print(os.Stdout)
	return nil
}

// locate finds the module root (to build relayd) and checks the tools.
func locate(o *options) error {
	if o.src == "" {
		dir, err := os.Getwd()
		if err != nil {
			return err
		}
		for ; ; dir = filepath.Dir(dir) {
			if b, err := os.ReadFile(filepath.Join(dir, "go.mod")); err == nil &&
				strings.Contains(string(b), "module github.com/relayd/relayd\n") {
				break
			}
			if dir == filepath.Dir(dir) {
				return errors.New("run from inside the relayd module, or give -src")
			}
		}
		o.src = dir
	}
	for _, tool := range []string{"smtp-sink", "smtp-source", "postfix"} {
		if _, err := exec.LookPath(tool); err != nil {
			return fmt.Errorf("%s not found: install Debian's postfix package (apt-get install postfix; "+
				"answer \"No configuration\" so that the system's own Postfix never starts)", tool)
		}
	}
	if o.Cluster {
		if _, err := exec.LookPath("redis-server"); err != nil {
			return errors.New("redis-server not found: -cluster needs Debian's redis-server package (apt-get install redis-server)")
		}
	}
	return nil
}

// buildRelayd runs go build ./cmd/relayd in src.
func buildRelayd(ctx context.Context, src, work string) (string, error) {
	out := filepath.Join(work, "relayd")
	logf("go build -o %s ./cmd/relayd (in %s)", out, src)
	cmd := exec.CommandContext(ctx, goBinary(), "build", "-o", out, "./cmd/relayd")
	cmd.Dir, cmd.Stdout, cmd.Stderr = src, os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("building relayd: %w", err)
	}
	return out, nil
}

// goBinary is the go command: from PATH, else the usual install place.
func goBinary() string {
	if p, err := exec.LookPath("go"); err == nil {
		return p
	}
	return "/usr/local/go/bin/go"
}

// childJob is what a child phase process gets.
type childJob struct {
	Kind  string
	Opts  *options
	Out   string
	Load  *loadSpec `json:",omitempty"` // kind "load"
	Shape *shape    `json:",omitempty"` // kind "harness"
}

// runChild runs phase kind in a child process of this program (a private
// network namespace with only lo when root) and reads
// its result into out.
func runChild(ctx context.Context, o *options, kind string, out any) error {
	return runChildJob(ctx, o, childJob{Kind: kind}, out)
}

// runChildJob is runChild for a job with more than its kind.
func runChildJob(ctx context.Context, o *options, job childJob, out any) error {
	exe, err := os.Executable()
	if err != nil {
		return err
	}
	kind := job.Kind
	job.Opts, job.Out = o, filepath.Join(o.Work, kind+".result.json")
	jobFile := filepath.Join(o.Work, kind+".job.json")
	if err := writeJSON(jobFile, job); err != nil {
		return err
	}
	limit := o.RunTimeout*time.Duration(2+3*len(o.Shapes)) + 10*time.Minute
	switch kind {
	case "harness": // three targets (four with -cluster), each a warm-up and Repeat runs
		limit = o.RunTimeout*time.Duration(4*(o.Repeat+1)) + 10*time.Minute
	case "sendmail", "attach": // two or three targets, each a load and the wait for delivery
		limit = o.RunTimeout*6 + 10*time.Minute
	}
	ctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	cmd := exec.CommandContext(ctx, exe, "-internal", jobFile)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) } // the child stops its daemons
	cmd.WaitDelay = 2 * time.Minute
	if o.Netns {
		cmd.SysProcAttr = &syscall.SysProcAttr{Cloneflags: syscall.CLONE_NEWNET}
	}
	logf("%s phase (child process%s)", kind, map[bool]string{true: ", private network namespace"}[o.Netns])
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("%s child: %w", kind, err)
	}
	return readJSON(job.Out, out)
}

// childMain is the child side of runChild.
func childMain(jobFile string) int {
	var job childJob
	if err := readJSON(jobFile, &job); err != nil {
		fmt.Fprintln(os.Stderr, "relayd-bench child:", err)
		return 1
	}
	o := job.Opts
	if job.Kind == "load" { // a load generator of the profile phase, in its namespace
		res := runLoad(context.Background(), *job.Load)
		if err := writeJSON(job.Out, res); err != nil {
			fmt.Fprintln(os.Stderr, "relayd-bench load:", err)
			return 1
		}
		return 0
	}
	if o.Netns {
		if out, err := exec.Command("ip", "link", "set", "lo", "up").CombinedOutput(); err != nil {
			fmt.Fprintf(os.Stderr, "relayd-bench child: ip link set lo up: %v %s\n", err, out)
			return 1
		}
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	var res any
	var err error
	switch job.Kind {
	case "harness":
		res, err = harnessPhase(ctx, o, *job.Shape)
	case "latency":
		res, err = latencyPhase(ctx, o)
	case "memory":
		res, err = memoryPhase(ctx, o)
	case "sendmail":
		res, err = sendmailPhase(ctx, o)
	case "attach":
		res, err = attachPhase(ctx, o)
	case "scale":
		res, err = scalePhase(ctx, o)
	case "profile":
		res, err = profilePhase(ctx, o)
	default:
		err = fmt.Errorf("unknown phase %q", job.Kind)
	}
	if res != nil {
		if werr := writeJSON(job.Out, res); werr != nil && err == nil {
			err = werr
		}
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "relayd-bench %s: %v\n", job.Kind, err)
		return 1
	}
	return 0
}

// machineInfo is the report's machine line.
func machineInfo(workdir string) string {
	model := "?"
	if f, err := os.Open("/proc/cpuinfo"); err == nil {
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			if k, v, ok := strings.Cut(sc.Text(), ":"); ok && strings.TrimSpace(k) == "model name" {
				model = strings.TrimSpace(v)
				break
			}
		}
		f.Close()
	}
	kernel, _ := os.ReadFile("/proc/sys/kernel/osrelease")
	load, _ := os.ReadFile("/proc/loadavg")
	pf, _ := exec.Command("postconf", "-d", "-h", "mail_version").Output()
	fsType := "?"
	if out, err := exec.Command("df", "-PT", workdir).Output(); err == nil {
		if l := strings.Split(strings.TrimSpace(string(out)), "\n"); len(l) == 2 {
			if f := strings.Fields(l[1]); len(f) > 1 {
				fsType = f[1]
			}
		}
	}
	return fmt.Sprintf("%s, %d CPUs (%s), kernel %s, %s on %s, %s, postfix %s, loadavg %s",
		time.Now().UTC().Format("2006-01-02T15:04Z"), runtime.NumCPU(), model, strings.TrimSpace(string(kernel)),
		workdir, fsType, runtime.Version(), strings.TrimSpace(string(pf)),
		strings.Join(strings.Fields(string(load))[:3], " "))
}
