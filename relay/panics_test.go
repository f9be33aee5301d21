package relay

import (
	"context"
	"log/slog"
	"strings"
	"sync"
)

// panicWatch is the slog.Handler the test harness gives a Server: it keeps
// the records that report a recovered panic, relayd's own ("panic", from
// recoverPanic) and go-smtp's ("panic serving ...", from a session's
// goroutine, through slogLogger), and drops everything else.
type panicWatch struct {
	mu     sync.Mutex
	panics []string
}

// Enabled implements slog.Handler: every level (go-smtp's ErrorLog is
// routed at Debug).
func (w *panicWatch) Enabled(context.Context, slog.Level) bool { return true }

// Handle implements slog.Handler.
func (w *panicWatch) Handle(_ context.Context, r slog.Record) error {
	if !strings.HasPrefix(r.Message, "panic") {
		return nil
	}
	w.mu.Lock()
	first, _, _ := strings.Cut(r.Message, "\n") // not go-smtp's stack
	w.panics = append(w.panics, first)
	w.mu.Unlock()
	return nil
}

// WithAttrs implements slog.Handler; the attributes are not kept.
func (w *panicWatch) WithAttrs([]slog.Attr) slog.Handler { return w }

// WithGroup implements slog.Handler.
func (w *panicWatch) WithGroup(string) slog.Handler { return w }

// checkPanics fails the test if a goroutine of the relay panicked: the
// relayd_panics_total counter (every component) is not 0, or a panic was
// logged (go-smtp recovers a session's panic itself, and relayd does not
// count those).
func (r *testRelay) checkPanics() {
	r.t.Helper()
	var counted float64
	mfs, err := r.reg.Gather()
	if err != nil {
		r.t.Errorf("gather metrics: %v", err)
	}
	for _, mf := range mfs {
		if mf.GetName() == "relayd_panics_total" {
			for _, m := range mf.GetMetric() {
				counted += m.GetCounter().GetValue()
			}
		}
	}
	var logged []string
	if r.panics != nil { // nil: the test gave the Server its own logger
		r.panics.mu.Lock()
		logged = append(logged, r.panics.panics...)
		r.panics.mu.Unlock()
	}
	if counted != 0 || len(logged) != 0 {
		r.t.Errorf("the relay panicked: relayd_panics_total = %v, logged: %q", counted, logged)
	}
}
