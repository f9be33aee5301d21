package spool

import (
	"errors"
	"fmt"

	"github.com/dgraph-io/badger/v4"
)

// maxConflictRetries bounds the retries of an Update transaction on
// badger.ErrConflict. Writers of one message are serialised by its ID lock,
// so a conflict needs a concurrent PurgeJournal of the same journal record.
const maxConflictRetries = 10

// fnError carries the error of an Update callback through db.Update, so it
// is returned to the caller unchanged.
type fnError struct{ err error }

// Error implements error.
func (e fnError) Error() string { return e.err.Error() }

// Update changes message id in one read-modify-write transaction: fn gets a
// copy of the current message and mutates it. If fn returns an error nothing
// is written and that error is returned as is. fn must not change m.ID, and
// may run more than once (after a transaction conflict), so it must not have
// side effects it cannot repeat. After fn the store moves the message
// between active and journal, drops the body once every recipient is final,
// and updates the schedule, retention index and counters; callers set
// Recipient.Updated themselves.
//
// Update returns a copy of the new message. It is visible at once but made
// durable only by the next group fsync, within about 50 ms (and at Close):
// enough for leases and results, whose loss on a power cut leads to a retry,
// never to a lost message. ErrNotFound, ErrCorrupt. Safe for concurrent use;
// concurrent Updates of one message run one after the other.
func (s *Store) Update(id string, fn func(m *Message) error) (*Message, error) {
	return s.update(id, fn, false)
}

// UpdateSync is Update, durable (fsync'd) before it returns: for admin
// actions, whose reply promises the change.
func (s *Store) UpdateSync(id string, fn func(m *Message) error) (*Message, error) {
	return s.update(id, fn, true)
}

func (s *Store) update(id string, fn func(m *Message) error, durable bool) (*Message, error) {
	if err := s.enter(); err != nil {
		return nil, fmt.Errorf("spool: update %s: %w", id, err)
	}
	defer s.leave()
	cur, err := s.updateLocked(id, fn)
	if err != nil {
		return nil, err
	}
	if !durable {
		s.gs.Dirty.Store(true)
	} else if err := s.gs.wait(); err != nil {
		return nil, fmt.Errorf("spool: update %s: %w", id, err)
	}
	return cur, nil
}

// updateLocked runs the update transaction and the index change under the
// ID lock (not the fsync: other messages of the same lock need not wait).
func (s *Store) updateLocked(id string, fn func(m *Message) error) (*Message, error) {
	mu := s.lockID(id)
	mu.Lock()
	defer mu.Unlock()
	var old, cur *Message
	var released *logRef
	var err error
	for range maxConflictRetries {
		old, cur, released, err = s.updateTxn(id, fn)
		if !errors.Is(err, badger.ErrConflict) {
			break
		}
	}
	if fe, ok := errors.AsType[fnError](err); ok {
		return nil, fe.err
	}
	if errors.Is(err, ErrCorrupt) {
		s.markCorrupt(id, err)
	}
	if err != nil {
		return nil, fmt.Errorf("spool: update %s: %w", id, err)
	}
	if released != nil && s.blog != nil {
		s.blog.release(*released)
	}
	s.apply(id, old, cur)
	return cloneMessage(cur), nil
}

// updateTxn runs one attempt of update and returns the message before and
// after it, and the body log reference it dropped.
func (s *Store) updateTxn(id string, fn func(m *Message) error) (old, cur *Message, released *logRef, err error) {
	err = s.db.Update(func(txn *badger.Txn) error {
		var err error
		if old, err = readMessage(txn, id); err != nil {
			return err
		}
		cur = cloneMessage(old)
		if err := fn(cur); err != nil {
			return fnError{err}
		}
		if cur.ID != id {
			return fmt.Errorf("update changed the message ID to %q", cur.ID)
		}
		if err := validateMessage(cur); err != nil {
			return err
		}
		enc, err := encodeMessage(cur)
		if err != nil {
			return err
		}
		released, err = writeMessage(txn, old, cur, enc, nil, nil)
		return err
	})
	return old, cur, released, err
}
