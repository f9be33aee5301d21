package relay

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/relayd/relayd/spool"
)

// smuggling is DATA content that tries to end the message early with a
// bare LF or bare CR and start a second transaction (SMTP smuggling).
var smuggling = []struct{ name, data string }{
	{"LF.LF", "Subject: a\r\n\r\nfirst\n.\nMAIL FROM:<evil@example.com>\r\nRCPT TO:<victim@example.org>\r\nDATA\r\nSubject: smuggled\r\n\r\nx\r\n.\r\n"},
	{"CRLF.LF", "Subject: a\r\n\r\nfirst\r\n.\nMAIL FROM:<evil@example.com>\r\nRCPT TO:<victim@example.org>\r\nDATA\r\nSubject: smuggled\r\n\r\nx\r\n.\r\n"},
	{"LF.CRLF", "Subject: a\r\n\r\nfirst\n.\r\nMAIL FROM:<evil@example.com>\r\nRCPT TO:<victim@example.org>\r\nDATA\r\nSubject: smuggled\r\n\r\nx\r\n.\r\n"},
	{"CR.CR", "Subject: a\r\n\r\nfirst\r.\rMAIL FROM:<evil@example.com>\r\nRCPT TO:<victim@example.org>\r\nDATA\r\nSubject: smuggled\r\n\r\nx\r\n.\r\n"},
	{"CRLF.CR", "Subject: a\r\n\r\nfirst\r\n.\rMAIL FROM:<evil@example.com>\r\nRCPT TO:<victim@example.org>\r\nDATA\r\nSubject: smuggled\r\n\r\nx\r\n.\r\n"},
}

func TestBareLFSmugglingNormalizeGivesOneMessage(t *testing.T) {
	for _, tc := range smuggling {
		t.Run(tc.name, func(t *testing.T) {
			sk := newSink(t)
			r := startRelay(t, baseConfig(sk.addr))
			c := dialRaw(t, r.addr)
			c.greet()
			c.cmd("MAIL FROM:<app@example.com>\r\n")
			c.cmd("RCPT TO:<someone@example.org>\r\n")
			if got := c.cmd("DATA\r\n"); !strings.HasPrefix(got, "354") {
				t.Fatalf("DATA: %q", got)
			}
			if got := c.cmd(tc.data); !strings.HasPrefix(got, "250 2.0.0") {
				t.Fatalf("end of data: %q", got)
			}
			if got := c.cmd("QUIT\r\n"); !strings.HasPrefix(got, "221") {
				t.Fatalf("QUIT: %q (the smuggled commands were run as commands)", got)
			}
			m := sk.wait()
			sk.none(r)
			if m.From != "app@example.com" || len(m.To) != 1 || m.To[0] != "someone@example.org" {
				t.Fatalf("envelope %q %v", m.From, m.To)
			}
			if !bytes.Contains(m.Data, []byte("MAIL FROM:<evil@example.com>")) {
				t.Errorf("smuggled text should stay inside the one message:\n%s", m.Data)
			}
			assertCRLFOnly(t, m.Data)
		})
	}
}

func TestBareLFRejectRefuses(t *testing.T) {
	for _, tc := range smuggling {
		t.Run(tc.name, func(t *testing.T) {
			sk := newSink(t)
			cfg := baseConfig(sk.addr)
			cfg.BareLF = BareLFReject
			r := startRelay(t, cfg)
			c := dialRaw(t, r.addr)
			c.greet()
			c.cmd("MAIL FROM:<app@example.com>\r\n")
			c.cmd("RCPT TO:<someone@example.org>\r\n")
			c.cmd("DATA\r\n")
			if got := c.cmd(tc.data); !strings.HasPrefix(got, "550 5.6.0") {
				t.Fatalf("end of data: %q, want 550 5.6.0", got)
			}
			if got := c.cmd("QUIT\r\n"); !strings.HasPrefix(got, "221") {
				t.Fatalf("QUIT: %q", got)
			}
			sk.none(r)
		})
	}
}

func assertCRLFOnly(t *testing.T, b []byte) {
	t.Helper()
	for i, ch := range b {
		if ch == '\n' && (i == 0 || b[i-1] != '\r') {
			t.Fatalf("bare LF at %d in %q", i, b)
		}
		if ch == '\r' && (i+1 >= len(b) || b[i+1] != '\n') {
			t.Fatalf("bare CR at %d in %q", i, b)
		}
	}
}

func TestDiskBelowReserveAnswers452AndKeepsQueued(t *testing.T) {
	sk := newSink(t)
	sk.set(func() { sk.onData = func(int) error { return errTemp } }) // upstream down: mail stays queued
	var free uint64 = 10 << 30
	var mu = make(chan struct{}, 1)
	mu <- struct{}{}
	freeSpace := func(string) (uint64, error) {
		<-mu
		defer func() { mu <- struct{}{} }()
		return free, nil
	}
	r := startRelay(t, baseConfig(sk.addr), func(o *spool.Options) {
		o.MinFreeBytes = 1 << 30
		o.FreeSpace = freeSpace
	})
	id := send(t, r.addr, "app@example.com", []string{"someone@example.org"}, simpleBody)
	r.waitState(id, spool.StateDeferred)

	<-mu
	free = 1 << 20 // the disk fills up
	mu <- struct{}{}
	c := dialRaw(t, r.addr)
	c.greet()
	c.cmd("MAIL FROM:<app@example.com>\r\n")
	c.cmd("RCPT TO:<someone@example.org>\r\n")
	c.cmd("DATA\r\n")
	if got := c.cmd("Subject: x\r\n\r\ny\r\n.\r\n"); !strings.HasPrefix(got, "452 4.3.1") {
		t.Fatalf("full disk: %q, want 452 4.3.1", got)
	}
	if n := r.store.Counts(); n[spool.StateDeferred] != 1 {
		t.Fatalf("queue after refusal: %v", n)
	}

	<-mu
	free = 10 << 30
	mu <- struct{}{}
	sk.set(func() { sk.onData = nil })
	r.advance(time.Minute)
	sk.wait()
	r.waitState(id, spool.StateSent)
}

func TestIdleTimeoutClosesConnection(t *testing.T) {
	sk := newSink(t)
	cfg := baseConfig(sk.addr)
	cfg.Listeners[0].IdleTimeout = 300 * time.Millisecond
	r := startRelay(t, cfg)

	t.Run("between commands", func(t *testing.T) {
		c := dialRaw(t, r.addr)
		c.greet()
		if got := c.reply(); !strings.HasPrefix(got, "421 4.4.2") {
			t.Fatalf("idle: %q, want 421 4.4.2", got)
		}
		if !c.closed() {
			t.Fatal("connection still open after idle timeout")
		}
	})
	t.Run("inside DATA", func(t *testing.T) {
		c := dialRaw(t, r.addr)
		c.greet()
		c.cmd("MAIL FROM:<app@example.com>\r\n")
		c.cmd("RCPT TO:<someone@example.org>\r\n")
		c.cmd("DATA\r\n")
		c.write("Subject: slow\r\n\r\npartial body\r\n")
		if got := c.reply(); !strings.HasPrefix(got, "421 4.4.2") {
			t.Fatalf("timeout in DATA: %q, want 421 4.4.2", got)
		}
		// Whatever the client sends now must never run as a command.
		c.c.Write([]byte(".\r\nMAIL FROM:<evil@example.com>\r\n"))
		if !c.closed() {
			t.Fatal("connection still open after timeout in DATA")
		}
		sk.none(r)
	})
}

func TestCommandLineLimit(t *testing.T) {
	sk := newSink(t)
	r := startRelay(t, baseConfig(sk.addr))
	c := dialRaw(t, r.addr)
	c.greet()
	if got := c.cmd("NOOP " + strings.Repeat("x", 2100) + "\r\n"); !strings.HasPrefix(got, "500 5.5.2") {
		t.Fatalf("overlong command: %q", got)
	}
	if !c.closed() {
		t.Fatal("connection open after overlong command line")
	}
}

func TestCrossProtocolClosesAtOnce(t *testing.T) {
	sk := newSink(t)
	r := startRelay(t, baseConfig(sk.addr))
	c := dialRaw(t, r.addr)
	c.reply()
	c.write("GET / HTTP/1.1\r\nHost: x\r\n\r\n")
	if !c.closed() {
		t.Fatal("HTTP request did not close the connection")
	}
}

func TestAllowNetworksRefuses(t *testing.T) {
	sk := newSink(t)
	cfg := baseConfig(sk.addr)
	cfg.Listeners[0].AllowNetworks = nil
	r := startRelay(t, cfg)
	c := dialRaw(t, r.addr)
	if got := c.reply(); !strings.HasPrefix(got, "554 5.7.1") {
		t.Fatalf("banner %q, want 554 5.7.1", got)
	}
	if !c.closed() {
		t.Fatal("refused connection left open")
	}
}

func TestGreetingAndEHLO(t *testing.T) {
	sk := newSink(t)
	r := startRelay(t, baseConfig(sk.addr))
	c := dialRaw(t, r.addr)
	if got := c.reply(); got != "220 relay.test ESMTP relayd" {
		t.Fatalf("banner %q", got)
	}
	c.write("EHLO client.test\r\n")
	var lines []string
	for {
		l, err := c.br.ReadString('\n')
		if err != nil {
			t.Fatal(err)
		}
		lines = append(lines, strings.TrimSpace(l[4:]))
		if l[3] == ' ' {
			break
		}
	}
	ehlo := strings.Join(lines, "|")
	for _, want := range []string{"PIPELINING", "8BITMIME", "SMTPUTF8", "ENHANCEDSTATUSCODES", "SIZE 10485760", "CHUNKING", "AUTH PLAIN LOGIN"} {
		if !strings.Contains(ehlo, want) {
			t.Errorf("EHLO lacks %s: %s", want, ehlo)
		}
	}
}

func TestLimits(t *testing.T) {
	sk := newSink(t)
	cfg := baseConfig(sk.addr)
	cfg.Listeners[0].MaxRecipients = 2
	cfg.Listeners[0].MaxMessageSize = 1000
	r := startRelay(t, cfg)
	c := dialRaw(t, r.addr)
	c.greet()
	c.cmd("MAIL FROM:<app@example.com>\r\n")
	c.cmd("RCPT TO:<a@example.org>\r\n")
	c.cmd("RCPT TO:<b@example.org>\r\n")
	if got := c.cmd("RCPT TO:<c@example.org>\r\n"); !strings.HasPrefix(got, "452 4.5.3") {
		t.Fatalf("third recipient: %q", got)
	}
	c.cmd("DATA\r\n")
	if got := c.cmd("Subject: big\r\n\r\n" + strings.Repeat("x", 2000) + "\r\n.\r\n"); !strings.HasPrefix(got, "552 5.3.4") {
		t.Fatalf("oversize: %q", got)
	}
	if got := c.cmd("MAIL FROM:<app@example.com> SIZE=5000\r\n"); !strings.HasPrefix(got, "552 5.3.4") {
		t.Fatalf("SIZE=5000: %q", got)
	}
	sk.none(r)
}
