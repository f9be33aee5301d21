package main

import (
	"context"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"runtime/pprof"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/relayd/relayd/policy"
	"github.com/relayd/relayd/relay"
	"github.com/relayd/relayd/spool"
	"github.com/relayd/relayd/upstream"
)

// profileResult is the in-process profile: relay.Server and spool.Store
// wired as cmd/relayd/serve.go wires them (soft memory limit, value-log GC),
// driven by a separate load process (so the client's CPU is not in the
// profile).
type profileResult struct {
	Phases []profiledPhase
}

// profiledPhase is one profiled load. "accept": the profile holds every
// message (send_delay 1h), so only the accept path runs; "e2e": delivery
// to smtp-sink runs too, as in the daemon.
type profiledPhase struct {
	Name      string
	Load      loadResult
	Delivered int
	CPUusMsg  float64 // this process's user+sys CPU per accepted message
	Sync      syncStats
	Files     []string
	Top       string // go tool pprof -top of the CPU profile
	AllocTop  string // go tool pprof -top -sample_index=alloc_space
	Err       string `json:",omitempty"`
}

// profilePhase runs the accept and the e2e phase and writes their profiles
// to o.ProfileDir.
func profilePhase(ctx context.Context, o *options) (*profileResult, error) {
	if err := os.MkdirAll(o.ProfileDir, 0o755); err != nil {
		return nil, err
	}
	if os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(128 << 20) // as cmd/relayd/serve.go (softMemoryLimit)
	}
	res := &profileResult{}
	for _, name := range []string{"accept", "e2e"} {
		logf("profile %s: %d messages, C=%d, %d KiB, in-process relay.Server", name, o.ProfileN, o.ProfileC, o.ScaleSizeKB)
		ph, err := profileOne(ctx, o, name)
		if err != nil {
			ph.Err = err.Error()
			logf("profile %s: %v", name, err)
		}
		res.Phases = append(res.Phases, ph)
		if ctx.Err() != nil {
			return res, ctx.Err()
		}
	}
	return res, nil
}

// benchConfig is the relay.Config that cmd/relayd builds from the file of
// config.go (relaydConfig.toml) with every default filled in
// (cmd/relayd/config/defaults.go, relay.go).
func benchConfig(listen string, sinkPort int, o *options, sendDelay time.Duration) *relay.Config {
	const host = "relaybench.localdomain"
	return &relay.Config{
		Hostname: host,
		Listeners: []relay.Listener{{
			Name: "bench", Network: "tcp", Address: listen, TLS: "none", Auth: "none",
			AllowNetworks:  []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128")},
			MaxMessageSize: 25 << 20, MaxRecipients: 100, MaxConnections: 200, MaxConnectionsPerIP: 200,
			MaxLineLength: 1 << 20, IdleTimeout: 5 * time.Minute, SessionTimeout: 30 * time.Minute,
			MaxErrors: 10, MaxAuthFailures: 3,
		}},
		Profiles: map[string]*relay.Profile{"sink": {
			Upstream: upstream.Target{Name: "sink", Type: "smtp", Host: "127.0.0.1", Port: sinkPort,
				TLS: upstream.TLSNone, TLSVerify: true, Helo: host, Timeout: 30 * time.Second,
				DataTimeout: 10 * time.Minute, MaxPerConn: o.PerConn, MaxConns: o.UpstreamConns},
			Enabled: true, SendDelay: sendDelay,
		}},
		Policy:        policy.Config{DefaultProfile: "sink", Enabled: map[string]bool{"sink": true}},
		Users:         map[string]relay.User{},
		RetrySchedule: []time.Duration{time.Minute, 5 * time.Minute, 15 * time.Minute, 30 * time.Minute, time.Hour, 2 * time.Hour, 4 * time.Hour},
		MaxQueueAge:   5 * 24 * time.Hour, JournalRetention: 7 * 24 * time.Hour, WarnAfter: 4 * time.Hour,
		BareLF: relay.BareLFNormalize,
		Notify: relay.Notify{From: "MAILER-DAEMON@" + host},
	}
}

// profileOne runs one profiled phase on a fresh spool.
func profileOne(ctx context.Context, o *options, name string) (profiledPhase, error) {
	ph := profiledPhase{Name: name}
	dir, err := mkdirTemp(o.Work, "profile-"+name+".")
	if err != nil {
		return ph, err
	}
	if !o.Keep {
		defer os.RemoveAll(dir)
	}
	sinkPort, err := freePort()
	if err != nil {
		return ph, err
	}
	sk, err := startSink(dir, sinkPort)
	if err != nil {
		return ph, err
	}
	defer sk.stop()
	logFile, err := os.Create(filepath.Join(dir, "relayd.log"))
	if err != nil {
		return ph, err
	}
	defer logFile.Close()
	var level slog.Level
	level.UnmarshalText([]byte(o.LogLevel))
	log := slog.New(slog.NewTextHandler(logFile, &slog.HandlerOptions{Level: level}))
	reg := prometheus.NewRegistry()
	store, err := spool.Open(spool.Options{Dir: filepath.Join(dir, "spool"), Logger: log.With("component", "spool"),
		MinFreeBytes: 256 << 20, Registerer: reg})
	if err != nil {
		return ph, err
	}
	defer store.Close()
	delay := time.Duration(0)
	if name == "accept" {
		delay = time.Hour
	}
	srv, err := relay.New(relay.Options{Config: benchConfig("127.0.0.1:0", sinkPort, o, delay), Spool: store,
		Logger: log, Registerer: reg})
	if err != nil {
		return ph, err
	}
	if err := srv.Listen(); err != nil {
		return ph, err
	}
	addr := srv.Addrs()["bench"].String()
	rctx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go store.RunGC(rctx, 5*time.Minute) // as cmd/relayd/serve.go (gcEvery)
	go func() { done <- srv.Run(rctx, 20*time.Second) }()
	defer func() { stop(); <-done }()

	spec := loadSpec{Addr: addr, N: 500, C: o.ProfileC, SizeKB: o.ScaleSizeKB, Deadline: o.RunTimeout}
	if _, err := loadProcess(ctx, o, spec); err != nil { // warm-up, not profiled
		return ph, err
	}
	base := sk.waitCount(500, time.Minute, 20*time.Second)
	if name == "accept" {
		base = 0
	}
	spec.N = o.ProfileN
	prefix := filepath.Join(o.ProfileDir, name)
	cpu, err := os.Create(prefix + ".cpu.pprof")
	if err != nil {
		return ph, err
	}
	defer cpu.Close()
	runtime.GC()
	ru0, s0 := rusage(), gatherSync(reg)
	if err := pprof.StartCPUProfile(cpu); err != nil {
		return ph, err
	}
	ph.Load, err = loadProcess(ctx, o, spec)
	if err == nil && name == "e2e" {
		sk.waitCount(base+ph.Load.Accepted, o.RunTimeout, time.Minute)
	}
	pprof.StopCPUProfile()
	ph.Sync = gatherSync(reg).sub(s0)
	if ph.Load.Accepted > 0 {
		ph.CPUusMsg = float64(rusage()-ru0) / float64(ph.Load.Accepted)
	}
	ph.Delivered = sk.count() - base
	if err != nil {
		return ph, err
	}
	ph.Files = append(ph.Files, cpu.Name())
	for _, p := range []string{"heap", "allocs"} {
		f, err := os.Create(prefix + "." + p + ".pprof")
		if err != nil {
			return ph, err
		}
		if p == "heap" {
			runtime.GC() // up-to-date in-use figures
		}
		err = pprof.Lookup(p).WriteTo(f, 0)
		f.Close()
		if err != nil {
			return ph, err
		}
		ph.Files = append(ph.Files, f.Name())
	}
	ph.Top = pprofTop(ctx, prefix+".cpu.pprof", "-nodecount=20") + pprofTop(ctx, prefix+".cpu.pprof", "-cum", "-nodecount=45")
	ph.AllocTop = pprofTop(ctx, prefix+".allocs.pprof", "-sample_index=alloc_space", "-nodecount=20")
	return ph, nil
}

// rusage is this process's user+sys CPU time in microseconds.
func rusage() int64 {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return ru.Utime.Nano()/1000 + ru.Stime.Nano()/1000
}

// loadProcess runs spec in a child process (same network namespace), so
// that the load generator's CPU and allocations stay out of the profile.
func loadProcess(ctx context.Context, o *options, spec loadSpec) (loadResult, error) {
	var res loadResult
	exe, err := os.Executable()
	if err != nil {
		return res, err
	}
	f, err := os.CreateTemp(o.Work, "load.*.json")
	if err != nil {
		return res, err
	}
	f.Close()
	defer os.Remove(f.Name())
	job := childJob{Kind: "load", Opts: o, Out: f.Name() + ".out", Load: &spec}
	defer os.Remove(job.Out)
	if err := writeJSON(f.Name(), job); err != nil {
		return res, err
	}
	ctx, cancel := context.WithTimeout(ctx, spec.Deadline+time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, exe, "-internal", f.Name())
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		return res, fmt.Errorf("load process: %w", err)
	}
	return res, readJSON(job.Out, &res)
}

// pprofTop returns `go tool pprof -top` of file, or why it could not run.
func pprofTop(ctx context.Context, file string, extra ...string) string {
	args := append([]string{"tool", "pprof", "-top"}, extra...)
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, goBinary(), append(args, file)...).CombinedOutput()
	if err != nil {
		return fmt.Sprintf("go tool pprof: %v\n%s", err, out)
	}
	return string(out)
}
