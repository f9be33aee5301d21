package relay

import (
	"sync"

	"github.com/relayd/relayd/relay/message"
	"github.com/relayd/relayd/relay/smtpwire"
)

// memBudget bounds the octets of message data that all sessions of a
// Server hold in memory while they receive messages (issue 14.8): without
// it, each session holds its whole message, so 100 connections sending
// 25 MB each need 2.5 GB or more. A session takes budget as its message
// buffer grows and gives it back when the buffer is dropped; a session
// that cannot get budget stops buffering, reads its message to the end
// and answers 452 4.3.1 (errStorage), so the process never grows without
// bound. Taking never waits. Safe for concurrent use.
type memBudget struct {
	mu      sync.Mutex
	limit   int64 // octets; 0: no limit
	used    int64
	peak    int64 // the most used at once (tests)
	refused int64 // takes refused (tests)
}

// errOverBudget is what a message read returns when its session could not
// get budget for its buffer.
var errOverBudget = smtpwire.ErrOverBudget

// budgetFactor sizes the default budget: this many messages of the
// largest max_message_size (or message.DefaultMaxSize when a listener has
// none), and never less than minBudget.
const (
	budgetFactor = 16
	minBudget    = 64 << 20
)

// budgetLimit is the budget for cfg: Config.MaxBufferedBytes, or by
// default budgetFactor times the largest max_message_size.
func budgetLimit(cfg *Config) int64 {
	if cfg.MaxBufferedBytes != 0 {
		return max(cfg.MaxBufferedBytes, 0)
	}
	var largest int64
	for _, l := range cfg.Listeners {
		size := l.MaxMessageSize
		if size <= 0 {
			size = message.DefaultMaxSize
		}
		largest = max(largest, size)
	}
	return max(budgetFactor*largest, minBudget)
}

func (b *memBudget) setLimit(n int64) {
	b.mu.Lock()
	b.limit = n
	b.mu.Unlock()
}

// take takes n octets if the limit allows and reports whether it did.
func (b *memBudget) take(n int64) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.limit > 0 && b.used+n > b.limit {
		b.refused++
		return false
	}
	b.used += n
	b.peak = max(b.peak, b.used)
	return true
}

// give returns n octets taken before.
func (b *memBudget) give(n int64) {
	b.mu.Lock()
	b.used -= n
	b.mu.Unlock()
}

func (b *memBudget) stats() (used, peak, refused int64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.used, b.peak, b.refused
}

// dataBudget is one session's share of the budget: what its message buffer
// holds. Its own lock (not smtpwire.Conn's) so that the connection's Close,
// which may run under that lock, can give it all back.
type dataBudget struct {
	b      *memBudget
	mu     sync.Mutex
	held   int64
	closed bool
}

// grow takes n more octets; false: over the budget, or closed.
func (d *dataBudget) grow(n int64) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed || d.b == nil || !d.b.take(n) {
		return d.b == nil && !d.closed
	}
	d.held += n
	return true
}

// release gives back all that is held; with close, for good.
func (d *dataBudget) release(close bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.b != nil && d.held > 0 {
		d.b.give(d.held)
	}
	d.held, d.closed = 0, d.closed || close
}

// budgetReader takes budget for what a message reader (message.Read, on
// the BDAT path and after STARTTLS) is about to buffer: twice the octets
// read, as its buffer grows by doubling, in steps of budgetStep.
type budgetReader struct {
	r    interface{ Read([]byte) (int, error) }
	d    *dataBudget
	read int64
	took int64
}

const budgetStep = 64 << 10

// Read implements io.Reader: it reads from r and takes budget for what the
// message reader will hold; when there is none it returns errOverBudget.
func (br *budgetReader) Read(p []byte) (int, error) {
	n, err := br.r.Read(p)
	br.read += int64(n)
	if need := 2*br.read + int64(message.HeaderRoom); need > br.took {
		step := max(need-br.took, budgetStep)
		if !br.d.grow(step) {
			return n, errOverBudget
		}
		br.took += step
	}
	return n, err
}
