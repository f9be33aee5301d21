package main

import (
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/debug"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/relayd/relayd/cmd/relayd/config"
	"github.com/relayd/relayd/relay"
	webconsole "github.com/relayd/relayd/relay/console"
	"github.com/relayd/relayd/spool"
)

// drainTime is how long a stopping relayd lets in-flight deliveries finish
// before abandoning them (they stay queued). systemd's TimeoutStopSec must
// be larger.
const drainTime = 20 * time.Second

// gcEvery is how often the spool's value log is garbage collected; without
// it the log only grows.
const gcEvery = 5 * time.Minute

// softMemoryLimit keeps the Go heap near the memory goal of docs/performance.md (Badger's
// temporary buffers otherwise let it swell); GOMEMLIMIT overrides it. It is
// a soft limit: the GC works harder, nothing fails.
const softMemoryLimit = 96 << 20

// runServe is `relayd` / `relayd serve`: the daemon in the foreground. It
// finds the config like every command (c.resolveConfig) and logs to
// c.stderr. Exit codes: 0 clean shutdown, 1 fatal error, 2 bad
// config.
func (c *cli) runServe(args []string) int {
	stderr := c.stderr
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	configFlag := fs.String("config", "", "configuration file (default $RELAYD_CONFIG, /etc/relayd/relayd.toml, or the embedded default)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	path, err := c.resolveConfig(*configFlag)
	if err != nil {
		fmt.Fprintln(stderr, "relayd:", err)
		return 2
	}
	f, warnings, err := config.Load(path)
	if err != nil {
		printConfigError(stderr, err)
		return 2
	}
	log := newLogger(stderr, string(f.Server.LogFormat), string(f.Server.LogLevel))
	if os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(softMemoryLimit)
	}
	for _, w := range warnings {
		log.Warn("config", "warning", w)
	}
	rc, err := f.Relay()
	if err != nil {
		printConfigError(stderr, err)
		return 2
	}
	if err := serve(path, f, rc, log); err != nil {
		log.Error("fatal", "err", err)
		return 1
	}
	return 0
}

// serve runs the daemon until SIGTERM/SIGINT; SIGHUP reloads path.
func serve(path string, f *config.File, rc *relay.Config, log *slog.Logger) error {
	// spool.Open creates state_dir/spool if need be, durably (it fsyncs
	// the parent of every directory it creates).
	dir := filepath.Join(f.Server.StateDir, "spool")
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	reloads := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "relayd_config_reloads_total",
		Help: "Configuration reloads (SIGHUP), by result."}, []string{"result"})
	reloads.WithLabelValues("ok")
	reloads.WithLabelValues("error")
	build := prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "relayd_build_info",
		Help: "Always 1; the labels tell the build."}, []string{"version", "goversion"})
	bi := buildVersion()
	build.WithLabelValues(bi.Version, bi.GoVersion).Set(1)
	reg.MustRegister(reloads, build)

	store, err := spool.Open(spool.Options{Dir: dir, Logger: log.With("component", "spool"),
		MinFreeBytes: int64(f.Server.MinFreeSpace), EncryptionKey: f.Server.SpoolKey(), Registerer: reg})
	if err != nil {
		return err
	}
	defer store.Close()
	shareStateDir(f.Server.StateDir, dir, log)
	att, startAtt, stopAtt, err := openAttachments(f, reg, store, log)
	if err != nil {
		return err
	}
	defer stopAtt()
	ropts := relay.Options{Config: rc, Spool: store, Logger: log, Registerer: reg, Attachments: att}
	cl, err := newCluster(f, reg, log)
	if err != nil {
		return err
	}
	if cl != nil {
		defer cl.Close()
		ropts.RateLimiter, ropts.PauseSharer = clusterRates{cl}, cl
	}
	srv, err := relay.New(ropts)
	if err != nil {
		return err
	}
	if err := srv.Listen(); err != nil {
		return err
	}
	var ready atomic.Bool
	admin, err := startAdmin(f, reg, srv, &ready, store.Err, log)
	if err != nil {
		return err
	}
	if admin != nil {
		defer admin.Close()
	}

	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	go store.RunGC(ctx, gcEvery)
	if cl != nil {
		cl.Start(ctx, clusterHandlers(srv, cl, log))
	}
	startAtt(ctx)
	go handleSignals(ctx, stop, path, srv, reloads, log)
	ready.Store(true)
	sdNotify("READY=1")
	log.Info("relayd started", "version", bi.Version, "commit", bi.Commit, "goversion", bi.GoVersion,
		"listeners", fmt.Sprint(srv.Addrs()), "admin", f.Admin.Listen, "config", config.Name(path), "spool", dir)
	err = srv.Run(ctx, drainTime)
	sdNotify("STOPPING=1")
	log.Info("relayd stopped")
	return err
}

// The admin server's timeouts: a request (a body is at most 1 MB) must
// arrive within adminReadTimeout, and an idle keep-alive connection is
// closed after adminIdleTimeout. There is no write timeout: a profile test
// answers only when the upstream did.
const (
	adminReadTimeout = 30 * time.Second
	adminIdleTimeout = 2 * time.Minute
)

// startAdmin binds the admin HTTP server (its Addr is the bound address);
// nil when [admin] listen is "".
func startAdmin(f *config.File, reg *prometheus.Registry, srv *relay.Server, ready *atomic.Bool, spoolErr func() error,
	log *slog.Logger) (*http.Server, error) {
	if f.Admin.Listen == "" {
		return nil, nil
	}
	token, required, err := daemonAdminToken(f, log)
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", f.Admin.Listen)
	if err != nil {
		return nil, fmt.Errorf("admin listen %s: %w", f.Admin.Listen, err)
	}
	guard, err := newAdminGuard(&f.Admin, ln.Addr().String(), token, required, log.With("component", "admin"))
	if err != nil {
		ln.Close()
		return nil, err
	}
	var con http.Handler
	if f.Admin.Console {
		guard.console = true
		con = webconsole.New(webconsole.Options{Server: srv, AdminToken: func() string { return token },
			Secure: f.Admin.TLSConfig() != nil, SessionTimeout: f.Admin.SessionTimeout.D(), Logger: log}).Handler()
	}
	if tc := f.Admin.TLSConfig(); tc != nil {
		ln = tls.NewListener(ln, tc)
	}
	hs := &http.Server{Addr: ln.Addr().String(), Handler: guard.wrap(adminMux(reg, srv.Handler(), con, ready, spoolErr)),
		ReadHeaderTimeout: 10 * time.Second, ReadTimeout: adminReadTimeout, IdleTimeout: adminIdleTimeout,
		MaxHeaderBytes: 64 << 10, ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelDebug)}
	go func() {
		if err := hs.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("admin server stopped", "err", err)
		}
	}()
	return hs, nil
}

// handleSignals: SIGHUP reloads (validate all, then swap, or refuse and keep
// running); the first SIGTERM/SIGINT stops gracefully, a second forces exit.
func handleSignals(ctx context.Context, stop context.CancelFunc, path string, srv *relay.Server,
	reloads *prometheus.CounterVec, log *slog.Logger) {
	ch := make(chan os.Signal, 4)
	signal.Notify(ch, syscall.SIGHUP, syscall.SIGTERM, syscall.SIGINT)
	stopping := false
	for sig := range ch {
		if sig == syscall.SIGHUP && !stopping {
			reload(path, srv, reloads, log)
			continue
		}
		if stopping {
			log.Error("second signal: exiting now; queued mail stays in the spool")
			os.Exit(1)
		}
		stopping = true
		log.Info("signal received, stopping", "signal", sig.String())
		stop()
	}
}

// reload re-reads the configuration and swaps it in, or keeps the running
// one and says why.
func reload(path string, srv *relay.Server, reloads *prometheus.CounterVec, log *slog.Logger) {
	sdNotify(sdReloading())
	defer sdNotify("READY=1")
	err := func() error {
		f, warnings, err := config.Load(path)
		if err != nil {
			return err
		}
		for _, w := range warnings {
			log.Warn("config", "warning", w)
		}
		rc, err := f.Relay()
		if err != nil {
			return err
		}
		return srv.Reload(rc)
	}()
	if err != nil {
		reloads.WithLabelValues("error").Inc()
		log.Error("config reload refused; the running configuration stays", "config", config.Name(path), "err", err)
		return
	}
	reloads.WithLabelValues("ok").Inc()
	log.Info("config reloaded", "config", config.Name(path))
}
