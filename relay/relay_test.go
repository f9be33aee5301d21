package relay

import (
	"bytes"
	"io"
	"mime"
	"mime/multipart"
	"net/mail"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/relayd/relayd/spool"
)

const simpleBody = "From: App <app@example.com>\r\nTo: someone@example.org\r\nBcc: secret@example.org\r\nSubject: hi\r\n\r\nHello.\r\n"

func TestAcceptAndDeliverAddsHeaders(t *testing.T) {
	sk := newSink(t)
	r := startRelay(t, baseConfig(sk.addr))
	id := send(t, r.addr, "app@example.com", []string{"someone@example.org"}, simpleBody)
	m := sk.wait()
	if m.From != "app@example.com" || len(m.To) != 1 || m.To[0] != "someone@example.org" {
		t.Fatalf("envelope %q %v", m.From, m.To)
	}
	msg, err := mail.ReadMessage(bytes.NewReader(m.Data))
	if err != nil {
		t.Fatal(err)
	}
	recv := msg.Header.Get("Received")
	for _, want := range []string{"[127.0.0.1]", "by relay.test", "id " + id, "with ESMTP"} {
		if !strings.Contains(recv, want) {
			t.Errorf("Received %q lacks %q", recv, want)
		}
	}
	if !strings.HasSuffix(msg.Header.Get("Message-ID"), "@relay.test>") {
		t.Errorf("Message-ID %q", msg.Header.Get("Message-ID"))
	}
	if _, err := msg.Header.Date(); err != nil {
		t.Errorf("Date: %v", err)
	}
	if msg.Header.Get("Bcc") != "" || bytes.Contains(m.Data, []byte("secret@")) {
		t.Errorf("Bcc not removed:\n%s", m.Data)
	}
	r.waitState(id, spool.StateSent)
}

func TestSendDelayHoldsUntilDue(t *testing.T) {
	sk := newSink(t)
	cfg := baseConfig(sk.addr)
	cfg.Profiles["sink"].SendDelay = 10 * time.Minute
	r := startRelay(t, cfg)
	id := send(t, r.addr, "app@example.com", []string{"someone@example.org"}, simpleBody)
	m, err := r.store.Get(id)
	if err != nil || m.Recipients[0].State != spool.StateDelayed {
		t.Fatalf("state after accept: %+v %v", m, err)
	}
	r.advance(9 * time.Minute)
	sk.none(r)
	r.advance(time.Minute)
	sk.wait()
	r.waitState(id, spool.StateSent)
}

func TestTemporaryFailureFollowsRetrySchedule(t *testing.T) {
	sk := newSink(t)
	sk.set(func() {
		sk.onData = func(n int) error {
			if n <= 2 {
				return errTemp
			}
			return nil
		}
	})
	r := startRelay(t, baseConfig(sk.addr)) // retry_schedule 1m, 5m
	start := r.clock.Now()
	id := send(t, r.addr, "app@example.com", []string{"someone@example.org"}, simpleBody)
	m := r.waitState(id, spool.StateDeferred)
	if got := m.Recipients[0].NextAttempt; !got.Equal(start.Add(time.Minute)) {
		t.Fatalf("first retry at %v, want %v", got, start.Add(time.Minute))
	}
	if !strings.Contains(m.Recipients[0].LastError, "451") {
		t.Errorf("last_error %q", m.Recipients[0].LastError)
	}
	r.advance(59 * time.Second)
	sk.none(r)
	r.advance(time.Second)
	m = waitAttempts(r, id, 2)
	if got, want := m.Recipients[0].NextAttempt, start.Add(time.Minute+5*time.Minute); !got.Equal(want) {
		t.Fatalf("second retry at %v, want %v", got, want)
	}
	r.advance(5 * time.Minute)
	sk.wait()
	m = r.waitState(id, spool.StateSent)
	if m.Recipients[0].Attempts != 3 {
		t.Errorf("attempts %d, want 3", m.Recipients[0].Attempts)
	}
}

func waitAttempts(r *testRelay, id string, n int) *spool.Message {
	r.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		m, _ := r.store.Get(id)
		if m != nil && m.Recipients[0].Attempts == n && m.Recipients[0].State == spool.StateDeferred {
			return m
		}
		if time.Now().After(deadline) {
			r.t.Fatalf("message %s: not deferred after %d attempts: %+v", id, n, m)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestPermanentFailureBouncesWithDSN(t *testing.T) {
	sk := newSink(t)
	sk.set(func() {
		sk.onRcpt = func(to string) error {
			if to == "nobody@example.org" {
				return errPerm
			}
			return nil
		}
	})
	cfg := baseConfig(sk.addr)
	cfg.Notify.Bounces = "bounces@example.com"
	r := startRelay(t, cfg)
	id := send(t, r.addr, "app@example.com", []string{"nobody@example.org"}, simpleBody)
	r.waitState(id, spool.StateBounced)
	dsn := sk.wait()
	if dsn.From != "" {
		t.Errorf("DSN sent from %q, want the null sender", dsn.From)
	}
	if strings.Join(dsn.To, ",") != "app@example.com,bounces@example.com" {
		t.Errorf("DSN to %v", dsn.To)
	}
	msg, err := mail.ReadMessage(bytes.NewReader(dsn.Data))
	if err != nil {
		t.Fatal(err)
	}
	mt, params, err := mime.ParseMediaType(msg.Header.Get("Content-Type"))
	if err != nil || mt != "multipart/report" || params["report-type"] != "delivery-status" {
		t.Fatalf("DSN Content-Type %q: %v", msg.Header.Get("Content-Type"), err)
	}
	mr := multipart.NewReader(msg.Body, params["boundary"])
	var types []string
	var status string
	for {
		p, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		types = append(types, p.Header.Get("Content-Type"))
		b, _ := io.ReadAll(p)
		if strings.HasPrefix(p.Header.Get("Content-Type"), "message/delivery-status") {
			status = string(b)
		}
	}
	if len(types) < 2 {
		t.Fatalf("DSN parts %v", types)
	}
	for _, want := range []string{"Final-Recipient: rfc822; nobody@example.org", "Action: failed", "Status: 5.1.1", "550"} {
		if !strings.Contains(strings.ReplaceAll(status, "rfc822;nobody", "rfc822; nobody"), want) {
			t.Errorf("delivery-status lacks %q:\n%s", want, status)
		}
	}
}

func TestMaxPerConnectionReconnects(t *testing.T) {
	sk := newSink(t)
	cfg := baseConfig(sk.addr)
	cfg.Profiles["sink"].Upstream.MaxPerConn = 3
	cfg.Profiles["sink"].Upstream.MaxConns = 1
	r := startRelay(t, cfg)
	for i := 0; i < 10; i++ {
		send(t, r.addr, "app@example.com", []string{"someone@example.org"}, simpleBody)
	}
	perConn := map[int]int{}
	for i := 0; i < 10; i++ {
		perConn[sk.wait().Conn]++
	}
	if len(perConn) < 4 {
		t.Errorf("%d connections for 10 messages with max_per_connection=3: %v", len(perConn), perConn)
	}
	for c, n := range perConn {
		if n > 3 {
			t.Errorf("connection %d carried %d messages", c, n)
		}
	}
}

func TestRecipientsOfOneMessageShareOneTransaction(t *testing.T) {
	sk := newSink(t)
	r := startRelay(t, baseConfig(sk.addr))
	send(t, r.addr, "app@example.com", []string{"a@example.org", "b@example.org", "c@example.net"}, simpleBody)
	m := sk.wait()
	if len(m.To) != 3 {
		t.Fatalf("one transaction with %v, want 3 recipients", m.To)
	}
}

func TestQuotedLocalPartIsRequotedUpstream(t *testing.T) {
	sk := newSink(t)
	r := startRelay(t, baseConfig(sk.addr))
	c := dialRaw(t, r.addr)
	c.greet()
	for _, step := range []struct{ cmd, want string }{
		{"MAIL FROM:<app@example.com>\r\n", "250"},
		{"RCPT TO:<\"john NOTIFY=SUCCESS doe\"@example.org>\r\n", "250"},
		{"DATA\r\n", "354"},
		{"Subject: q\r\n\r\nbody\r\n.\r\n", "250"},
	} {
		if got := c.cmd(step.cmd); !strings.HasPrefix(got, step.want) {
			t.Fatalf("%q: got %q", step.cmd, got)
		}
	}
	m := sk.wait()
	if len(m.To) != 1 || m.To[0] != "john NOTIFY=SUCCESS doe@example.org" {
		t.Fatalf("upstream recipients %q", m.To)
	}
	if !strings.Contains(sk.transcript(), "RCPT TO:<\"john NOTIFY=SUCCESS doe\"@example.org>\r\n") {
		t.Fatalf("RCPT not quoted on the wire:\n%s", sk.transcript())
	}
}

// TestMaxQueueAgeBouncesOnce: a recipient that is still deferred when
// max_queue_age runs out bounces with 4.4.7, its sender gets one DSN, and
// the bounce is counted once.
func TestMaxQueueAgeBouncesOnce(t *testing.T) {
	sk := newDeferringSink(t, "slow@example.org")
	cfg := baseConfig(sk.addr)
	cfg.MaxQueueAge = 10 * time.Minute
	cfg.RetrySchedule = []time.Duration{4 * time.Minute}
	r := startRelay(t, cfg)
	id := send(t, r.addr, "app@example.com", []string{"slow@example.org"}, simpleBody)
	r.waitState(id, spool.StateDeferred)
	for i := 0; i < 2; i++ {
		r.advance(4 * time.Minute)
		waitAttempts(r, id, i+2)
	}
	r.advance(2 * time.Minute) // 10 minutes old: expired, not attempted again
	m := r.waitState(id, spool.StateBounced)
	if m.Recipients[0].Attempts != 3 || !strings.Contains(m.Recipients[0].LastError, "4.4.7") {
		t.Errorf("after expiry: %+v", m.Recipients[0])
	}
	dsn := sk.wait()
	if dsn.From != "" || strings.Join(dsn.To, ",") != "app@example.com" ||
		!bytes.Contains(dsn.Data, []byte("Status: 4.4.7")) || !bytes.Contains(dsn.Data, []byte("Action: failed")) {
		t.Fatalf("expiry DSN %q %v:\n%s", dsn.From, dsn.To, dsn.Data)
	}
	sk.none(r)
	if got := testutil.ToFloat64(r.srv.metrics.deliveries.WithLabelValues("sink", "bounced")); got != 1 {
		t.Errorf("bounced counted %v times, want 1", got)
	}
}
