package spool

import (
	"errors"
	"fmt"

	"github.com/dgraph-io/badger/v4"
)

// Commit stores a newly accepted message, envelope and body in one
// transaction, and returns once both are durable (fsync'd, shared with
// concurrent commits: groupsync.go). This is the commit before the 250 reply
// of SPEC §4. On any error nothing of the message remains in the spool.
//
// Commit fills in m.ID (NewID) when empty, m.Created (the store clock) when
// zero and m.Size (len(body)); the caller keeps ownership of m and body,
// which the store copies. Every recipient must have a valid state. The
// message must be new: an existing ID is an error. Before writing, Commit
// checks that the spool's file system keeps Options.MinFreeBytes free after
// the body is written, else it fails with ErrNoSpace. A body of 4 KB or
// more is one value in Badger's value log, so its size is not limited by
// Badger's transaction size (64 MiB bodies are tested).
func (s *Store) Commit(m *Message, body []byte) error {
	if m.ID == "" {
		m.ID = NewID()
	}
	if m.Created.IsZero() {
		m.Created = s.now()
	}
	m.Size = int64(len(body))
	if err := s.commit(m, body); err != nil {
		return fmt.Errorf("spool: commit %s: %w", m.ID, err)
	}
	return nil
}

func (s *Store) commit(m *Message, body []byte) error {
	if err := validateMessage(m); err != nil {
		return err
	}
	if err := s.enter(); err != nil {
		return err
	}
	defer s.leave()
	if err := s.checkSpace(len(body)); err != nil {
		return err
	}
	enc, err := encodeMessage(m)
	if err != nil {
		return err
	}
	mu := s.lockID(m.ID)
	mu.Lock()
	defer mu.Unlock()
	err = s.db.Update(func(txn *badger.Txn) error {
		for _, k := range [][]byte{activeKey(m.ID), journalKey(m.ID)} {
			if _, err := txn.Get(k); err == nil {
				return errDuplicate
			} else if !errors.Is(err, badger.ErrKeyNotFound) {
				return err
			}
		}
		return writeMessage(txn, nil, m, enc, body)
	})
	if err != nil {
		return err
	}
	if err := s.gs.wait(); err != nil {
		s.rollback(m)
		return err
	}
	s.apply(m.ID, nil, m)
	s.written.Add(int64(len(body) + len(enc)))
	return nil
}

// rollback removes a message whose commit could not be made durable, so that
// a message answered 452 is not delivered anyway. Best effort: the spool is
// failing already.
func (s *Store) rollback(m *Message) {
	err := s.db.Update(func(txn *badger.Txn) error {
		for _, k := range [][]byte{activeKey(m.ID), bodyKey(m.ID), journalKey(m.ID),
			retainKey(summarize(m).updated, m.ID)} {
			if err := txn.Delete(k); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		s.log.Error("cannot roll back failed commit", "msg_id", m.ID, "err", err)
	}
}

// checkSpace returns ErrNoSpace when writing n more bytes would leave less
// than the reserve free.
func (s *Store) checkSpace(n int) error {
	if s.reserve <= 0 {
		return nil
	}
	free, err := s.free(s.dir)
	if err != nil {
		return fmt.Errorf("free space of %s: %w", s.dir, err)
	}
	if free < uint64(s.reserve)+uint64(n) {
		return fmt.Errorf("%w (%d bytes free, %d reserved, %d needed)", ErrNoSpace, free, s.reserve, n)
	}
	return nil
}

// writeMessage writes the keys of message m (encoded as enc) in txn,
// replacing those of its previous version old (nil for a new message).
// body is stored only for a new active message.
func writeMessage(txn *badger.Txn, old, m *Message, enc, body []byte) error {
	cur := summarize(m)
	var dels [][]byte
	if old != nil {
		prev := summarize(old)
		switch {
		case prev.active && !cur.active:
			dels = append(dels, activeKey(m.ID), bodyKey(m.ID)) // body dropped
		case !prev.active:
			dels = append(dels, retainKey(prev.updated, m.ID))
			if cur.active {
				dels = append(dels, journalKey(m.ID))
			}
		}
	}
	for _, k := range dels {
		if err := txn.Delete(k); err != nil {
			return err
		}
	}
	if cur.active {
		if old == nil {
			if err := txn.Set(bodyKey(m.ID), body); err != nil {
				return err
			}
		}
		return txn.Set(activeKey(m.ID), enc)
	}
	if err := txn.Set(journalKey(m.ID), enc); err != nil {
		return err
	}
	return txn.Set(retainKey(cur.updated, m.ID), []byte{byte(cur.mask)})
}

// readMessage reads and decodes message id in txn, active or journal.
func readMessage(txn *badger.Txn, id string) (*Message, error) {
	item, err := txn.Get(activeKey(id))
	if errors.Is(err, badger.ErrKeyNotFound) {
		item, err = txn.Get(journalKey(id))
	}
	if errors.Is(err, badger.ErrKeyNotFound) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	var m *Message
	err = item.Value(func(v []byte) error {
		m, err = decodeMessage(v)
		return err
	})
	if err == nil && m.ID != id {
		err = fmt.Errorf("%w: envelope ID %q under key %q", ErrCorrupt, m.ID, id)
	}
	return m, err
}

// Get returns a copy of message id: ErrNotFound if there is none (or it
// expired), ErrCorrupt if its envelope cannot be decoded.
func (s *Store) Get(id string) (*Message, error) {
	if err := s.enter(); err != nil {
		return nil, fmt.Errorf("spool: get %s: %w", id, err)
	}
	defer s.leave()
	var m *Message
	err := s.db.View(func(txn *badger.Txn) error {
		var err error
		m, err = readMessage(txn, id)
		return err
	})
	if errors.Is(err, ErrCorrupt) {
		s.markCorrupt(id, err)
	}
	if err != nil {
		return nil, fmt.Errorf("spool: get %s: %w", id, err)
	}
	return m, nil
}

// Body returns a copy of the body of message id, owned by the caller.
// ErrNotFound if there is no such message or its body was dropped because
// every recipient is final.
func (s *Store) Body(id string) ([]byte, error) {
	if err := s.enter(); err != nil {
		return nil, fmt.Errorf("spool: body %s: %w", id, err)
	}
	defer s.leave()
	var body []byte
	err := s.db.View(func(txn *badger.Txn) error {
		item, err := txn.Get(bodyKey(id))
		if errors.Is(err, badger.ErrKeyNotFound) {
			return ErrNotFound
		}
		if err != nil {
			return err
		}
		body, err = item.ValueCopy(nil)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("spool: body %s: %w", id, err)
	}
	return body, nil
}
