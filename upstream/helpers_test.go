package upstream

import (
	"bytes"
	"context"
	"log/slog"
	"sync"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// testBody is a CRLF message with a line that needs dot-stuffing.
var testBody = []byte("From: a@example.com\r\nTo: b@example.org\r\nSubject: test\r\n\r\nHello.\r\n.leading dot\r\n")

// lockedBuffer collects log output written from several goroutines.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// newTestPool returns a Pool with a Debug logger into the returned buffer
// and a registry of its own; it is closed at the end of the test.
func newTestPool(t *testing.T, opts Options) (*Pool, *lockedBuffer) {
	t.Helper()
	logs := &lockedBuffer{}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	if opts.Registerer == nil {
		opts.Registerer = prometheus.NewRegistry()
	}
	p := NewPool(opts)
	t.Cleanup(func() { p.Close() })
	return p, logs
}

func connCount(p *Pool, profile, result string) float64 {
	return testutil.ToFloat64(p.metrics.connections.WithLabelValues(profile, result))
}

func ambiguousCount(p *Pool, profile string) float64 {
	return testutil.ToFloat64(p.metrics.ambiguous.WithLabelValues(profile))
}

func testEnv(to ...string) *Envelope {
	return &Envelope{ID: "T1", From: "sender@example.com", To: to, Body: testBody}
}

// mustSend sends and fails the test on any error.
func mustSend(t *testing.T, p *Pool, prof *Target, env *Envelope) *Result {
	t.Helper()
	res := p.Send(context.Background(), prof, env)
	if res.Err != nil {
		t.Fatalf("Send: %v", res.Err)
	}
	for i, e := range res.Rcpt {
		if e != nil {
			t.Fatalf("Send: recipient %d: %v", i, e)
		}
	}
	return res
}

// sendErr sends and returns the transaction error, failing if there is none.
func sendErr(t *testing.T, p *Pool, prof *Target, env *Envelope) *Error {
	t.Helper()
	res := p.Send(context.Background(), prof, env)
	if res.Err == nil {
		t.Fatalf("Send succeeded, want an error")
	}
	return res.Err
}

func wantStep(t *testing.T, e *Error, step Step, temporary bool) {
	t.Helper()
	if e.Step != step || e.Temporary != temporary {
		t.Fatalf("error step %q temporary %v, want %q %v: %v", e.Step, e.Temporary, step, temporary, e)
	}
}
