package spool

import (
	"math/rand/v2"
	"sync/atomic"
	"time"
)

const (
	idAlphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ" // in ASCII order, so IDs sort by time
	idTimeLen  = 13                                     // 36^13 > 2^63: any int64 nanosecond time
	idRandLen  = 4
)

// lastIDNanos makes NewID strictly increasing within the process even when
// the clock stalls or steps back.
var lastIDNanos atomic.Int64

// NewID returns a new queue ID: 17 characters of [0-9A-Z], the creation time
// in nanoseconds in base 36 followed by 4 random characters. IDs sort by
// creation time (strictly increasing within one process) and are safe in a
// Received header and in file names. Safe for concurrent use.
func NewID() string {
	now := time.Now().UnixNano()
	for {
		last := lastIDNanos.Load()
		if now <= last {
			now = last + 1
		}
		if lastIDNanos.CompareAndSwap(last, now) {
			break
		}
	}
	var b [idTimeLen + idRandLen]byte
	n := uint64(now)
	for i := idTimeLen - 1; i >= 0; i-- {
		b[i] = idAlphabet[n%36]
		n /= 36
	}
	for i := idTimeLen; i < len(b); i++ {
		b[i] = idAlphabet[rand.IntN(36)]
	}
	return string(b[:])
}
