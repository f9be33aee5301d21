package relay

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/relayd/relayd/relay/message"
	"github.com/relayd/relayd/relay/smtpwire/wiretest"
	"github.com/relayd/relayd/spool"
)

// fuzzHeader starts every fuzzed message, so relayd adds only its
// Received: field and the fuzzed octets are all body.
const fuzzHeader = "Message-ID: <fuzz@example.com>\r\nDate: Tue, 24 Nov 2026 09:00:00 +0000\r\n\r\n"

// FuzzWireReaders sends fuzzed message octets through relayd's real
// listener, as DATA (the octets as they are on the wire, followed by a
// CRLF.CRLF) or as BDAT (the octets cut into chunks), and compares what is
// spooled with what reference readers written from the RFCs make of the
// same octets: for DATA unstuffReference (RFC 5321 2.3.8, 4.1.1.4, 4.5.2),
// for BDAT the chunks' octets, exactly their sizes, concatenated (RFC 3030
// 2). Both results then go through the same message checks
// (message.Parse, FixLongLines), so a difference is the reader's. After
// the message, a NOOP must be answered as a command: the reader stopped
// exactly at the end of the data.
func FuzzWireReaders(f *testing.F) {
	for _, s := range []string{
		"body\r\n", "body\r\n.\r\r\n.\r\nNOOP\r\n", "body\r\n.\rX\r\n", "a\n..b\r\n", "x\r\n.\n.\r\nMAIL FROM:<e@x>\r\n",
		"BDAT 5 LAST\r\nhello", "..\r\n.\r\n", "\r\n.\r\r\n", "bare\rCR\nLF\r\n", "",
	} {
		f.Add([]byte(s), false, uint8(0))
		f.Add([]byte(s), true, uint8(3))
	}
	addr, store := fuzzRelay(f)
	f.Fuzz(func(t *testing.T, body []byte, bdat bool, cut uint8) {
		if len(body) > 4000 || bytes.IndexByte(body, 0) >= 0 {
			return // long lines would be re-encoded, NUL refused: not what is tested here
		}
		c := fuzzSession(t, addr)
		defer c.c.Close()
		msg := append([]byte(fuzzHeader), body...)
		var raw []byte // the message as the reference reads it
		if bdat {
			raw = msg
			n := int(cut%4) + 1
			for i := 0; i < n; i++ {
				piece := msg[len(msg)*i/n : len(msg)*(i+1)/n]
				last := ""
				if i == n-1 {
					last = " LAST"
				}
				c.write(fmt.Sprintf("BDAT %d%s\r\n%s", len(piece), last, piece))
				if i < n-1 {
					if got := c.reply(); !strings.HasPrefix(got, "250 ") {
						t.Fatalf("chunk %d of %d: %q", i+1, n, got)
					}
				}
			}
		} else {
			wire := append(msg, "\r\n.\r\n"...)
			var end bool
			var n int
			raw, n, end = wiretest.UnstuffReference(wire)
			if !end {
				t.Fatalf("reference: no end of data in %q", wire)
			}
			if got := c.cmd("DATA\r\n"); !strings.HasPrefix(got, "354") {
				t.Fatalf("DATA: %q", got)
			}
			c.write(string(wire[:n]))
		}
		c.write("NOOP\r\n")
		got := c.reply()
		want := fuzzExpected(t, raw)
		if noop := c.reply(); !strings.HasPrefix(noop, "250 2.0.0") {
			t.Fatalf("NOOP after the message: %q (reply to the message %q)", noop, got)
		}
		_, id, queued := strings.Cut(got, "Ok: queued as ")
		switch {
		case want == nil && queued:
			t.Fatalf("queued, but the reference's message is refused by message.Parse")
		case want == nil:
			return
		case !queued:
			t.Fatalf("reply %q, want 250 for %q", got, raw)
		}
		if s := spooled(t, &testRelay{store: store}, id); s != string(want) {
			t.Fatalf("spooled:\n%q\nreference:\n%q", s, want)
		}
	})
}

// fuzzExpected is what relayd spools (after its Received: field) for the
// message octets raw, or nil if it refuses them.
func fuzzExpected(t *testing.T, raw []byte) []byte {
	buf := append(make([]byte, message.HeaderRoom), raw...)
	m, err := message.Parse(buf, message.HeaderRoom, message.Limits{MaxSize: 10 << 20, MaxLineLength: 1 << 20,
		MaxHeaderBytes: maxHeaderBytes, MaxReceived: maxReceived})
	if err != nil {
		return nil
	}
	if _, err := m.FixLongLines(); err != nil {
		t.Fatal(err)
	}
	return bytes.Clone(m.Flatten())
}

// fuzzSession dials addr and opens a transaction.
func fuzzSession(t *testing.T, addr string) *raw {
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	c.SetDeadline(time.Now().Add(10 * time.Second))
	r := &raw{t: t, c: c, br: bufio.NewReader(c)}
	r.greet()
	for _, cmd := range []string{"MAIL FROM:<app@example.com>\r\n", "RCPT TO:<someone@example.org>\r\n"} {
		if got := r.cmd(cmd); !strings.HasPrefix(got, "250") {
			t.Fatalf("%q: %q", cmd, got)
		}
	}
	return r
}

// fuzzRelay starts one relay for all of a fuzz target's inputs: bare_lf =
// "normalize", no error limit, messages held in the spool (nothing is
// delivered).
func fuzzRelay(f *testing.F) (string, *spool.Store) {
	cfg := baseConfig("127.0.0.1:9")
	cfg.Profiles["sink"].SendDelay = time.Hour
	cfg.Listeners[0].MaxErrors = 0
	cfg.Listeners[0].MaxLineLength = 1 << 20
	store, err := spool.Open(spool.Options{Dir: f.TempDir()})
	if err != nil {
		f.Fatal(err)
	}
	srv, err := New(Options{Config: cfg, Spool: store})
	if err != nil {
		f.Fatal(err)
	}
	if err := srv.Listen(); err != nil {
		f.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		srv.Run(ctx, time.Second)
	}()
	f.Cleanup(func() {
		cancel()
		<-done
		store.Close()
	})
	return srv.Addrs()["local"].String(), store
}
