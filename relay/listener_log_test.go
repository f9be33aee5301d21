package relay

import (
	"bufio"
	"bytes"
	"io"
	"log/slog"
	"net"
	"strings"
	"testing"

	"github.com/emersion/go-smtp"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// panickySession panics at MAIL, as a bug in a session would.
type panickySession struct{}

func (panickySession) Mail(string, *smtp.MailOptions) error { panic("a bug in MAIL") }
func (panickySession) Rcpt(string, *smtp.RcptOptions) error { return nil }
func (panickySession) Data(io.Reader) error                 { return nil }
func (panickySession) Reset()                               {}
func (panickySession) Logout() error                        { return nil }

// TestSessionPanicIsCountedAndLogged: go-smtp recovers a session's panic
// itself (421 to the client) and reports it only through its ErrorLog;
// relayd's slogLogger turns that report into an Error record with the
// stack and counts relayd_panics_total{component="session"}, while
// go-smtp's other messages stay at Debug.
func TestSessionPanicIsCountedAndLogged(t *testing.T) {
	var logged bytes.Buffer
	panics := prometheus.NewCounter(prometheus.CounterOpts{Name: "panics"})
	srv := smtp.NewServer(smtp.BackendFunc(func(*smtp.Conn) (smtp.Session, error) { return panickySession{}, nil }))
	srv.Domain = "relay.test"
	srv.ErrorLog = slogLogger{log: slog.New(slog.NewTextHandler(&logged, nil)), panics: panics}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { defer close(done); srv.Serve(ln) }()
	defer func() { srv.Close(); <-done }()

	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	r := bufio.NewReader(c)
	line := func() string { s, _ := r.ReadString('\n'); return s }
	line() // 220
	io.WriteString(c, "HELO client.test\r\n")
	line()
	io.WriteString(c, "MAIL FROM:<a@example.com>\r\n")
	if got := line(); !strings.HasPrefix(got, "421 ") {
		t.Fatalf("MAIL in a panicking session: %q, want 421", got)
	}
	line() // the connection closes: EOF once go-smtp has logged the panic
	srv.Close()
	<-done

	if n := testutil.ToFloat64(panics); n != 1 {
		t.Errorf("panics counted: %v, want 1", n)
	}
	out := logged.String()
	if !strings.Contains(out, "level=ERROR") || !strings.Contains(out, "panic serving") ||
		!strings.Contains(out, "a bug in MAIL") || !strings.Contains(out, "stack=") {
		t.Errorf("log: %q, want one ERROR record naming the panic, with its stack", out)
	}
	var debug bytes.Buffer
	slogLogger{log: slog.New(slog.NewTextHandler(&debug, nil))}.Printf("accept error: %v", "boom")
	if debug.Len() != 0 {
		t.Errorf("go-smtp's other messages: %q at Info, want Debug", debug.String())
	}
}
