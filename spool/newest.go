package spool

import (
	"bytes"

	"github.com/dgraph-io/badger/v4"
)

// ListNewest calls fn with the messages whose ID sorts before before ("" =
// from the newest), newest first (IDs from NewID sort by creation time),
// until fn returns false: the active queue, and with journal also the
// journal. It reads envelopes only, never bodies, a page of listPage per
// read transaction, so the first page of a large queue costs what the page
// holds (the console's Outbox). Corrupt envelopes are skipped
// and counted. fn runs outside any transaction and may call the store.
func (s *Store) ListNewest(before string, journal bool, fn func(*Message) bool) error {
	return eachPaged([]byte(before), func(after []byte) ([]*Message, error) { return s.newestPage(journal, after) }, fn)
}

// newestPage returns up to listPage messages with ID < before (all when
// before is empty), newest first, merging active and journal envelopes.
func (s *Store) newestPage(journal bool, before []byte) ([]*Message, error) {
	if err := s.enter(); err != nil {
		return nil, err
	}
	defer s.leave()
	var out []*Message
	err := s.db.View(func(txn *badger.Txn) error {
		a := newReverseIter(txn, prefixActive, before)
		defer a.Close()
		j := newReverseIter(txn, prefixJournal, before)
		defer j.Close()
		for len(out) < listPage {
			cur := a
			if journal && (!a.valid() || (j.valid() && bytes.Compare(j.id(), a.id()) > 0)) {
				cur = j
			}
			if !cur.valid() {
				return nil
			}
			m, err := s.decodeItem(cur)
			if err != nil {
				return err
			}
			if m != nil {
				out = append(out, m)
			}
			cur.Next()
		}
		return nil
	})
	return out, err
}

// newReverseIter iterates the keys of one prefix in descending order,
// starting below before (from the last key when before is empty).
func newReverseIter(txn *badger.Txn, prefix string, before []byte) prefixIter {
	it := txn.NewIterator(badger.IteratorOptions{Prefix: []byte(prefix), Reverse: true})
	p := prefixIter{it, prefix}
	if len(before) == 0 {
		it.Seek(append([]byte(prefix), 0xff))
		return p
	}
	it.Seek(append([]byte(prefix), before...)) // the largest key <= prefix+before
	if p.valid() && bytes.Equal(p.id(), before) {
		it.Next()
	}
	return p
}
