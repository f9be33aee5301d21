package relay

import (
	"bytes"
	"context"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/relayd/relayd/spool"
)

// logBuffer collects a Server's log lines, written from many goroutines.
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// startRelayLogged is startRelay with a Debug logger into the returned
// buffer and a hook that may change the Server's Options (an injected
// AUTH delay) before New.
func startRelayLogged(t *testing.T, cfg *Config, edit func(*Options)) (*testRelay, *logBuffer) {
	t.Helper()
	clock := newClock()
	store, err := spool.Open(spool.Options{Dir: t.TempDir(), Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	logs := &logBuffer{}
	reg := prometheus.NewRegistry()
	opts := Options{Config: cfg, Spool: store, Registerer: reg, Now: clock.Now,
		Logger: slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))}
	if edit != nil {
		edit(&opts)
	}
	srv, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Listen(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &testRelay{t: t, srv: srv, store: store, clock: clock, reg: reg, addr: srv.Addrs()["local"].String(),
		cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(r.done)
		srv.Run(ctx, 5*time.Second)
	}()
	t.Cleanup(r.stop)
	return r, logs
}
