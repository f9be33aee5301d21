package spool

import (
	"errors"
	"fmt"

	"github.com/dgraph-io/badger/v4"

	"github.com/relayd/relayd/internal/bufpool"
)

// Commit stores a newly accepted message, envelope and body in one
// transaction, and returns once both are durable (fsync'd, shared with
// concurrent commits: groupsync.go). This is the commit before the 250 reply
// (docs/smtp.md). On any error nothing of the message remains in the spool.
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
	// A failed fsync of Badger is as fatal as one of the body log: the
	// commits would go on through the log, but the log is replayed only
	// into a Badger that can make it durable (health.go).
	if err := s.Err(); err != nil {
		return err
	}
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
	if s.blog != nil {
		ref, err := s.blog.append(m.ID, enc, body)
		if err == nil {
			return s.commitLogged(m, enc, ref)
		}
		if !errors.Is(err, errLogFull) {
			return err
		}
	}
	// No body log (encrypted spool), or a body too large for it: the body
	// goes to Badger's value log and the commit waits for Badger's fsync.
	if err := s.db.Update(func(txn *badger.Txn) error {
		if err := checkNew(txn, m.ID); err != nil {
			return err
		}
		_, err := writeMessage(txn, nil, m, enc, body, nil)
		return err
	}); err != nil {
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

// commitLogged finishes a commit whose record is at ref in the body log:
// it writes the envelope and the reference in Badger and waits for the
// log's fdatasync. Badger's write becomes durable in the background
// (Store.tick); until then the log record is what a restart replays.
func (s *Store) commitLogged(m *Message, enc []byte, ref logRef) error {
	defer s.blog.done(ref)
	txn := s.db.NewTransaction(true)
	defer txn.Discard()
	err := checkNew(txn, m.ID)
	if err == nil {
		_, err = writeMessage(txn, nil, m, enc, nil, ref.encode())
	}
	if err != nil {
		s.blog.killSync(ref)
		return err
	}
	// Badger's write and the log's fdatasync run at the same time.
	written := make(chan error, 1)
	txn.CommitWith(func(err error) { written <- err })
	syncErr := s.logSync.wait()
	if err := <-written; err != nil {
		s.blog.killSync(ref)
		return err
	}
	s.gs.Dirty.Store(true)
	if syncErr != nil {
		// The client gets 452: the record must not come back at the next
		// Open (replayLog restores records Badger lacks), nor the envelope.
		s.blog.killSync(ref)
		s.rollback(m)
		return syncErr
	}
	s.blog.addLive(ref, 1)
	s.apply(m.ID, nil, m)
	s.written.Add(int64(len(enc)))
	return nil
}

// checkNew fails with errDuplicate if message id exists.
func checkNew(txn *badger.Txn, id string) error {
	for _, k := range [][]byte{activeKey(id), journalKey(id)} {
		if _, err := txn.Get(k); err == nil {
			return errDuplicate
		} else if !errors.Is(err, badger.ErrKeyNotFound) {
			return err
		}
	}
	return nil
}

// rollback removes a message whose commit could not be made durable, so that
// a message answered 452 is not delivered anyway, now or after a crash: the
// deletion is fsynced before the 452 goes out. Best effort: the spool is
// failing already (when Badger's fsync is what failed, the deletion cannot
// be made durable, but the envelope's write was not either).
func (s *Store) rollback(m *Message) {
	err := s.deleteKeys(activeKey(m.ID), bodyKey(m.ID), logRefKey(m.ID), journalKey(m.ID),
		retainKey(summarize(m).updated, m.ID))
	if err == nil {
		err = s.gs.wait()
	}
	if err != nil {
		s.log.Error("cannot roll back failed commit", "msg_id", m.ID, "err", err)
	}
}

// Withdraw removes message id, which Commit committed a moment ago,
// entirely and durably: its acceptance failed after the commit (relay's
// attachment store could not make the message's files durable), the
// client is answered 452, and the message must not be delivered, now or
// after a crash. As for a commit that failed, its body log record is
// marked dead at once and its keys are deleted, the deletion fsynced. A
// delivery that started meanwhile finds no message to record its result
// in.
func (s *Store) Withdraw(id string) error {
	if err := s.enter(); err != nil {
		return err
	}
	defer s.leave()
	mu := s.lockID(id)
	mu.Lock()
	defer mu.Unlock()
	var m *Message
	var ref *logRef
	err := s.db.View(func(txn *badger.Txn) error {
		var err error
		if m, err = readMessage(txn, id); err != nil {
			return err
		}
		item, err := txn.Get(logRefKey(id))
		if errors.Is(err, badger.ErrKeyNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		v, err := item.ValueCopy(nil)
		if err != nil {
			return err
		}
		r, err := decodeLogRef(v)
		ref = &r
		return err
	})
	if err != nil {
		return fmt.Errorf("spool: withdraw %s: %w", id, err)
	}
	if ref != nil {
		s.blog.killSync(*ref)
	}
	err = s.deleteKeys(activeKey(id), bodyKey(id), logRefKey(id), journalKey(id), retainKey(summarize(m).updated, id))
	if err == nil {
		err = s.gs.wait()
	}
	if ref != nil {
		s.blog.release(*ref)
	}
	s.apply(id, m, nil)
	if err != nil {
		return fmt.Errorf("spool: withdraw %s: %w", id, err)
	}
	return nil
}

// deleteKeys deletes keys in one transaction.
func (s *Store) deleteKeys(keys ...[]byte) error {
	return s.db.Update(func(txn *badger.Txn) error {
		for _, k := range keys {
			if err := txn.Delete(k); err != nil {
				return err
			}
		}
		return nil
	})
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
// replacing those of its previous version old (nil for a new message). A
// new active message gets its body: ref, the l/ reference to its body log
// record, or else body itself. When m becomes final its body is dropped;
// if it was in the body log, writeMessage returns the reference, which the
// caller releases (bodyLog.release) once txn committed.
func writeMessage(txn *badger.Txn, old, m *Message, enc, body, ref []byte) (*logRef, error) {
	cur := summarize(m)
	var dels [][]byte
	var released *logRef
	if old != nil {
		prev := summarize(old)
		switch {
		case prev.active && !cur.active:
			dels = append(dels, activeKey(m.ID)) // body dropped
			item, err := txn.Get(logRefKey(m.ID))
			switch {
			case err == nil:
				v, err := item.ValueCopy(nil)
				if err != nil {
					return nil, err
				}
				if r, err := decodeLogRef(v); err == nil {
					released = &r
				}
				dels = append(dels, logRefKey(m.ID))
			case errors.Is(err, badger.ErrKeyNotFound):
				dels = append(dels, bodyKey(m.ID))
			default:
				return nil, err
			}
		case !prev.active:
			dels = append(dels, retainKey(prev.updated, m.ID))
			if cur.active {
				dels = append(dels, journalKey(m.ID))
			}
		}
	}
	for _, k := range dels {
		if err := txn.Delete(k); err != nil {
			return nil, err
		}
	}
	if cur.active {
		if old == nil {
			k, v := bodyKey(m.ID), body
			if ref != nil {
				k, v = logRefKey(m.ID), ref
			}
			if err := txn.Set(k, v); err != nil {
				return nil, err
			}
		}
		return released, txn.Set(activeKey(m.ID), enc)
	}
	if err := txn.Set(journalKey(m.ID), enc); err != nil {
		return nil, err
	}
	return released, txn.Set(retainKey(cur.updated, m.ID), []byte{byte(cur.mask)})
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
// was purged), ErrCorrupt if its envelope cannot be decoded.
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
	body, _, err := s.body(id, false)
	return body, err
}

// LendBody is Body in a buffer lent from a pool (internal/bufpool): the
// caller calls giveBack, exactly once, when nothing uses the body (or any
// slice of it) any more. A delivery reads each body once; lending spares
// an allocation of the body's size per delivery.
func (s *Store) LendBody(id string) (body []byte, giveBack func(), err error) {
	return s.body(id, true)
}

// body reads the body of id, into a pooled buffer if lend.
func (s *Store) body(id string, lend bool) ([]byte, func(), error) {
	giveBack := func() {}
	if err := s.enter(); err != nil {
		return nil, giveBack, fmt.Errorf("spool: body %s: %w", id, err)
	}
	defer s.leave()
	var body []byte
	var ref *logRef
	err := s.db.View(func(txn *badger.Txn) error {
		item, err := txn.Get(logRefKey(id))
		if err == nil {
			return item.Value(func(v []byte) error {
				r, err := decodeLogRef(v)
				ref = &r
				return err
			})
		}
		if !errors.Is(err, badger.ErrKeyNotFound) {
			return err
		}
		item, err = txn.Get(bodyKey(id))
		if errors.Is(err, badger.ErrKeyNotFound) {
			return ErrNotFound
		}
		if err != nil {
			return err
		}
		body, err = item.ValueCopy(nil)
		return err
	})
	if err == nil && ref != nil && ref.size > maxRecord {
		err = fmt.Errorf("%w: body reference out of range", ErrCorrupt)
	}
	if err == nil && ref != nil {
		var buf []byte
		if lend {
			buf = bufpool.Get(int(ref.size))[:ref.size]
			giveBack = func() { bufpool.Put(buf) }
		} else {
			buf = make([]byte, ref.size)
		}
		body, err = s.blog.read(*ref, id, buf)
	}
	if err != nil {
		giveBack()
		return nil, func() {}, fmt.Errorf("spool: body %s: %w", id, err)
	}
	return body, giveBack, nil
}
