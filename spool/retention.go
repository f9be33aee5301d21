package spool

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"time"

	"github.com/dgraph-io/badger/v4"
)

// purgeBatch is how many journal records one PurgeJournal transaction removes.
const purgeBatch = 1000

// isSkippable reports errors that a bulk operation skips: the message went
// away, is corrupt, or no longer fits the action.
func isSkippable(err error) bool {
	return errors.Is(err, ErrNotFound) || errors.Is(err, ErrCorrupt) || errors.Is(err, ErrState)
}

// PurgeJournal removes the journal records (messages whose recipients are all
// final) whose latest recipient Updated is more than retention before now
// (journal_retention), and returns how many it removed. It walks
// the retention index in time order, so its cost is proportional to what
// it removes. Safe to run concurrently with everything else.
func (s *Store) PurgeJournal(now time.Time, retention time.Duration) (int, error) {
	cutoff := retainKey(nanos(now.Add(-retention)), "")
	total := 0
	for {
		n, more, err := s.purgeBatch(cutoff)
		total += n
		if err != nil {
			return total, fmt.Errorf("spool: purge journal: %w", err)
		}
		if !more {
			return total, nil
		}
	}
}

// purgeBatch removes up to purgeBatch records with a retention key before
// cutoff and reports whether there may be more.
func (s *Store) purgeBatch(cutoff []byte) (int, bool, error) {
	if err := s.enter(); err != nil {
		return 0, false, err
	}
	defer s.leave()
	var masks []stateMask
	var err error
	for range maxConflictRetries {
		masks = masks[:0]
		err = s.db.Update(func(txn *badger.Txn) error {
			it := txn.NewIterator(badger.IteratorOptions{Prefix: []byte(prefixRetain)})
			defer it.Close()
			for it.Rewind(); it.Valid() && len(masks) < purgeBatch; it.Next() {
				item := it.Item()
				if bytes.Compare(item.Key(), cutoff) >= 0 {
					break
				}
				_, id, ok := parseRetainKey(item.Key())
				var mask stateMask
				if err := item.Value(func(v []byte) error {
					if len(v) == 1 {
						mask = stateMask(v[0])
					}
					return nil
				}); err != nil {
					return err
				}
				if err := txn.Delete(item.KeyCopy(nil)); err != nil {
					return err
				}
				if ok {
					if err := txn.Delete(journalKey(id)); err != nil {
						return err
					}
				}
				masks = append(masks, mask)
			}
			return nil
		})
		if !errors.Is(err, badger.ErrConflict) {
			break
		}
	}
	if err != nil {
		return 0, false, err
	}
	for _, m := range masks {
		s.ix.addJournal(m, -1)
	}
	if len(masks) > 0 {
		s.gs.Dirty.Store(true)
	}
	return len(masks), len(masks) == purgeBatch, nil
}

// RunGC runs Badger's value log garbage collection every interval until ctx
// is done or the store is closed: it rewrites value log files that are at
// least half garbage (bodies of finished messages), repeating while one was
// rewritten. Run it in its own goroutine.
func (s *Store) RunGC(ctx context.Context, every time.Duration) {
	defer s.recoverPanic("gc")
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		for ctx.Err() == nil {
			err := s.gcOnce()
			if errors.Is(err, ErrClosed) {
				return
			}
			if err != nil {
				if !errors.Is(err, badger.ErrNoRewrite) {
					s.log.Warn("value log GC failed", "err", err)
				}
				break
			}
		}
	}
}

// gcOnce runs one value log GC pass. Badger moves the live entries of the
// chosen file to the head of the value log and then deletes the file, with
// no fsync in between (SyncWrites=false): a power cut could leave the moved
// bodies unwritten and the file gone. But Badger defers the deletion while
// an iterator is open, so gcOnce holds one across the pass and closes it
// only after the store's fsync made the moved entries durable.
func (s *Store) gcOnce() error {
	if err := s.enter(); err != nil {
		return err
	}
	defer s.leave()
	txn := s.db.NewTransaction(false)
	defer txn.Discard()
	pin := txn.NewIterator(badger.IteratorOptions{Prefix: []byte("gc-pin/")})
	defer pin.Close() // the deferred deletions happen here
	err := s.db.RunValueLogGC(0.5)
	if err == nil {
		err = s.gs.wait()
	}
	return err
}

// Bytes returns the disk space used by the spool directory in bytes (LSM
// tables, value log, WALs; allocated blocks, so the value log's sparse
// preallocation is not counted), for relayd_spool_bytes. It stats the few
// files of the directory.
func (s *Store) Bytes() int64 {
	var total int64
	_ = filepath.WalkDir(s.dir, func(_ string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return nil
		}
		info, err := d.Info()
		if err != nil {
			return nil
		}
		total += allocated(info)
		return nil
	})
	return total
}
