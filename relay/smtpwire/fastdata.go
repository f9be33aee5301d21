package smtpwire

import (
	"github.com/relayd/relayd/internal/bufpool"
	"github.com/relayd/relayd/relay/message"
)

// The DATA fast path of Conn (see its doc comment): the message is
// un-stuffed into the session's buffer msg as it arrives, and the buffer
// takes its share of the Server's budget for buffered message data
// (budget.go) as it grows.

// collectLocked is the DATA fast path: it moves the message octets of in
// (buf, or what fill read into msg's free space) into msg and, at the
// end-of-data line, leaves just that line (".\r\n") in buf for go-smtp's
// DATA reader, which then reads an empty message and stops; what follows
// the line is left in buf too, to be vetted as commands. It checks the line
// length and notes bare line ends (scanMessage) exactly up to the end of
// the message. It returns whether Read can go on without reading more.
func (l *Conn) collectLocked(in []byte) bool {
	var n int
	var end bool
	if l.growMsg(len(in)) {
		l.msg, n, end = l.unstuff.feed(l.msg, in)
	} else {
		n, end = l.discard(in)
	}
	if most := message.HeaderRoom + l.msgLimit + 1; l.msgLimit > 0 && int64(len(l.msg)) > most {
		l.msg = l.msg[:most] // enough for message.Parse to say too big
	}
	ok := l.scanMessage(in[:n])
	l.retire() // in was read: the buffer msg grew out of is no one's now
	if ok < n {
		l.buf, l.pending, l.fast = l.buf[:0], goLineTooLong, false
		return true
	}
	if !end {
		l.buf = l.buf[:0]
		return false
	}
	if n >= 3 { // the end-of-data line arrived whole in this read
		l.buf = append(l.store[:0], in[n-3:]...) // in may be buf itself: a forward copy
	} else {
		l.buf = append([]byte(".\r\n"), in[n:]...)
	}
	l.pass, l.fast, l.msgDone = 3, false, true
	return true
}

// Sizes of the buffer a DATA message is collected into (Conn.msg).
const (
	msgMin  = 8 << 10 // the first allocation: a small message needs no other
	msgKeep = 1 << 20 // a larger buffer is not kept for the session's next message
)

// discard is collectLocked's un-stuffing for a message refused for want of
// budget (over): the end of data is looked for, the octets are dropped.
func (l *Conn) discard(in []byte) (int, bool) {
	if cap(l.msg) < msgMin {
		l.msg = make([]byte, 0, msgMin) // not counted: all a refused session holds
	}
	total := 0
	for {
		piece := in[total:min(len(in), total+cap(l.msg))]
		_, n, end := l.unstuff.feed(l.msg[:0], piece)
		total += n
		if end || total == len(in) {
			return total, end
		}
	}
}

// growMsg makes room in msg for n more octets, so that feed does not have
// to grow it, and reports whether msg may take them: false when the
// message is over (refused for want of budget; msg is then given up). msg
// doubles, in the pool's classes (internal/bufpool) while it is small, so
// a message costs O(size) copies and msg stays within about twice what
// has arrived; it does not grow past the size the client declared (plus
// one read, for the end-of-data line and what follows) while the message
// fits in it, and goes straight to that size once the next doubling would
// pass it; nor past max_message_size plus n.
func (l *Conn) growMsg(n int) bool {
	need := len(l.msg) + n
	if l.over || need <= cap(l.msg) {
		return !l.over
	}
	c := max(2*cap(l.msg), need, message.HeaderRoom+msgMin)
	if d := message.HeaderRoom + l.msgSize + readSize; l.msgSize > 0 && int64(need) <= d && 2*int64(c) > d {
		c = int(d) // the declared size is within the next doubling: straight to it, one copy less
	}
	if l.msgLimit > 0 {
		c = int(min(int64(c), message.HeaderRoom+l.msgLimit+1+int64(n)))
	}
	c = bufpool.Class(c)
	if !l.raw.grow(int64(c - cap(l.msg))) {
		// Over the Server's budget: this message is refused (452) and
		// what it held goes back at once, for the sessions that fit.
		l.over, l.msg = true, nil
		l.raw.release(false)
		return false
	}
	old := l.msg
	l.msg = append(bufpool.Get(c), old...)
	if cap(old) > 0 {
		l.old = old // pooled by retire once the octets being collected are moved
	}
	return true
}

// retire gives the buffer msg outgrew back to the pool.
//
// The buffers messages are collected into are pooled across sessions
// (internal/bufpool): a client usually sends one message per connection,
// so a session's own buffer rarely serves a second message, and without
// the pool a 100 KiB message allocated (and the garbage collector cleared
// and reclaimed) about 250 KiB of doubling buffers. A buffer goes back
// only when nothing refers to it: after FinishData, or once growMsg has
// copied it into a larger one and the octets being collected were moved
// (collectLocked, BeginData).
func (l *Conn) retire() {
	if l.old != nil {
		bufpool.Put(l.old)
		l.old = nil
	}
}

// BeginData switches to message mode for DATA or BDAT. After a DATA
// command it also starts the fast path: the message is then collected
// here, and takeData returns it once go-smtp's reader has reached the end.
// limit is max_message_size (0: none), size the size declared at MAIL
// (0: none), which only sizes the buffer.
func (l *Conn) BeginData(limit, size int64) (fast bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.ls.lineLen = 0
	l.fast = l.lastData && l.chunk == 0
	l.dropLargeMsg()
	l.msg, l.msgLimit, l.msgSize, l.unstuff, l.msgDone, l.over = l.msg[:0], limit, size, unstuffer{}, false, false
	if l.fast && l.growMsg(message.HeaderRoom) {
		l.msg = l.msg[:message.HeaderRoom]
	}
	l.retire()
	return l.fast
}

// dropLargeMsg gives up msg, and the budget it holds, if it is larger than
// is kept for the session's next message (or was refused).
func (l *Conn) dropLargeMsg() {
	if cap(l.msg) > msgKeep || l.over {
		l.msg = nil
		l.raw.release(false)
	}
}

// FinishData is called once the message taken by takeData is no longer
// used (committed or refused): the buffer goes back to the pool and its
// budget to the Server now, not at the next message (which most often
// comes on another connection).
func (l *Conn) FinishData() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.retire()
	bufpool.Put(l.msg)
	l.msg = nil
	l.raw.release(false)
}

// takeData returns the message collected by the fast path, once go-smtp's
// DATA reader has returned io.EOF (ok false: the end was not seen; over:
// refused for want of budget, msg is empty): it is
// msg[message.HeaderRoom:], and msg[:message.HeaderRoom] is free room for
// message.Parse. msg stays the session's, valid until FinishData; it may
// be modified (message.Flatten writes in the room) until then.
func (l *Conn) takeData() (msg []byte, ok, over bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.msg, l.msgDone, l.over
}

// EndData switches back to command mode and reports whether the message
// (DATA or BDAT) contained a bare CR or LF.
func (l *Conn) EndData() (bare bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.fast = false
	return l.ls.bareEOL
}
