package sendmail

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/emersion/go-smtp"
)

// testServer is a go-smtp server on a unix socket in a temp dir whose
// replies are injected per command, recording what it accepted.
type testServer struct {
	socket              string
	mailErr, dataErr    error
	rcptErr             map[string]error
	mu                  sync.Mutex
	from                string
	to                  []string
	data                []byte
	transactions, datas int
}

func startServer(t *testing.T, ts *testServer) *testServer {
	t.Helper()
	ts.socket = filepath.Join(t.TempDir(), "s.sock")
	ln, err := net.Listen("unix", ts.socket)
	if err != nil {
		t.Fatal(err)
	}
	srv := smtp.NewServer(smtp.BackendFunc(func(*smtp.Conn) (smtp.Session, error) { return &testSession{ts: ts}, nil }))
	srv.Domain = "test"
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return ts
}

type testSession struct {
	ts   *testServer
	from string
	to   []string
}

func (s *testSession) Mail(from string, _ *smtp.MailOptions) error {
	s.from = from
	return s.ts.mailErr
}

func (s *testSession) Rcpt(to string, _ *smtp.RcptOptions) error {
	if err := s.ts.rcptErr[to]; err != nil {
		return err
	}
	s.to = append(s.to, to)
	return nil
}

func (s *testSession) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	s.ts.mu.Lock()
	defer s.ts.mu.Unlock()
	s.ts.datas++
	if s.ts.dataErr != nil {
		return s.ts.dataErr
	}
	s.ts.from, s.ts.to, s.ts.data = s.from, s.to, b
	s.ts.transactions++
	return nil
}

func (s *testSession) Reset()        { s.from, s.to = "", nil }
func (s *testSession) Logout() error { return nil }

func smtpErr(code int, e1, e2, e3 int, msg string) *smtp.SMTPError {
	return &smtp.SMTPError{Code: code, EnhancedCode: smtp.EnhancedCode{e1, e2, e3}, Message: msg}
}

func TestSubmit(t *testing.T) {
	msg := []byte("Subject: x\r\n\r\n.leading dot\r\nbody\r\n")
	env := Envelope{From: "app@x", To: []string{"a@x", "b@y"}}
	for _, tc := range []struct {
		name   string
		ts     *testServer
		code   int
		stderr string
		sent   bool
	}{
		{"accepted", &testServer{}, 0, "", true},
		{"sender 4xx", &testServer{mailErr: smtpErr(451, 4, 3, 0, "try later")}, ExitTempFail, "451 4.3.0 try later", false},
		{"sender 5xx", &testServer{mailErr: smtpErr(553, 5, 1, 8, "bad sender")}, ExitSoftware, "sender <app@x> refused: 553 5.1.8 bad sender", false},
		{"size 552", &testServer{mailErr: smtpErr(552, 5, 3, 4, "too big")}, ExitDataErr, "552 5.3.4", false},
		{"recipient 5xx", &testServer{rcptErr: map[string]error{"b@y": smtpErr(550, 5, 1, 1, "no such user")}}, ExitNoUser,
			"recipient <b@y> refused, nothing was sent: 550 5.1.1 no such user", false},
		{"recipient 4xx", &testServer{rcptErr: map[string]error{"a@x": smtpErr(451, 4, 3, 5, "no profile")}}, ExitTempFail, "451 4.3.5", false},
		{"data 5xx", &testServer{dataErr: smtpErr(550, 5, 6, 0, "Message contains NUL")}, ExitDataErr, "550 5.6.0 Message contains NUL", false},
		{"data 4xx", &testServer{dataErr: smtpErr(452, 4, 3, 1, "disk full")}, ExitTempFail, "452 4.3.1 disk full", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ts := startServer(t, tc.ts)
			c := &Client{Socket: ts.socket, Helo: "host.test"}
			err := c.Submit(context.Background(), env, msg)
			code := 0
			var se *Error
			if errors.As(err, &se) {
				code = se.Code
			} else if err != nil {
				t.Fatalf("error %v is not an *Error", err)
			}
			if code != tc.code || (tc.stderr != "" && !strings.Contains(err.Error(), tc.stderr)) {
				t.Fatalf("Submit = %v (exit %d), want exit %d with %q", err, code, tc.code, tc.stderr)
			}
			ts.mu.Lock()
			defer ts.mu.Unlock()
			if got := ts.transactions == 1; got != tc.sent {
				t.Fatalf("transactions %d, want sent=%t", ts.transactions, tc.sent)
			}
			if tc.name == "recipient 5xx" && ts.datas != 0 {
				t.Error("DATA was sent although a recipient was refused")
			}
			if tc.sent && (ts.from != "app@x" || strings.Join(ts.to, ",") != "a@x,b@y" || !bytes.Equal(ts.data, msg)) {
				t.Errorf("server got from %q to %q data %q", ts.from, ts.to, ts.data)
			}
		})
	}
}

func TestSubmitDaemonDown(t *testing.T) {
	c := &Client{Socket: filepath.Join(t.TempDir(), "none.sock"), Helo: "h"}
	err := c.Submit(context.Background(), Envelope{From: "a@x", To: []string{"b@y"}}, []byte("S: x\r\n\r\n"))
	var se *Error
	if !errors.As(err, &se) || se.Code != ExitTempFail || !strings.Contains(se.Msg, "not running") || !strings.Contains(se.Msg, "none.sock") {
		t.Fatalf("Submit = %v; want exit 75 naming the socket", err)
	}
}

// TestSubmitDropped: a daemon that closes the connection after the final
// dot without a reply: temporary (the caller retries; a duplicate is
// better than a loss).
func TestSubmitDropped(t *testing.T) {
	socket := filepath.Join(t.TempDir(), "s.sock")
	ln, err := net.Listen("unix", socket)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		io.WriteString(c, "220 test\r\n")
		buf := make([]byte, 4096)
		var got []byte
		for !bytes.Contains(got, []byte("\r\n.\r\n")) {
			n, err := c.Read(buf)
			if err != nil {
				return
			}
			got = append(got, buf[:n]...)
			for _, l := range []string{"EHLO", "MAIL", "RCPT"} {
				if bytes.HasSuffix(got, []byte("\r\n")) && bytes.Contains(got[bytes.LastIndex(got[:len(got)-2], []byte("\n"))+1:], []byte(l)) {
					io.WriteString(c, "250 ok\r\n")
				}
			}
			if bytes.HasSuffix(got, []byte("DATA\r\n")) {
				io.WriteString(c, "354 go\r\n")
			}
		}
	}()
	cl := &Client{Socket: socket, Helo: "h"}
	err = cl.Submit(context.Background(), Envelope{From: "a@x", To: []string{"b@y"}}, []byte("S: x\r\n\r\nbody\r\n"))
	var se *Error
	if !errors.As(err, &se) || se.Code != ExitTempFail {
		t.Fatalf("Submit = %v; want exit 75", err)
	}
}

func TestProxy(t *testing.T) {
	ts := startServer(t, &testServer{})
	var out bytes.Buffer
	in := "EHLO client\r\nMAIL FROM:<a@x>\r\nRCPT TO:<b@y>\r\nDATA\r\nSubject: bs\r\n\r\nhi\r\n.\r\nQUIT\r\n"
	c := &Client{Socket: ts.socket}
	if err := c.Proxy(context.Background(), strings.NewReader(in), &out); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"220 ", "250 ", "354 ", "221 "} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("dialogue lacks %q:\n%s", want, out.String())
		}
	}
	ts.mu.Lock()
	defer ts.mu.Unlock()
	if ts.transactions != 1 || string(ts.data) != "Subject: bs\r\n\r\nhi\r\n" {
		t.Errorf("server got %d transactions, data %q", ts.transactions, ts.data)
	}
}

func TestProxyDaemonDown(t *testing.T) {
	var out bytes.Buffer
	c := &Client{Socket: filepath.Join(t.TempDir(), "none.sock")}
	err := c.Proxy(context.Background(), strings.NewReader("EHLO x\r\n"), &out)
	var se *Error
	if !errors.As(err, &se) || se.Code != ExitTempFail || !strings.HasPrefix(out.String(), "421 4.3.0 ") {
		t.Fatalf("Proxy = %v, out %q; want exit 75 and a 421 line", err, out.String())
	}
}
