package relay

import (
	"bufio"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/relayd/relayd/spool"
)

// dropAfterDot is a scripted upstream: its first connection takes a
// message up to the final dot and closes without a reply (the outcome is
// unknown: possibly delivered); later connections are refused with 421.
type dropAfterDot struct {
	addr  string
	conns atomic.Int32
	dots  atomic.Int32
}

func newDropAfterDot(t *testing.T) *dropAfterDot {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	d := &dropAfterDot{addr: ln.Addr().String()}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go d.serve(c, d.conns.Add(1))
		}
	}()
	return d
}

func (d *dropAfterDot) serve(c net.Conn, n int32) {
	defer c.Close()
	c.SetDeadline(time.Now().Add(20 * time.Second))
	if n > 1 {
		c.Write([]byte("421 4.3.2 drop.test busy, try later\r\n"))
		return
	}
	c.Write([]byte("220 drop.test ESMTP\r\n"))
	br := bufio.NewReader(c)
	data := false
	for {
		line, err := br.ReadString('\n')
		if err != nil {
			return
		}
		cmd := strings.ToUpper(strings.TrimRight(line, "\r\n"))
		switch {
		case data && cmd == ".":
			d.dots.Add(1)
			return // no reply to the final dot
		case data:
		case strings.HasPrefix(cmd, "EHLO"), strings.HasPrefix(cmd, "HELO"):
			c.Write([]byte("250 drop.test\r\n"))
		case strings.HasPrefix(cmd, "DATA"):
			data = true
			c.Write([]byte("354 go ahead\r\n"))
		case strings.HasPrefix(cmd, "QUIT"):
			c.Write([]byte("221 bye\r\n"))
			return
		default:
			c.Write([]byte("250 ok\r\n"))
		}
	}
}

// counterValue reads one labelled series of a counter from reg.
func counterValue(t *testing.T, reg *prometheus.Registry, name, label, value string) float64 {
	t.Helper()
	fams, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range fams {
		if f.GetName() != name {
			continue
		}
		for _, m := range f.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == label && l.GetValue() == value {
					return m.GetCounter().GetValue()
				}
			}
		}
	}
	return 0
}

// TestAmbiguousFailureWaitsForRetryNotFallback: no reply to the final dot
// is counted as ambiguous, and the recipient waits for the retry schedule;
// the fallback profile gets nothing until that retry.
func TestAmbiguousFailureWaitsForRetryNotFallback(t *testing.T) {
	cfg, sa, sb := twoUpstreams(t)
	sa.srv.Close()
	drop := newDropAfterDot(t)
	cfg.Profiles["a"] = profileFor("a", drop.addr)
	cfg.Profiles["a"].Fallback = []string{"b"}
	r := startRelay(t, cfg)
	id := send(t, r.addr, "app@example.com", []string{"x@example.org"}, simpleBody)
	m := r.waitState(id, spool.StateDeferred)
	sb.none(r)
	if got := drop.dots.Load(); got != 1 {
		t.Errorf("the scripted upstream saw %d final dots, want 1", got)
	}
	if got := counterValue(t, r.reg, "relayd_delivery_ambiguous_total", "profile", "a"); got != 1 {
		t.Errorf("relayd_delivery_ambiguous_total{profile=a} = %v, want 1", got)
	}
	rc := m.Recipients[0]
	if want := r.clock.Now().Add(time.Minute); rc.Profile != "a" || !rc.NextAttempt.Equal(want) {
		t.Errorf("deferred recipient %+v, want profile a, next attempt %v (retry_schedule)", rc, want)
	}

	r.advance(time.Minute) // the retry: a refuses with 421, the fallback takes it
	sb.wait()
	if m := r.waitState(id, spool.StateSent); m.Recipients[0].Profile != "b" {
		t.Errorf("sent through %q, want the fallback b", m.Recipients[0].Profile)
	}
	sb.none(r)
}
