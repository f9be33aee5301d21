package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// loadSpec is one Go-driven load: N messages of SizeKB KiB body over C
// concurrent sessions, one TCP connection per message (as smtp-source
// without -d), to Addr.
type loadSpec struct {
	Addr     string
	N, C     int
	SizeKB   int
	Deadline time.Duration // the whole load stops after this
	// Attach sends attachMessage (multipart/mixed, a text body and an
	// SizeKB KiB PDF attachment) instead of body.
	Attach bool `json:",omitempty"`
}

// loadResult is what a load measured. Latencies are in milliseconds.
type loadResult struct {
	Accepted int     // 250 after the final dot
	Failed   int     // any other outcome
	Seconds  float64 // wall time of the load
	PerSec   float64 // Accepted / Seconds
	// Txn is connect to the 250 after the final dot: how long the
	// application waits to hand one message off.
	TxnP50, TxnP99, TxnMax float64
	// Dot is the final dot (with the last body bytes) to its 250: the
	// commit, fsync included.
	DotP50, DotP99 float64
	FirstErr       string `json:",omitempty"`
}

// body returns the message for number i: a few header fields and a body of
// sizeKB KiB in 72-octet lines, CRLF-terminated.
func body(i, sizeKB int, pad []byte) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "From: <sender@bench.test>\r\nTo: <%d.rcpt@bench.test>\r\nSubject: relayd-bench %d\r\n"+
		"Date: %s\r\nMessage-ID: <%d.%d@bench.test>\r\n\r\n",
		i, i, time.Now().Format(time.RFC1123Z), time.Now().UnixNano(), i)
	b.Write(pad)
	return b.Bytes()
}

// padding is sizeKB KiB of body lines.
func padding(sizeKB int) []byte {
	line := strings.Repeat("La de da de da relayd-bench. ", 3)[:70] + "\r\n"
	var b bytes.Buffer
	for b.Len() < sizeKB<<10 {
		b.WriteString(line)
	}
	return b.Bytes()
}

// runLoad sends the load and measures it. It stops early when ctx ends or
// the deadline passes; messages not tried then count as failed.
func runLoad(ctx context.Context, s loadSpec) loadResult {
	if s.Deadline > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, s.Deadline)
		defer cancel()
	}
	pad := padding(s.SizeKB)
	msg := func(buf []byte, i int) []byte { return body(i, s.SizeKB, pad) }
	if s.Attach {
		msg = newAttachMaker(pdfLike(s.SizeKB)).appendMessage
	}
	var next atomic.Int64
	var mu sync.Mutex
	var res loadResult
	txn := make([]time.Duration, 0, s.N)
	dot := make([]time.Duration, 0, s.N)
	start := time.Now()
	var wg sync.WaitGroup
	for range max(s.C, 1) {
		wg.Go(func() {
			var buf []byte // this sender's message, reused
			for ctx.Err() == nil {
				i := int(next.Add(1))
				if i > s.N {
					return
				}
				buf = msg(buf, i)
				t, d, err := sendOne(ctx, s.Addr, i, buf)
				mu.Lock()
				if err != nil {
					res.Failed++
					if res.FirstErr == "" {
						res.FirstErr = err.Error()
					}
				} else {
					res.Accepted++
					txn = append(txn, t)
					dot = append(dot, d)
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	res.Seconds = time.Since(start).Seconds()
	res.Failed = s.N - res.Accepted
	if res.Seconds > 0 {
		res.PerSec = float64(res.Accepted) / res.Seconds
	}
	res.TxnP50, res.TxnP99, res.TxnMax = pct(txn, 50), pct(txn, 99), pct(txn, 100)
	res.DotP50, res.DotP99 = pct(dot, 50), pct(dot, 99)
	return res
}

// sendOne delivers message i in its own session and returns the time from
// connect and from the final dot to the 250.
//
// It speaks SMTP itself and writes the message as it is (dot-stuffed only
// if a line starts with a dot, which the bench's messages never do), as
// smtp-source does: the load generator runs on the machine it measures,
// and go-smtp's client, which dot-stuffs octet by octet, cost about as
// much CPU per 100 KiB message as the daemon under test.
func sendOne(ctx context.Context, addr string, i int, msg []byte) (txn, dot time.Duration, err error) {
	t0 := time.Now()
	d := net.Dialer{Timeout: 10 * time.Second}
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return 0, 0, err
	}
	defer conn.Close()
	dl := time.Now().Add(2 * time.Minute)
	if ctxDl, ok := ctx.Deadline(); ok && ctxDl.Before(dl) {
		dl = ctxDl
	}
	conn.SetDeadline(dl)
	s := &smtpConn{c: conn, r: bufio.NewReader(conn)}
	if err := s.expect("220"); err != nil {
		return 0, 0, err
	}
	for _, c := range []struct{ cmd, code string }{
		{"EHLO bench.test\r\n", "250"},
		{"MAIL FROM:<sender@bench.test>\r\n", "250"},
		{fmt.Sprintf("RCPT TO:<%d.rcpt@bench.test>\r\n", i), "250"},
		{"DATA\r\n", "354"},
	} {
		if err := s.cmd(c.cmd, c.code); err != nil {
			return 0, 0, err
		}
	}
	if _, err := conn.Write(dotStuffed(msg)); err != nil {
		return 0, 0, err
	}
	t1 := time.Now()
	if err := s.cmd(".\r\n", "250"); err != nil {
		return 0, 0, err
	}
	t2 := time.Now()
	s.cmd("QUIT\r\n", "221")
	return t2.Sub(t0), t2.Sub(t1), nil
}

// smtpConn is the client side of one SMTP session.
type smtpConn struct {
	c net.Conn
	r *bufio.Reader
}

// cmd sends one command line and reads its reply.
func (s *smtpConn) cmd(line, code string) error {
	if _, err := io.WriteString(s.c, line); err != nil {
		return err
	}
	return s.expect(code)
}

// expect reads one reply, all its lines, and fails unless its code is code;
// the error is the reply's last line ("452 4.3.1 Insufficient system
// storage ...").
func (s *smtpConn) expect(code string) error {
	for {
		line, err := s.r.ReadString('\n')
		if err != nil {
			return err
		}
		if len(line) < 4 || line[:3] != code {
			return errors.New(strings.TrimSpace(line))
		}
		if line[3] == ' ' {
			return nil
		}
	}
}

// dotStuffed is msg as DATA carries it (RFC 5321 4.5.2), ending in CRLF.
func dotStuffed(msg []byte) []byte {
	if !bytes.HasSuffix(msg, []byte("\r\n")) {
		msg = append(msg, "\r\n"...)
	}
	if !bytes.HasPrefix(msg, []byte(".")) && !bytes.Contains(msg, []byte("\n.")) {
		return msg
	}
	out := make([]byte, 0, len(msg)+64)
	for len(msg) > 0 {
		if msg[0] == '.' {
			out = append(out, '.')
		}
		n := bytes.IndexByte(msg, '\n') + 1
		if n == 0 {
			n = len(msg)
		}
		out, msg = append(out, msg[:n]...), msg[n:]
	}
	return out
}

// pct is the p-th percentile (nearest rank) of ds in milliseconds; 0 for
// none. It sorts ds.
func pct(ds []time.Duration, p float64) float64 {
	if len(ds) == 0 {
		return 0
	}
	slices.Sort(ds)
	k := int(float64(len(ds))*p/100+0.5) - 1
	k = min(max(k, 0), len(ds)-1)
	return float64(ds[k].Microseconds()) / 1000
}
