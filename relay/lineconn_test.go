package relay

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/relayd/relayd/relay/smtpwire/wiretest"
)

// TestDataBufferInSession sends messages of very different sizes on one
// connection, with and without a declared SIZE (true, too small, too
// large), so the DATA fast path grows, keeps, drops and reuses its buffer
// (message.Parse and Flatten work in it): each spooled body must be the
// message as sent, after its Received: field, with nothing of the others.
func TestDataBufferInSession(t *testing.T) {
	r := startHeldRelay(t, nil)
	head := "From: <app@example.com>\r\nDate: Tue, 24 Nov 2026 09:00:00 +0000\r\nMessage-ID: <%d@example.com>\r\n\r\n"
	tests := []struct {
		name, body string
		stored     string // the body as spooled, if not as sent
		size       int    // SIZE=; 0: none, -1: the message's size
	}{
		{name: "3 MiB", body: wiretest.Lines(3 << 20)},
		{name: "small, true size", body: wiretest.Lines(200), size: -1},
		{name: "50 KiB, size too small", body: wiretest.Lines(50 << 10), size: 10},
		{name: "20 KiB, size too large", body: wiretest.Lines(20 << 10), size: 5000000},
		{name: "bare LF and CR", body: "bare\nLF\rCR\r\n", stored: "bare\r\nLF\r\nCR\r\n"},
		{name: "tiny", body: "x\r\n"},
	}
	c := dialRaw(t, r.addr)
	c.greet()
	ids, want := make([]string, len(tests)), make([]string, len(tests))
	for i, tt := range tests {
		h := strings.Replace(head, "%d", strconv.Itoa(i), 1)
		msg := h + tt.body
		want[i] = msg
		if tt.stored != "" {
			want[i] = h + tt.stored
		}
		mail := "MAIL FROM:<app@example.com>"
		switch {
		case tt.size < 0:
			mail += " SIZE=" + strconv.Itoa(len(msg))
		case tt.size > 0:
			mail += " SIZE=" + strconv.Itoa(tt.size)
		}
		reply := c.transaction(mail, strings.ReplaceAll(msg, "\r\n.", "\r\n..")+".\r\n", 0)
		_, id, ok := strings.Cut(reply, "Ok: queued as ")
		if !ok {
			t.Fatalf("%s: %q", tt.name, reply)
		}
		ids[i] = id
	}
	for i, tt := range tests {
		if got := spooled(t, r, ids[i]); got != want[i] {
			t.Errorf("%s: spooled %d octets %q..., want the %d octets sent", tt.name, len(got), got[:min(len(got), 300)],
				len(want[i]))
		}
	}
}

// TestFastDataMatchesGoSMTP sends the same DATA octets, in pieces of
// several sizes, in plain text and after STARTTLS: the replies and the
// spooled messages must be the same. (Its name is from when go-smtp ran
// STARTTLS and its own DATA reader read the TLS sessions; lineConn now runs
// STARTTLS itself and reads DATA in both.)
func TestFastDataMatchesGoSMTP(t *testing.T) {
	srvTLS, cliTLS := hostileTLS(t)
	r := startHeldRelay(t, func(c *Config) {
		c.Listeners[0].TLS = "starttls"
		c.Listeners[0].TLSConfig = srvTLS
		c.Listeners[0].MaxErrors = 0 // some messages are refused
	})
	wires := []string{
		"Subject: a\r\n\r\n..dot\r\n...two\r\n.x\r\n.\r\n",
		".\r\n",
		"..\r\n.\r\n",
		".\rX\r\n.\rY.\r\r\n.\r\n",
		"A: 1\r\n\r\nx\r\r\n.\r\n",
		"A: 1\r\n\r\nx\n.\nMAIL FROM:<e@x>\r\n.\r\n",
		"A: 1\r\n\r\nx\r.\rRCPT TO:<v@x>\r\n.\r\n",
		"A: 1\r\n\r\nno final newline\r\n.\r\n",
		"A: 1\r\n\r\nx\x00y\r\n.\r\n",
		"From: a@x\r\nFrom: b@x\r\n\r\nx\r\n.\r\n",
		"Subject: big\r\n\r\n" + strings.ReplaceAll(wiretest.Lines(300<<10), "\r\n.", "\r\n..") + ".\r\n",
	}
	fast, slow := dialRaw(t, r.addr), dialRaw(t, r.addr)
	fast.greet()
	slow.greet()
	slow.startTLS(cliTLS)
	for i, wire := range wires {
		for _, step := range []int{0, 1, 2, 3, 4096} {
			if step > 0 && step < 4 && len(wire) > 1000 {
				continue // a write per octet is slow; the small messages cover it
			}
			replies := [2]string{}
			bodies := [2]string{}
			for j, c := range []*raw{fast, slow} {
				replies[j] = c.transaction("MAIL FROM:<app@example.com>", wire, step)
				if _, id, ok := strings.Cut(replies[j], "Ok: queued as "); ok {
					replies[j] = "250 queued"
					bodies[j] = strings.ReplaceAll(spooled(t, r, id), id, "ID") // in the Message-ID: added
				}
			}
			if replies[0] != replies[1] || bodies[0] != bodies[1] {
				t.Errorf("wire %d in pieces of %d: fast path %q %q, go-smtp %q %q", i, step, replies[0],
					bodies[0][:min(len(bodies[0]), 200)], replies[1], bodies[1][:min(len(bodies[1]), 200)])
			}
		}
	}
}

// startHeldRelay starts a relay whose messages stay in the spool (send
// delay of an hour), configured further by cfg if not nil.
func startHeldRelay(t *testing.T, cfg func(*Config)) *testRelay {
	t.Helper()
	sk := newSink(t)
	c := baseConfig(sk.addr)
	c.Profiles["sink"].SendDelay = time.Hour
	if cfg != nil {
		cfg(c)
	}
	return startRelay(t, c)
}

// transaction runs MAIL (the line mail), one RCPT and DATA, writes wire
// (dot-stuffed, with its end-of-data line) in pieces of step octets (0:
// at once) and returns the final reply.
func (r *raw) transaction(mail, wire string, step int) string {
	r.t.Helper()
	for _, cmd := range []string{mail + "\r\n", "RCPT TO:<someone@example.org>\r\n"} {
		if got := r.cmd(cmd); !strings.HasPrefix(got, "250") {
			r.t.Fatalf("%q: %q", cmd, got)
		}
	}
	if got := r.cmd("DATA\r\n"); !strings.HasPrefix(got, "354") {
		r.t.Fatalf("DATA: %q", got)
	}
	if step == 0 {
		step = len(wire)
	}
	for len(wire) > 0 {
		n := min(step, len(wire))
		r.write(wire[:n])
		wire = wire[n:]
	}
	return r.reply()
}

// startTLS runs STARTTLS and EHLO again.
func (r *raw) startTLS(cfg *tls.Config) {
	r.t.Helper()
	if got := r.cmd("STARTTLS\r\n"); !strings.HasPrefix(got, "220") {
		r.t.Fatalf("STARTTLS: %q", got)
	}
	tc := tls.Client(r.c, cfg)
	if err := tc.Handshake(); err != nil {
		r.t.Fatal(err)
	}
	r.c, r.br = tc, bufio.NewReader(tc)
	if got := r.cmd("EHLO client.test\r\n"); !strings.HasPrefix(got, "250") {
		r.t.Fatalf("EHLO: %q", got)
	}
}

// spooled is the spooled body of message id after its Received: field.
func spooled(t *testing.T, r *testRelay, id string) string {
	t.Helper()
	b, err := r.store.Body(id)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(b, []byte("Received: ")) {
		t.Fatalf("message %s does not start with Received: %q", id, b[:min(len(b), 100)])
	}
	for i := 0; ; {
		j := bytes.Index(b[i:], []byte("\r\n"))
		if j < 0 {
			t.Fatalf("message %s: no end to its Received: field", id)
		}
		i += j + 2
		if i >= len(b) || (b[i] != ' ' && b[i] != '\t') { // folded lines belong to the field
			return string(b[i:])
		}
	}
}
