package spool

import (
	"encoding/binary"
	"fmt"
	"time"
)

// Key prefixes; see the package documentation for the layout.
const (
	prefixActive  = "m/"
	prefixBody    = "b/"
	prefixJournal = "j/"
	prefixRetain  = "r/"
	prefixLogRef  = "l/"
	// logCheckpointKey holds the body log's checkpoint (bodylog.go).
	logCheckpointKey = "c/log"
)

// maxIDLen bounds queue IDs; NewID makes 17 characters.
const maxIDLen = 64

func activeKey(id string) []byte  { return []byte(prefixActive + id) }
func bodyKey(id string) []byte    { return []byte(prefixBody + id) }
func journalKey(id string) []byte { return []byte(prefixJournal + id) }
func logRefKey(id string) []byte  { return []byte(prefixLogRef + id) }

// retainKey is r/<8-byte big-endian unix nanos><id>, so that the keys sort
// by time and PurgeJournal can stop at the cutoff.
func retainKey(nanos int64, id string) []byte {
	k := make([]byte, 0, len(prefixRetain)+8+len(id))
	k = append(k, prefixRetain...)
	k = binary.BigEndian.AppendUint64(k, uint64(nanos))
	return append(k, id...)
}

// parseRetainKey is the inverse of retainKey.
func parseRetainKey(k []byte) (nanos int64, id string, ok bool) {
	if len(k) <= len(prefixRetain)+8 || string(k[:len(prefixRetain)]) != prefixRetain {
		return 0, "", false
	}
	n := binary.BigEndian.Uint64(k[len(prefixRetain):])
	return int64(n), string(k[len(prefixRetain)+8:]), true
}

// nanos converts t to unix nanoseconds, clamped to [0, MaxInt64] so that the
// zero time.Time (and anything before 1970) sorts first instead of
// overflowing.
func nanos(t time.Time) int64 {
	if t.Before(time.Unix(0, 0)) {
		return 0
	}
	if t.After(time.Unix(0, 1<<63-1)) {
		return 1<<63 - 1
	}
	return t.UnixNano()
}

// checkID accepts the IDs NewID makes and anything else made of letters and
// digits: IDs are used in keys and in the Received header.
func checkID(id string) error {
	if id == "" || len(id) > maxIDLen {
		return fmt.Errorf("spool: invalid message ID %q", id)
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !('0' <= c && c <= '9' || 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z') {
			return fmt.Errorf("spool: invalid message ID %q", id)
		}
	}
	return nil
}
