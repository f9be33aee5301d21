package relay

import (
	"bytes"
	"errors"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emersion/go-smtp"
)

// sinkMsg is one transaction a sink accepted.
type sinkMsg struct {
	From string
	To   []string
	Data []byte
	Conn int // connection number, from 1
}

// sink is a go-smtp server on loopback that records what relayd delivers.
// Its hooks may refuse a step with an *smtp.SMTPError.
type sink struct {
	t        *testing.T
	addr     string
	srv      *smtp.Server
	msgs     chan sinkMsg
	conns    atomic.Int32
	mu       sync.Mutex
	all      []sinkMsg
	wire     bytes.Buffer // every octet both ways (go-smtp Debug)
	onMail   func(from string) error
	onRcpt   func(to string) error
	onData   func(n int) error // n: 1 for the first DATA
	dataSeen atomic.Int32
}

type sinkBackend struct{ s *sink }

func (b sinkBackend) NewSession(c *smtp.Conn) (smtp.Session, error) {
	return &sinkSession{s: b.s, conn: int(b.s.conns.Add(1))}, nil
}

type sinkSession struct {
	s    *sink
	conn int
	from string
	to   []string
}

func (ss *sinkSession) Reset()        { ss.from, ss.to = "", nil }
func (ss *sinkSession) Logout() error { return nil }
func (ss *sinkSession) Mail(from string, _ *smtp.MailOptions) error {
	if f := ss.s.hook(func() func(string) error { return ss.s.onMail }); f != nil {
		if err := f(from); err != nil {
			return err
		}
	}
	ss.from = from
	return nil
}
func (ss *sinkSession) Rcpt(to string, _ *smtp.RcptOptions) error {
	if f := ss.s.hook(func() func(string) error { return ss.s.onRcpt }); f != nil {
		if err := f(to); err != nil {
			return err
		}
	}
	ss.to = append(ss.to, to)
	return nil
}
func (ss *sinkSession) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	n := int(ss.s.dataSeen.Add(1))
	ss.s.mu.Lock()
	f := ss.s.onData
	ss.s.mu.Unlock()
	if f != nil {
		if err := f(n); err != nil {
			return err
		}
	}
	m := sinkMsg{From: ss.from, To: append([]string(nil), ss.to...), Data: b, Conn: ss.conn}
	ss.s.mu.Lock()
	ss.s.all = append(ss.s.all, m)
	ss.s.mu.Unlock()
	ss.s.msgs <- m
	return nil
}

func (s *sink) hook(get func() func(string) error) func(string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return get()
}

type lockedWriter struct {
	mu *sync.Mutex
	w  *bytes.Buffer
}

func (l lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// newSink starts a plain (no TLS, no AUTH) sink on 127.0.0.1.
// newDeferringSink is a sink that answers RCPT TO:<rcpt> with a temporary
// failure (errTemp) and accepts every other recipient.
func newDeferringSink(t *testing.T, rcpt string) *sink {
	t.Helper()
	sk := newSink(t)
	sk.set(func() {
		sk.onRcpt = func(to string) error {
			if to == rcpt {
				return errTemp
			}
			return nil
		}
	})
	return sk
}

func newSink(t *testing.T) *sink {
	t.Helper()
	return newSinkWith(t, func(b sinkBackend) smtp.Backend { return b })
}

// newSinkWith is newSink with the backend wrapped (AUTH offered, say).
func newSinkWith(t *testing.T, wrap func(sinkBackend) smtp.Backend) *sink {
	t.Helper()
	s := &sink{t: t, msgs: make(chan sinkMsg, 1000)}
	srv := smtp.NewServer(wrap(sinkBackend{s}))
	srv.Domain = "sink.test"
	srv.AllowInsecureAuth = true
	srv.EnableSMTPUTF8 = true
	srv.Debug = lockedWriter{&s.mu, &s.wire}
	srv.ErrorLog = nopLogger{}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s.addr, s.srv = ln.Addr().String(), srv
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return s
}

type nopLogger struct{}

func (nopLogger) Printf(string, ...any) {}
func (nopLogger) Println(...any)        {}

// wait returns the next delivered message or fails after 10 s.
func (s *sink) wait() sinkMsg {
	s.t.Helper()
	select {
	case m := <-s.msgs:
		return m
	case <-time.After(10 * time.Second):
		s.t.Fatal("sink: no message arrived within 10s")
	}
	return sinkMsg{}
}

// none asserts that nothing more arrives until the relay's queue is idle.
func (s *sink) none(r *testRelay) {
	s.t.Helper()
	r.idle()
	select {
	case m := <-s.msgs:
		s.t.Fatalf("sink: unexpected message from %q to %v", m.From, m.To)
	default:
	}
}

func (s *sink) transcript() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.wire.String()
}

func (s *sink) set(f func()) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f()
}

var errTemp = &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "try later"}
var errPerm = &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "no such user"}

var _ = errors.New
