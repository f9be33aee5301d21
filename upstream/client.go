package upstream

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/textproto"
	"strings"
	"sync/atomic"
	"time"
)

// Limits on what an upstream may send in one reply. RFC 5321 §4.5.3.1.5
// allows 512 octets per reply line; like go-smtp and Postfix we accept more.
const (
	maxReplyLine  = 2000
	maxReplyLines = 200
	quitTimeout   = 10 * time.Second
	// writeBuffer holds a pipelined command group and most bodies whole,
	// so a transaction is a few writes, not one per 4 KB.
	writeBuffer = 64 << 10
)

var (
	errProtocol     = errors.New("malformed SMTP reply")
	errLineTooLong  = errors.New("reply line longer than 2000 octets")
	errLineBreak    = errors.New("command contains CR or LF")
	errTLSInjection = errors.New("data after the STARTTLS reply before the TLS handshake (RFC 3207 §5)")
)

// reply is one SMTP reply.
type reply struct {
	code     int
	enhanced string // "5.7.8", "" when the reply has none
	text     string // the lines, joined with "\n", without codes
}

func (r *reply) ok() bool { return r.code >= 200 && r.code < 300 }

// client is one connection to an upstream. It is owned by one goroutine at
// a time (the Send that checked it out, or the pool while idle); only close
// may be called concurrently (by the context watcher).
type client struct {
	profile string
	addr    string   // host:port for errors and logs (type direct: the MX host name)
	raw     net.Conn // the TCP connection: closing it ends everything
	conn    net.Conn // raw, or the *tls.Conn over it
	r       *textproto.Reader
	w       *bufio.Writer
	ext     map[string]string // EHLO keywords (upper case) and their parameters
	tls     bool
	mech    string      // the AUTH mechanism used, "" = none
	oauth   *oauthState // with [profile.oauth2]: the token source and what the upstream rejected
	broken  bool        // an I/O error happened: no QUIT, no reuse

	tr      *transcript        // debug_transcript of the profile, nil = none
	authing bool               // inside an AUTH exchange: what relayd sends is not shown (transcript.go)
	trace   func(Step, string) // Probe: called as each handshake step succeeds; nil = none
	closed  atomic.Bool        // close was called (noted once in the transcript)

	timeout     time.Duration // each command's reply
	dataTimeout time.Duration // the body and the reply to the final "."
	msgs        int           // transactions started (MAIL sent)
	idleSince   time.Time
	idleTimer   *time.Timer
}

func newClient(profile, addr string, raw net.Conn) *client {
	c := &client{profile: profile, addr: addr, raw: raw}
	c.setConn(raw)
	return c
}

// setConn makes conn the transport, dropping anything buffered from the
// previous one (the caller checks there was nothing, see startTLS).
func (c *client) setConn(conn net.Conn) {
	c.conn = conn
	c.r = textproto.NewReader(bufio.NewReader(&lineLimiter{r: conn}))
	c.w = bufio.NewWriterSize(conn, writeBuffer)
}

// write sends the command lines in one flush (several when pipelining,
// RFC 2920) within the command timeout.
func (c *client) write(lines ...string) error {
	for _, l := range lines {
		if strings.ContainsAny(l, "\r\n") {
			return errLineBreak
		}
	}
	if c.tr != nil {
		c.logSent(lines)
	}
	c.conn.SetWriteDeadline(time.Now().Add(c.timeout))
	for _, l := range lines {
		c.w.WriteString(l)
		c.w.WriteString("\r\n")
	}
	if err := c.w.Flush(); err != nil {
		c.broken = true
		return err
	}
	return nil
}

// read reads one reply, waiting at most timeout for it.
func (c *client) read(timeout time.Duration) (*reply, error) {
	c.conn.SetReadDeadline(time.Now().Add(timeout))
	var lines []string
	code := 0
	for {
		line, err := c.r.ReadLine()
		if err != nil {
			c.broken = true
			if c.tr != nil {
				c.note("read failed: " + netReason(context.Background(), err))
			}
			return nil, err
		}
		if c.tr != nil {
			c.logReceived(line)
		}
		lc, last, text, err := parseReplyLine(line)
		if err != nil || (code != 0 && lc != code) || len(lines) == maxReplyLines {
			c.broken = true
			return nil, fmt.Errorf("%w: %q", errProtocol, truncate(line, 80))
		}
		code = lc
		lines = append(lines, text)
		if last {
			return newReply(code, lines), nil
		}
	}
}

// cmd sends one command and reads its reply.
func (c *client) cmd(line string) (*reply, error) {
	if err := c.write(line); err != nil {
		return nil, err
	}
	return c.read(c.timeout)
}

// has reports whether the server announced the EHLO keyword.
func (c *client) has(keyword string) bool {
	_, ok := c.ext[keyword]
	return ok
}

// quit ends the session politely when the connection still works, then
// closes it. It never takes more than the command timeout (10 s at most).
func (c *client) quit() {
	if !c.broken && c.write("QUIT") == nil {
		c.read(min(c.timeout, quitTimeout))
	}
	c.close()
}

// close closes the TCP connection; it is safe to call concurrently and
// more than once.
func (c *client) close() {
	if !c.closed.Swap(true) && c.tr != nil {
		c.note("connection closed")
	}
	c.raw.Close()
}

// parseReplyLine splits "250-text" / "250 text" / "250" (RFC 5321 §4.2).
func parseReplyLine(line string) (code int, last bool, text string, err error) {
	if len(line) < 3 || line[0] < '2' || line[0] > '5' ||
		line[1] < '0' || line[1] > '9' || line[2] < '0' || line[2] > '9' {
		return 0, false, "", errProtocol
	}
	code = int(line[0]-'0')*100 + int(line[1]-'0')*10 + int(line[2]-'0')
	if len(line) == 3 {
		return code, true, "", nil
	}
	switch line[3] {
	case ' ':
		return code, true, line[4:], nil
	case '-':
		return code, false, line[4:], nil
	}
	return 0, false, "", errProtocol
}

// newReply builds a reply, taking the RFC 3463 enhanced status code off the
// start of each line when the first line has one of the reply's class.
func newReply(code int, lines []string) *reply {
	r := &reply{code: code}
	first, _, _ := strings.Cut(lines[0], " ")
	if isEnhanced(first) && int(first[0]-'0') == code/100 {
		r.enhanced = first
		for i, l := range lines {
			if rest, ok := strings.CutPrefix(l, first); ok && (rest == "" || rest[0] == ' ') {
				lines[i] = strings.TrimPrefix(rest, " ")
			}
		}
	}
	r.text = strings.Join(lines, "\n")
	return r
}

// isEnhanced reports whether s looks like "class.subject.detail" (RFC 3463).
func isEnhanced(s string) bool {
	parts := strings.Split(s, ".")
	if len(parts) != 3 || len(s) > 9 || (s[0] != '2' && s[0] != '4' && s[0] != '5') {
		return false
	}
	for _, p := range parts {
		if p == "" || strings.Trim(p, "0123456789") != "" {
			return false
		}
	}
	return true
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "..."
	}
	return s
}

// lineLimiter fails a read once a line exceeds maxReplyLine octets, so an
// upstream cannot make textproto buffer without bound.
type lineLimiter struct {
	r io.Reader
	n int // octets since the last LF
}

// Read implements io.Reader.
func (l *lineLimiter) Read(p []byte) (int, error) {
	n, err := l.r.Read(p)
	for _, b := range p[:n] {
		if b == '\n' {
			l.n = 0
		} else if l.n++; l.n > maxReplyLine {
			return 0, errLineTooLong
		}
	}
	return n, err
}
