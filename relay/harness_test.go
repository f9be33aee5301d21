package relay

import (
	"bufio"
	"context"
	"log/slog"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-smtp"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/relayd/relayd/policy"
	"github.com/relayd/relayd/spool"
	"github.com/relayd/relayd/upstream"
)

// fakeClock is the injected clock: schedules move only when a test says so.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *fakeClock { return &fakeClock{t: time.Date(2026, 11, 24, 9, 0, 0, 0, time.UTC)} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

var loopback = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128")}

// baseConfig is a relay with one plain listener on a free port and one
// profile "sink" that relays to addr.
func baseConfig(addr string) *Config {
	host, port, _ := net.SplitHostPort(addr)
	p, _ := strconv.Atoi(port)
	return &Config{
		Hostname: "relay.test",
		Listeners: []Listener{{Name: "local", Network: "tcp", Address: "127.0.0.1:0", TLS: "none", Auth: "optional",
			AllowNetworks: loopback, MaxMessageSize: 10 << 20, MaxRecipients: 100, MaxConnections: 100,
			MaxConnectionsPerIP: 50, MaxLineLength: 1 << 20, IdleTimeout: 30 * time.Second,
			SessionTimeout: 5 * time.Minute, MaxErrors: 10, MaxAuthFailures: 3}},
		Profiles:      map[string]*Profile{"sink": sinkProfile("sink", host, p)},
		Policy:        policy.Config{DefaultProfile: "sink", Enabled: map[string]bool{"sink": true}},
		Users:         map[string]User{},
		RetrySchedule: []time.Duration{time.Minute, 5 * time.Minute}, MaxQueueAge: 5 * 24 * time.Hour,
		JournalRetention: 7 * 24 * time.Hour, BareLF: BareLFNormalize,
	}
}

func sinkProfile(name, host string, port int) *Profile {
	return &Profile{Enabled: true, Upstream: upstream.Target{Name: name, Type: "smtp", Host: host, Port: port,
		TLS: upstream.TLSNone, Timeout: 5 * time.Second, DataTimeout: 10 * time.Second, MaxPerConn: 100, MaxConns: 2,
		Helo: "relay.test"}}
}

// testRelay is a running relay.Server on a temp spool.
type testRelay struct {
	t      *testing.T
	srv    *Server
	store  *spool.Store
	clock  *fakeClock
	reg    *prometheus.Registry
	addr   string
	cancel context.CancelFunc
	done   chan struct{}
	panics *panicWatch // what stop checks: no goroutine of the relay panicked
}

type relayOpt func(*spool.Options)

func startRelay(t *testing.T, cfg *Config, opts ...relayOpt) *testRelay {
	t.Helper()
	clock := newClock()
	so := spool.Options{Dir: t.TempDir(), Now: clock.Now}
	for _, o := range opts {
		o(&so)
	}
	store, err := spool.Open(so)
	if err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	pw := &panicWatch{}
	srv, err := New(Options{Config: cfg, Spool: store, Registerer: reg, Now: clock.Now, Logger: slog.New(pw)})
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Listen(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &testRelay{t: t, srv: srv, store: store, clock: clock, reg: reg, addr: srv.Addrs()["local"].String(),
		cancel: cancel, done: make(chan struct{}), panics: pw}
	go func() {
		defer close(r.done)
		srv.Run(ctx, 5*time.Second)
	}()
	t.Cleanup(r.stop)
	return r
}

func (r *testRelay) stop() {
	r.cancel()
	<-r.done
	r.store.Close()
	r.checkPanics()
}

// advance moves the clock and wakes the scheduler.
func (r *testRelay) advance(d time.Duration) {
	r.clock.Advance(d)
	r.srv.Kick()
}

// idle waits until a whole scheduler pass that began after a kick left
// nothing sending: whatever is still queued is not due, busy or held back
// by a rate (bounded: 10 s).
func (r *testRelay) idle() {
	r.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		// A kick during a pass queues one more; after the second pass that
		// follows two kicks, one whole pass began after the first kick.
		p0 := r.srv.delivery.sched.passes.Load()
		for i := int64(1); i <= 2; i++ {
			r.srv.Kick()
			for r.srv.delivery.sched.passes.Load() < p0+i && time.Now().Before(deadline) {
				time.Sleep(time.Millisecond)
			}
		}
		if r.store.Counts()[spool.StateSending] == 0 && r.srv.delivery.sched.inFlight() == 0 {
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
	r.t.Fatalf("relay not idle after 10s: %v", r.store.Counts())
}

// waitState waits until message id's recipients are all in state st.
func (r *testRelay) waitState(id string, st spool.State) *spool.Message {
	r.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		m, err := r.store.Get(id)
		if err == nil && allIn(m, st) {
			return m
		}
		if time.Now().After(deadline) {
			r.t.Fatalf("message %s not %s after 10s: %+v (err %v)", id, st, m, err)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func allIn(m *spool.Message, st spool.State) bool {
	for _, rc := range m.Recipients {
		if rc.State != st {
			return false
		}
	}
	return true
}

// send submits one message with go-smtp's client and returns the queue ID.
func send(t *testing.T, addr, from string, to []string, body string) string {
	t.Helper()
	c, err := smtp.Dial(addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Hello("client.test"); err != nil {
		t.Fatal(err)
	}
	if err := c.Mail(from, nil); err != nil {
		t.Fatal(err)
	}
	for _, a := range to {
		if err := c.Rcpt(a, nil); err != nil {
			t.Fatal(err)
		}
	}
	w, err := c.Data()
	if err != nil {
		t.Fatal(err)
	}
	w.Write([]byte(body))
	resp, err := w.CloseWithResponse()
	if err != nil {
		t.Fatalf("DATA: %v", err)
	}
	c.Quit()
	_, id, ok := strings.Cut(resp.StatusText, "Ok: queued as ")
	if !ok {
		t.Fatalf("unexpected final reply %q", resp.StatusText)
	}
	return id
}

// raw is a line-level SMTP client for what go-smtp's client would refuse
// to send (bare LF, smuggling, junk).
type raw struct {
	t  *testing.T
	c  net.Conn
	br *bufio.Reader
}

func dialRaw(t *testing.T, addr string) *raw {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	r := &raw{t: t, c: c, br: bufio.NewReader(c)}
	c.SetDeadline(time.Now().Add(20 * time.Second))
	return r
}

// reply reads one (possibly multi-line) reply and returns its last line.
func (r *raw) reply() string {
	r.t.Helper()
	for {
		line, err := r.br.ReadString('\n')
		if err != nil {
			return "ERR " + err.Error()
		}
		line = strings.TrimRight(line, "\r\n")
		if len(line) < 4 || line[3] != '-' {
			return line
		}
	}
}

// cmd writes s verbatim (add "\r\n" yourself) and returns the reply.
func (r *raw) cmd(s string) string {
	r.t.Helper()
	r.write(s)
	return r.reply()
}

func (r *raw) write(s string) {
	r.t.Helper()
	if _, err := r.c.Write([]byte(s)); err != nil {
		r.t.Fatalf("write: %v", err)
	}
}

// greet reads the banner and says EHLO.
func (r *raw) greet() {
	r.t.Helper()
	if b := r.reply(); !strings.HasPrefix(b, "220 ") {
		r.t.Fatalf("banner %q", b)
	}
	if e := r.cmd("EHLO client.test\r\n"); !strings.HasPrefix(e, "250") {
		r.t.Fatalf("EHLO: %q", e)
	}
}

// closed reports whether the server closed the connection (EOF on read).
func (r *raw) closed() bool {
	r.c.SetReadDeadline(time.Now().Add(10 * time.Second))
	_, err := r.br.ReadByte()
	return err != nil
}

func errorsAs(err error, target **smtp.SMTPError) bool {
	se, ok := err.(*smtp.SMTPError)
	if ok {
		*target = se
	}
	return ok
}
