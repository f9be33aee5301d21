package spool

import (
	"bytes"
	"errors"
	"fmt"
	"time"

	"github.com/dgraph-io/badger/v4"
)

// Due returns up to limit messages with at least one recipient due at now:
// in delayed, ready or deferred with NextAttempt <= now, or in sending whose
// lease (NextAttempt) expired. The earliest due come first. It reads the
// in-memory schedule, so its cost is O(limit log n) plus reading the
// returned envelopes; corrupt envelopes are skipped and counted. The
// messages are copies; they stay due until an Update leases them.
func (s *Store) Due(now time.Time, limit int) ([]*Message, error) {
	if err := s.enter(); err != nil {
		return nil, fmt.Errorf("spool: due: %w", err)
	}
	defer s.leave()
	var out []*Message
	n := nanos(now)
	for len(out) < limit {
		ids := s.ix.due(n, limit-len(out))
		if len(ids) == 0 {
			break
		}
		msgs, skipped, err := s.readDue(ids, n)
		if err != nil {
			return nil, fmt.Errorf("spool: due: %w", err)
		}
		out = append(out, msgs...)
		if skipped == 0 {
			break // every candidate was returned; there are no more
		}
	}
	return out, nil
}

// readDue reads the messages ids that are still due at now. It returns how
// many it skipped: corrupt (dropped from the schedule by markCorrupt) or
// changed since the schedule was read.
func (s *Store) readDue(ids []string, now int64) ([]*Message, int, error) {
	var out []*Message
	var corrupt []string
	var errs []error
	err := s.db.View(func(txn *badger.Txn) error {
		for _, id := range ids {
			m, err := readMessage(txn, id)
			switch {
			case errors.Is(err, ErrCorrupt):
				corrupt = append(corrupt, id)
				errs = append(errs, err)
			case errors.Is(err, ErrNotFound):
			case err != nil:
				return err
			case summarize(m).due <= now:
				out = append(out, m)
			}
		}
		return nil
	})
	for i, id := range corrupt {
		s.markCorrupt(id, errs[i])
	}
	// A message that changed or vanished meanwhile is rescheduled by its
	// writer; it is not counted, so Due does not loop on it.
	return out, len(corrupt), err
}

// NextDue returns the earliest time at which a recipient is due, false when
// nothing is scheduled (an empty queue, or only held and final recipients).
// It reads the in-memory schedule: O(1), cheap enough to call after every
// change.
func (s *Store) NextDue() (time.Time, bool) {
	n, ok := s.ix.nextDue()
	if !ok {
		return time.Time{}, false
	}
	return dueTime(n), true
}

// Counts returns the number of MESSAGES per state, for the
// relayd_queue_messages gauge: a message counts once for each distinct state
// among its recipients (one with two sent and one deferred recipient counts
// once in sent and once in deferred), so the sum can exceed the number of
// messages. Journal messages count in their final states until PurgeJournal removes them.
// Every state is present in the map, 0 when none. The counters are kept in
// memory (rebuilt at Open), so Counts is cheap. The map is the caller's.
func (s *Store) Counts() map[State]int { return s.ix.countsMap() }

// OldestAge returns how long ago the oldest message with a non-final
// recipient was created, 0 if there is none (relayd_queue_oldest_age_seconds).
func (s *Store) OldestAge(now time.Time) time.Duration {
	c, ok := s.ix.oldest()
	if !ok {
		return 0
	}
	return max(0, now.Sub(dueTime(c)))
}

// listPage is how many envelopes List reads per read transaction.
const listPage = 256

// List calls fn with every message (active or journal) that has a recipient
// in state (all messages if state is ""), in ID order, which is creation
// order for IDs from NewID, until fn returns false. Corrupt envelopes are
// skipped and counted. fn runs outside any transaction and may call the
// store; it sees each message as it was when its page was read.
func (s *Store) List(state State, fn func(*Message) bool) error {
	return s.list(state, true, fn)
}

// ListActive is List of the active queue only: the messages that have a
// recipient in a non-final state, without the journal.
func (s *Store) ListActive(fn func(*Message) bool) error {
	return s.list("", false, fn)
}

func (s *Store) list(state State, journal bool, fn func(*Message) bool) error {
	return eachPaged(nil, func(after []byte) ([]*Message, error) { return s.listPage(state, journal, after) }, fn)
}

// eachPaged calls fn for every message of the pages that next returns,
// starting after the key after, a page of at most listPage messages at a
// time, until fn returns false or a page comes back short.
func eachPaged(after []byte, next func(after []byte) ([]*Message, error), fn func(*Message) bool) error {
	for {
		page, err := next(after)
		if err != nil {
			return fmt.Errorf("spool: list: %w", err)
		}
		for _, m := range page {
			if !fn(m) {
				return nil
			}
		}
		if len(page) < listPage {
			return nil
		}
		after = []byte(page[len(page)-1].ID)
	}
}

// listPage returns up to listPage matching messages with ID > after, merging
// the active (m/) and, if journal, the journal (j/) envelopes in ID order.
func (s *Store) listPage(state State, journal bool, after []byte) ([]*Message, error) {
	if err := s.enter(); err != nil {
		return nil, err
	}
	defer s.leave()
	var out []*Message
	err := s.db.View(func(txn *badger.Txn) error {
		a := newPrefixIter(txn, prefixActive, after)
		defer a.Close()
		j := newPrefixIter(txn, prefixJournal, after)
		defer j.Close()
		for len(out) < listPage {
			cur := a
			if journal && (!a.valid() || (j.valid() && bytes.Compare(j.id(), a.id()) < 0)) {
				cur = j
			}
			if !cur.valid() {
				return nil
			}
			m, err := s.decodeItem(cur)
			if err != nil {
				return err
			}
			if m != nil && (state == "" || summarize(m).mask&stateBit(state) != 0) {
				out = append(out, m)
			}
			cur.Next()
		}
		return nil
	})
	return out, err
}

// decodeItem decodes the current envelope of it; a corrupt one is counted
// and returned as nil.
func (s *Store) decodeItem(it prefixIter) (*Message, error) {
	id := string(it.id())
	var m *Message
	var derr error
	err := it.Item().Value(func(v []byte) error {
		m, derr = decodeMessage(v)
		return nil
	})
	if err != nil {
		return nil, err
	}
	if derr == nil && m.ID != id {
		derr = fmt.Errorf("%w: envelope ID %q under key %q", ErrCorrupt, m.ID, id)
	}
	if derr != nil {
		s.markCorrupt(id, derr)
		return nil, nil
	}
	return m, nil
}

// prefixIter iterates the keys of one prefix after a given ID.
type prefixIter struct {
	*badger.Iterator
	prefix string
}

func newPrefixIter(txn *badger.Txn, prefix string, after []byte) prefixIter {
	it := txn.NewIterator(badger.IteratorOptions{Prefix: []byte(prefix)}) // no prefetch: see loadActive
	start := []byte(prefix)
	if after != nil {
		start = append(append(start, after...), 0) // the smallest key after "after"
	}
	it.Seek(start)
	return prefixIter{it, prefix}
}

func (p prefixIter) valid() bool { return p.Valid() }
func (p prefixIter) id() []byte  { return p.Item().Key()[len(p.prefix):] }
