// Command relayd-bench is relayd's benchmark (its goals are in docs/performance.md): it builds relayd
// and measures it side by side with Postfix, in one run, on this machine.
// It needs nothing but this repository, Go and Debian's postfix package
// (smtp-source, smtp-sink and postfix itself).
//
// For every load shape (N messages, C concurrent clients, S KiB, one
// connection per message) it
//
//   - runs its harness (harness.go, measure.go) in a private network
//     namespace with only lo up (unshare --net, when root): Debian's
//     smtp-source as the load, smtp-sink as the upstream, and as targets
//     the tools' ceiling (source straight into sink), a private throw-away
//     Postfix (a null client relaying to the sink, Postfix defaults: fsync
//     before every 250) and relayd, each with a warm-up first. Per measured
//     run: accept and end-to-end msg/s, CPU per message of the daemon's
//     process tree, peak RSS/PSS, lost and duplicated messages, bytes
//     written to disk per message (/proc/PID/io write_bytes);
//   - runs a short Go-driven phase against a fresh relayd and a fresh
//     private Postfix, in a private network namespace, for the accept
//     latency p50/p99;
//   - prints relayd's and Postfix's figures, their ratio and the goal.
//
// The figures are measured as the project's earlier shell harness
// (peer-bench.sh) measured them, so ratios compare with older results.
//
// -sendmail N runs N invocations of `relayd sendmail` (one process each, 5
// KiB) against a running relayd's [sendmail] socket and N of Postfix's
// sendmail into the private Postfix, and reports both rates. -attach sends
// multipart/mixed messages with a PDF attachment (-attach-shape, default
// 2000x20x100) to relayd without attachment rules, to relayd linking every
// attachment over 50 KB, and to Postfix.
//
// -cluster adds, per shape, relayd with [cluster] redis on a redis-server
// the harness starts on loopback (Debian's redis-server, persistence off)
// and a profile rate that never binds, next to Postfix and plain relayd.
//
// -scale N queues N messages with the upstream down and reports RSS, disk
// use, the time from a restart to the 220 greeting, the console's Outbox
// (first page and a search, each timed, with relayd's RSS) and the drain
// time once the upstream is up. -memory C has C clients each send one -memory-mb
// message at once and reports relayd's peak RSS. -profile DIR runs relayd's
// relay.Server in-process under runtime/pprof (CPU, heap, allocs) and
// prints the top functions.
//
// Usage (root, Debian package postfix installed, from the module root):
//
//	go run ./cmd/relayd-bench -shapes 20000x20x5,5000x1x5,2000x20x100
//	go run ./cmd/relayd-bench -shapes 20000x20x5 -cluster
//	go run ./cmd/relayd-bench -n 0 -scale 100000
//	go run ./cmd/relayd-bench -n 0 -memory 50
//	go run ./cmd/relayd-bench -n 0 -sendmail 1000 -attach
//	go run ./cmd/relayd-bench -n 0 -profile /var/tmp/relayd-prof
//
// Every load is bounded in count and time; everything runs on loopback.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// shape is one load: N messages, C concurrent sessions, SizeKB KiB bodies.
type shape struct {
	N, C, SizeKB int
}

// String implements fmt.Stringer.
func (s shape) String() string { return fmt.Sprintf("N=%d C=%d S=%dKiB", s.N, s.C, s.SizeKB) }

// options are the command line; the child phases get them as JSON.
type options struct {
	Shapes        []shape
	Repeat        int
	Warmup        int
	LatencyN      int
	UpstreamConns int
	PerConn       int
	LogLevel      string
	Scale         int
	ScaleC        int
	ProfileDir    string
	ProfileN      int
	ProfileC      int
	Relayd        string // the relayd binary (built unless -relayd is given)
	Work          string // this run's directory under -workdir
	Keep          bool
	Netns         bool // the child phases run in a private network namespace

	RunTimeout  time.Duration // cap per measured run and per phase
	Postfix     bool          // compare with Postfix
	ScaleSizeKB int

	MemClients int // memory phase: concurrent clients, one message each (0: skip)
	MemSizeMB  int // memory phase: message size in MiB

	Sendmail    int   // sendmail phase: invocations per target (0: skip)
	AttachShape shape // attachments phase: the shape (N 0: skip)

	// Cluster adds the harness target relayd-cluster: relayd with [cluster]
	// redis on a local redis-server and the profile's rate clusterRate.
	Cluster bool

	ceiling  bool
	src      string
	workBase string
}

func main() {
	if len(os.Args) == 3 && os.Args[1] == "-internal" {
		os.Exit(childMain(os.Args[2]))
	}
	o, err := parseFlags(os.Args[1:])
	if err != nil {
		fmt.Fprintln(os.Stderr, "relayd-bench:", err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, o); err != nil {
		fmt.Fprintln(os.Stderr, "relayd-bench:", err)
		os.Exit(1)
	}
}

func parseFlags(args []string) (*options, error) {
	fs := flag.NewFlagSet("relayd-bench", flag.ContinueOnError)
	o := &options{}
	n := fs.Int("n", 20000, "messages per measured run (0: no harness runs)")
	c := fs.Int("c", 20, "concurrent client sessions")
	size := fs.Int("size", 5, "message body size in KiB")
	shapes := fs.String("shapes", "", "several shapes NxCxS, comma-separated (e.g. 5000x20x5,2000x1x5); overrides -n -c -size")
	fs.IntVar(&o.Repeat, "repeat", 1, "measured runs per target and shape (medians are compared)")
	fs.IntVar(&o.Warmup, "warmup", 500, "unmeasured warm-up messages per target")
	fs.IntVar(&o.LatencyN, "latency-n", 2000, "messages of the Go-driven latency phase per target (at most N; 0: skip)")
	fs.IntVar(&o.UpstreamConns, "upstream-conns", 8, "relayd's [[profile]] max_connections to the sink")
	fs.IntVar(&o.PerConn, "per-conn", 1000, "relayd's [[profile]] max_per_connection")
	fs.StringVar(&o.LogLevel, "log-level", "info", "relayd's [server] log_level (info is relayd's default)")
	fs.IntVar(&o.Scale, "scale", 0, "scale mode: queue this many messages with the upstream down (0: skip)")
	fs.IntVar(&o.ScaleC, "scale-c", 20, "concurrent sessions of the scale mode's load")
	fs.StringVar(&o.ProfileDir, "profile", "", "write CPU/heap/allocs profiles of an in-process relay.Server to this directory")
	fs.IntVar(&o.ProfileN, "profile-n", 10000, "messages per profiled phase (C and S from -c, -size)")
	fs.BoolVar(&o.Postfix, "postfix", true, "compare with a private Postfix instance (needs root)")
	fs.IntVar(&o.MemClients, "memory", 0, "memory phase: this many clients each send one -memory-mb message at once (0: skip)")
	fs.IntVar(&o.MemSizeMB, "memory-mb", 10, "memory phase: message size in MiB")
	fs.IntVar(&o.Sendmail, "sendmail", 0, "sendmail phase: this many invocations of relayd sendmail (one process each, 5 KiB), then as many of Postfix's sendmail (0: skip)")
	fs.BoolVar(&o.Cluster, "cluster", false, "also measure, for every shape, relayd with [cluster] redis on a local redis-server and rate = \""+clusterRate+"\" (never binding: every message runs the shared window script)")
	attach := fs.Bool("attach", false, "attachments phase: relayd without attachment rules, relayd linking every attachment over "+attachLimit+" and Postfix, on -attach-shape")
	attachShape := fs.String("attach-shape", "2000x20x100", "attachments phase: NxCxS, S the KiB of each message's PDF attachment")
	fs.BoolVar(&o.ceiling, "ceiling", true, "also measure smtp-source into smtp-sink directly (the tools' ceiling)")
	fs.StringVar(&o.src, "src", "", "module root to build relayd from (default: found from the working directory)")
	fs.StringVar(&o.Relayd, "relayd", "", "use this relayd binary instead of building one")
	workBase := fs.String("workdir", "/var/tmp", "base directory for state; must be a real disk, not tmpfs")
	fs.BoolVar(&o.Keep, "keep", false, "keep the run directory (configs, logs, spools)")
	fs.DurationVar(&o.RunTimeout, "timeout", 15*time.Minute, "hard cap per measured run and per phase")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if *shapes != "" {
		for _, s := range strings.Split(*shapes, ",") {
			sh, err := parseShape(s)
			if err != nil {
				return nil, err
			}
			o.Shapes = append(o.Shapes, sh)
		}
	} else if *n > 0 {
		o.Shapes = []shape{{N: *n, C: *c, SizeKB: *size}}
	}
	o.ScaleSizeKB, o.ProfileC = *size, *c
	if *attach {
		sh, err := parseShape(*attachShape)
		if err != nil {
			return nil, fmt.Errorf("-attach-shape: %w", err)
		}
		o.AttachShape = sh
	}
	if o.Cluster && len(o.Shapes) == 0 {
		return nil, fmt.Errorf("-cluster measures the harness shapes: give -n or -shapes too")
	}
	if o.Sendmail < 0 {
		return nil, fmt.Errorf("-sendmail must be 0 (skip) or a number of invocations")
	}
	if err := checkRealDisk(*workBase); err != nil {
		return nil, err
	}
	if o.Repeat < 1 || o.ScaleC < 1 || o.UpstreamConns < 1 || o.MemSizeMB < 1 {
		return nil, fmt.Errorf("-repeat, -scale-c, -upstream-conns and -memory-mb must be at least 1")
	}
	o.ProfileDir = absPath(o.ProfileDir)
	o.workBase = *workBase
	return o, nil
}

// parseShape parses "NxCxS".
func parseShape(s string) (shape, error) {
	f := strings.Split(strings.TrimSpace(s), "x")
	var v [3]int
	if len(f) != 3 {
		return shape{}, fmt.Errorf("bad shape %q: want NxCxS, e.g. 5000x20x5", s)
	}
	for i := range f {
		n, err := strconv.Atoi(f[i])
		if err != nil || n < 1 {
			return shape{}, fmt.Errorf("bad shape %q: want positive NxCxS", s)
		}
		v[i] = n
	}
	return shape{N: v[0], C: v[1], SizeKB: v[2]}, nil
}

func absPath(p string) string {
	if p == "" {
		return ""
	}
	a, err := filepath.Abs(p)
	if err != nil {
		return p
	}
	return a
}

// logf prints a progress line on stderr.
func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "[%s] relayd-bench: %s\n", time.Now().Format("15:04:05"), fmt.Sprintf(format, args...))
}

// writeJSON and readJSON pass jobs and results between the processes.
func writeJSON(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, b, 0o600)
}

func readJSON(path string, v any) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	return json.Unmarshal(b, v)
}
