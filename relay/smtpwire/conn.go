package smtpwire

import (
	"bytes"
	"crypto/tls"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// commandLineLimit is the longest command line accepted, CRLF included.
const commandLineLimit = 2000

// Conn is the connection go-smtp reads from: above TLS for implicit-TLS
// listeners, right above the socket (sock) otherwise. It sees the SMTP dialogue in
// plaintext and enforces what go-smtp cannot be trusted with:
//
//   - it hands go-smtp only complete command lines. A partial line is held
//     back until its LF arrives, so a timeout (or a limit) can never make
//     go-smtp run a truncated command (bufio returns a partial line as a
//     line and drops the error behind it).
//   - timeouts are answered here, "421 4.4.2", and the connection closed.
//   - command lines over 2000 octets: "500 5.5.2" and closed; HTTP request
//     lines: closed at once.
//   - BDAT chunks are followed octet by octet, exactly as go-smtp reads
//     them, so chunk data is never checked as commands; a connection that
//     ends inside a chunk gives go-smtp an error, never a short chunk.
//   - message lines over max_line_length stop the message before go-smtp's
//     own (sticky) line limit fires, so the client gets one reply.
//   - bare CR/LF inside a message are noted for bare_lf = "reject".
//   - DATA is un-stuffed here (unstuffer, from RFC 5321), not by go-smtp's
//     DATA reader, which drops a "." and a CR that are message content.
//   - STARTTLS is run here (startTLS), not by go-smtp, so that Conn
//     stays above TLS and all of the above holds in TLS sessions too;
//     commands pipelined behind STARTTLS are discarded (RFC 3207 5).
//   - go-smtp's fixed greeting becomes "220 <hostname> ESMTP relayd".
type Conn struct {
	net.Conn         // *sock, or *tls.Conn over *sock for implicit TLS and after STARTTLS
	raw      *sock   // the socket below
	opts     Options // as given to New
	greeting string  // opts.Greeting
	greeted  atomic.Bool

	wmu   sync.Mutex
	wheld []byte // continuation lines of a reply, written with its last line

	// What Write tells the reading side about go-smtp's state (vet.go).
	helo     atomic.Bool // go-smtp accepted EHLO or HELO
	authResp atomic.Bool // go-smtp sent a 334: the next line is an AUTH response
	badSASL  atomic.Bool // an undecodable AUTH response was handed up as "*"

	// After STARTTLS (startTLS): the TLS connection and its state.
	// Conn is replaced by tlsConn on the reading goroutine while go-smtp
	// waits in Read; Close uses these, as it may run on another.
	under    net.Conn // Conn as it was built
	tlsConn  atomic.Pointer[tls.Conn]
	tlsState atomic.Pointer[tls.ConnectionState]

	mu       sync.Mutex
	buf      []byte   // read from below, not yet handed up
	pass     int      // octets at the head of buf already vetted
	chunk    int64    // BDAT chunk octets still to pass unchecked
	ls       lineScan // line length and bare line ends inside a message
	pending  error    // returned once buf is drained
	lastHelo bool     // the last line handed up was EHLO or HELO

	rbuf  []byte // what fill reads into off the fast path; only the reading goroutine uses it
	store []byte // buf's backing array, reused whenever buf is empty

	// The DATA fast path (takeData): after a DATA command line, Conn
	// un-stuffs the message itself into msg, a stretch of octets at a
	// time, and hands go-smtp only the end-of-data line. msg is the
	// session's, reused for its next message, and is parsed in place
	// (message.Parse).
	lastData bool      // the last command line handed up was DATA
	fast     bool      // collecting a DATA message into msg
	msg      []byte    // message.HeaderRoom free octets, then the message so far (capped at msgLimit+1 octets)
	msgLimit int64     // max_message_size; 0: none
	msgSize  int64     // the size declared with MAIL SIZE= (RFC 1870); 0: none
	unstuff  unstuffer // state of the un-stuffing
	old      []byte    // the buffer msg last grew out of, until retire pools it
	msgDone  bool      // msg is complete: the end-of-data line was seen
	over     bool      // the message is refused: the Server's budget had no room for msg
}

// readSize is how much one read from below asks for, except on the DATA
// fast path when msg has room for more (readBuffer).
const readSize = 4096

// Read implements net.Conn.
func (l *Conn) Read(p []byte) (int, error) {
	for {
		l.mu.Lock()
		n, err, ok := l.serveLocked(p)
		l.mu.Unlock()
		if ok {
			return n, err
		}
		if err := l.fill(); err != nil {
			return 0, err
		}
	}
}

// serveLocked hands up what may go up now; ok false means more octets are
// needed from below.
func (l *Conn) serveLocked(p []byte) (int, error, bool) {
	switch {
	case l.pass > 0:
		n := copy(p, l.buf[:l.pass])
		l.buf, l.pass = l.buf[n:], l.pass-n
		return n, nil, true
	case l.pending != nil && len(l.buf) == 0:
		err := l.pending
		l.pending = nil
		l.raw.kill()
		return 0, err, true
	case len(l.buf) == 0:
		return 0, nil, false
	case l.chunk > 0:
		l.pass = int(min(int64(len(l.buf)), l.chunk))
		l.chunk -= int64(l.pass)
		l.scanMessage(l.buf[:l.pass])
	case l.fast:
		if !l.collectLocked(l.buf) {
			return 0, nil, false
		}
	default:
		// Between BDAT chunks too (message mode, not fast): the next BDAT line
		// must be vetted, or its chunk would not be followed.
		if err := l.commandLocked(); err != nil {
			return 0, err, true
		}
		if l.pass == 0 {
			return 0, nil, false // a partial line: wait for its LF
		}
	}
	return l.serveLocked(p)
}

// commandLocked vets the next complete command line in buf, setting pass
// to its length; pass stays 0 while the line is incomplete. A line answered
// here (vetCommand, or an undecodable AUTH response) is dropped from buf
// and the next one vetted. An error means the connection was closed.
func (l *Conn) commandLocked() error {
	for {
		i := bytes.IndexByte(l.buf, '\n')
		if (i < 0 && len(l.buf) > commandLineLimit) || i+1 > commandLineLimit {
			l.abort("500 5.5.2 Line too long, closing connection\r\n", "syntax")
			return net.ErrClosed
		}
		if isCrossProtocol(l.buf) {
			l.abort("", "syntax")
			return net.ErrClosed
		}
		if i < 0 {
			return nil
		}
		line := strings.TrimRight(string(l.buf[:i+1]), "\r\n")
		if l.authResp.Swap(false) {
			l.saslResponse(line, i)
			return nil
		}
		if e, reason := l.vetCommand(line, l.helo.Load()); e != nil {
			if err := l.refuse(e, reason); err != nil {
				return err
			}
			l.buf = l.buf[i+1:]
			continue
		}
		if l.opts.Limits().STARTTLS != nil && len(line) >= 8 && strings.EqualFold(line[:8], "STARTTLS") {
			if err := l.startTLS(); err != nil {
				return err
			}
			continue
		}
		l.pass = i + 1
		l.chunk = bdatSize(line)
		l.lastData = strings.EqualFold(line, "DATA")
		l.lastHelo = len(line) >= 4 && (strings.EqualFold(line[:4], "EHLO") || strings.EqualFold(line[:4], "HELO"))
		return nil
	}
}

// bdatSize is the size of the chunk that follows a BDAT command line, as
// go-smtp (conn.go handleBdat) will read it: 0 when go-smtp refuses the
// command before reading a chunk.
func bdatSize(line string) int64 {
	if len(line) <= 5 || line[4] != ' ' || !strings.EqualFold(line[:4], "BDAT") {
		return 0
	}
	args := strings.Fields(line[5:])
	if len(args) == 0 || len(args) > 2 || (len(args) == 2 && !strings.EqualFold(args[1], "LAST")) {
		return 0
	}
	n, err := strconv.ParseUint(args[0], 10, 32)
	if err != nil {
		return 0
	}
	return int64(n)
}

// scanMessage notes bare line ends and returns how many octets of b stay
// within max_line_length (plus CRLF); BDAT chunk data is not limited.
func (l *Conn) scanMessage(b []byte) int {
	var limit int64
	if m := l.opts.Limits().MaxLineLength; m > 0 && l.chunk == 0 {
		limit = m + 2
	}
	return l.ls.scan(b, limit)
}

// fill reads more octets from below. A timeout is answered here, while the
// dialogue is still visible (not after STARTTLS), and closes.
func (l *Conn) fill() error {
	in := l.readBuffer()
	n, err := l.Conn.Read(in)
	l.mu.Lock()
	defer l.mu.Unlock()
	switch {
	case l.fast && len(l.buf) == 0: // as serveLocked would, without copying in to buf first
		l.collectLocked(in[:n])
	default:
		if len(l.buf) == 0 { // start over at the front of the buffer, not after the octets handed up
			if l.store == nil {
				l.store = make([]byte, 0, 2*readSize)
			}
			l.buf = l.store[:0]
		}
		l.buf = append(l.buf, in[:n]...)
	}
	if err == nil {
		return nil
	}
	if l.chunk > int64(len(l.buf)) {
		// The connection ended inside a BDAT chunk. go-smtp reads a chunk
		// with io.Copy, which takes io.EOF for the end of the chunk, and
		// would then hand the short chunk on as a message (RFC 3030 2: a
		// chunk is exactly its size). Its reader gets an error instead, so
		// the message is dropped, and no later read gets anything.
		l.raw.kill()
		if !IsTimeout(err) {
			return ErrChunkCut
		}
	}
	if IsTimeout(err) {
		l.abort("421 4.4.2 Timeout exceeded, closing connection\r\n", "timeout")
		return net.ErrClosed
	}
	return err
}

// readBuffer returns where fill reads into: rbuf or, on the DATA fast path
// with nothing buffered and at least 2*readSize octets free in msg, the
// upper half of that free space, which collectLocked then un-stuffs into
// the lower half (so the octets read are intact for scanMessage after
// it): a larger read, and no copy on the way. Only the reading goroutine
// uses msg on the fast path.
func (l *Conn) readBuffer() []byte {
	l.mu.Lock()
	defer l.mu.Unlock()
	if free := cap(l.msg) - len(l.msg); l.fast && !l.over && len(l.buf) == 0 && free >= 2*readSize {
		return l.msg[cap(l.msg)-free/2 : cap(l.msg)]
	}
	if l.rbuf == nil {
		l.rbuf = make([]byte, readSize)
	}
	return l.rbuf
}

// abort writes a last reply (if any), counts it (unless reason is "") and
// closes the connection.
func (l *Conn) abort(reply, reason string) {
	if reason != "" {
		l.opts.Reject(reason)
	}
	if reply != "" {
		l.raw.Conn.SetWriteDeadline(time.Now().Add(5 * time.Second))
		l.Conn.Write([]byte(reply))
	}
	l.buf, l.pass = nil, 0
	l.raw.kill()
	l.raw.Close()
}

// Write implements net.Conn: the greeting is replaced, and a failed
// STARTTLS handshake closes (go-smtp would go on in plaintext, reading TLS
// garbage or an attacker's commands).
//
// go-smtp writes a reply one line at a time and textproto flushes every
// line, so a multi-line reply (EHLO's) would cost a write, a segment and a
// wakeup of the client per line. Continuation lines ("250-...") are held
// and go out with the reply's last line in one write; writeResponse always
// ends a reply with a last line, in the same call.
func (l *Conn) Write(p []byte) (int, error) {
	if !l.greeted.Swap(true) && bytes.HasPrefix(p, goGreeting) {
		if _, err := l.Conn.Write([]byte(l.greeting)); err != nil {
			return 0, err
		}
		return len(p), nil
	}
	switch {
	case bytes.HasPrefix(p, goAuthChallenge):
		l.authResp.Store(true)
	case l.badSASL.Load() && bytes.HasPrefix(p, goAuthCancelled):
		l.badSASL.Store(false)
		if _, err := l.Conn.Write([]byte(replyLine(errAuthBase64))); err != nil {
			return 0, err
		}
		return len(p), nil
	case bytes.HasPrefix(p, goOK) && !l.helo.Load():
		l.mu.Lock()
		l.helo.Store(l.lastHelo)
		l.mu.Unlock()
	}
	if l.tlsState.Load() != nil && bytes.Equal(p, goSTARTTLSCap) {
		return len(p), nil // go-smtp does not know TLS is on: not offered again (RFC 3207 4.2)
	}
	l.wmu.Lock()
	defer l.wmu.Unlock()
	if continuationLine(p) && len(l.wheld)+len(p) <= maxHeldReply {
		l.wheld = append(l.wheld, p...)
		return len(p), nil
	}
	if len(l.wheld) == 0 {
		return l.Conn.Write(p)
	}
	l.wheld = append(l.wheld, p...)
	_, err := l.Conn.Write(l.wheld)
	l.wheld = l.wheld[:0]
	if err != nil {
		return 0, err
	}
	return len(p), nil
}

// maxHeldReply bounds the continuation lines Write holds back; a longer
// reply goes out in more than one write.
const maxHeldReply = 4096

// continuationLine reports whether p is one whole line of a multi-line
// reply: three digits, "-", text, CRLF (RFC 5321 4.2.1).
func continuationLine(p []byte) bool {
	return len(p) >= 6 && p[3] == '-' &&
		'0' <= p[0] && p[0] <= '9' && '0' <= p[1] && p[1] <= '9' && '0' <= p[2] && p[2] <= '9' &&
		bytes.IndexByte(p, '\n') == len(p)-1 && p[len(p)-2] == '\r'
}

// StartMessage is called at MAIL: bare line ends are looked for from here.
func (l *Conn) StartMessage() {
	l.mu.Lock()
	l.ls = lineScan{}
	l.mu.Unlock()
}

// crossProtocol are line starts that are never SMTP: HTTP request lines and
// headers (a browser or proxy pointed at the SMTP port).
var crossProtocol = []string{"GET ", "POST ", "HEAD ", "PUT ", "DELETE ", "OPTIONS ", "CONNECT ",
	"PATCH ", "TRACE ", "HOST:", "USER-AGENT:"}

func isCrossProtocol(line []byte) bool {
	for _, p := range crossProtocol {
		if len(line) >= len(p) && bytes.EqualFold(line[:len(p)], []byte(p)) {
			return true
		}
	}
	return false
}

var _ net.Conn = (*Conn)(nil)

// startTLS runs STARTTLS for go-smtp (RFC 3207), which never sees the
// command: 220, the handshake on the socket, and Conn then reads and
// writes through TLS, so it goes on vetting the dialogue. What the client
// pipelined behind STARTTLS is discarded (RFC 3207 5). go-smtp still
// thinks it has EHLO: until a new EHLO, Conn answers what needs one
// itself (vetCommand), and EHLO resets go-smtp's transaction. A handshake
// that fails closes the connection (go-smtp would go on in plaintext).
func (l *Conn) startTLS() error {
	l.buf, l.pass = l.buf[:0], 0
	if l.tlsState.Load() != nil {
		return l.answer("502 5.5.1 Already running in TLS\r\n")
	}
	if err := l.answer("220 2.0.0 Ready to start TLS\r\n"); err != nil {
		return err
	}
	tc := tls.Server(l.Conn, l.opts.Limits().STARTTLS)
	l.raw.Conn.SetWriteDeadline(time.Now().Add(time.Minute))
	if err := tc.Handshake(); err != nil {
		l.raw.kill()
		l.raw.Close()
		return net.ErrClosed
	}
	state := tc.ConnectionState()
	l.tlsConn.Store(tc)
	l.tlsState.Store(&state)
	l.Conn = tc
	l.helo.Store(false)
	return nil
}

// answer writes a reply of Conn's own, after any held lines.
func (l *Conn) answer(reply string) error {
	l.wmu.Lock()
	defer l.wmu.Unlock()
	l.raw.Conn.SetWriteDeadline(time.Now().Add(time.Minute))
	_, err := l.Conn.Write(append(l.wheld, reply...))
	l.wheld = l.wheld[:0]
	return err
}

// Close implements net.Conn; it may run on any goroutine.
func (l *Conn) Close() error {
	if tc := l.tlsConn.Load(); tc != nil {
		return tc.Close()
	}
	if l.under != nil {
		return l.under.Close()
	}
	return l.raw.Close()
}
