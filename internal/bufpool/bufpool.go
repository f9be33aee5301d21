// Package bufpool lends byte buffers of power-of-two capacities, one
// sync.Pool per size class, so that the large buffers every message needs
// on its way through relayd (the DATA buffer a session collects it into,
// the body log record it is written as) are reused instead of allocated,
// cleared and collected once per message. It is a leaf: it imports only
// the standard library.
//
// A buffer given back with Put must not be used by anyone afterwards;
// the callers give a buffer back at the one point where they know that.
package bufpool

import (
	"math/bits"
	"sync"
)

// Classes: capacities 1<<MinShift ... 1<<MaxShift. Larger buffers are
// allocated to size and left to the garbage collector: their allocation is
// small next to the work their octets cost anyway, and what the pools hold
// is live heap that no budget counts (until two garbage collections have
// passed), so it is kept to the sizes most mail has.
const (
	MinShift = 12 // 4 KiB
	MaxShift = 18 // 256 KiB
)

var pools [MaxShift - MinShift + 1]sync.Pool

// Class is the capacity a buffer of at least n octets is given: the next
// power of two within the pooled classes, else n itself.
func Class(n int) int {
	if n <= 1<<MinShift {
		return 1 << MinShift
	}
	if c := 1 << bits.Len(uint(n-1)); c <= 1<<MaxShift {
		return c
	}
	return n
}

// Get returns a buffer of length 0 and capacity Class(n). Its contents
// are whatever its last user left.
func Get(n int) []byte {
	c := Class(n)
	if k, ok := index(c); ok {
		if b, _ := pools[k].Get().(*[]byte); b != nil {
			return (*b)[:0]
		}
	}
	return make([]byte, 0, c)
}

// Put gives b back; nothing may use b (or a slice of it) afterwards.
// A buffer of a capacity that is no class is left to the garbage
// collector, so Put takes any slice.
func Put(b []byte) {
	if k, ok := index(cap(b)); ok {
		b = b[:0]
		pools[k].Put(&b)
	}
}

// index is the pool of capacity c.
func index(c int) (int, bool) {
	if c < 1<<MinShift || c > 1<<MaxShift || c&(c-1) != 0 {
		return 0, false
	}
	return bits.Len(uint(c)) - 1 - MinShift, true
}
