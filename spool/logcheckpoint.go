package spool

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/dgraph-io/badger/v4"
)

// The Store's side of the body log (bodylog.go): the checkpoint in Badger
// (c/log), replaying the records after it and counting references at Open,
// and moving it in the background tick (logTick), with segment reuse
// (logreuse.go) and relocation.

// readCheckpoint returns the checkpoint stored in Badger, 0 if none.
func readCheckpoint(txn *badger.Txn) (uint64, error) {
	item, err := txn.Get([]byte(logCheckpointKey))
	if errors.Is(err, badger.ErrKeyNotFound) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	var pos uint64
	err = item.Value(func(v []byte) error {
		if len(v) != 8 {
			return fmt.Errorf("%w: body log checkpoint of %d bytes", ErrCorrupt, len(v))
		}
		pos = binary.LittleEndian.Uint64(v)
		return nil
	})
	return pos, err
}

// writeCheckpoint stores pos as the checkpoint, not durably: it becomes
// durable with Badger's next fsync.
func (s *Store) writeCheckpoint(pos uint64) error {
	err := s.db.Update(func(txn *badger.Txn) error {
		return txn.Set([]byte(logCheckpointKey), binary.LittleEndian.AppendUint64(nil, pos))
	})
	if err != nil {
		return fmt.Errorf("body log checkpoint: %w", err)
	}
	s.ckptWritten = pos
	s.gs.Dirty.Store(true)
	return nil
}

// scanned records, per segment slot, the part of it that replay read: from
// the checkpoint (or the segment's start) to the end of its valid records.
type scanned struct{ from, end int64 }

// replayLog writes back into Badger the messages of the log records after
// the checkpoint that Badger does not have: their commits were answered
// after the log's fdatasync, but a power cut lost Badger's unsynced writes.
// It returns what it read of each segment, for loadRefs.
func (s *Store) replayLog() (map[uint32]scanned, error) {
	var ckpt uint64
	if err := s.db.View(func(txn *badger.Txn) error {
		var err error
		ckpt, err = readCheckpoint(txn)
		return err
	}); err != nil {
		return nil, fmt.Errorf("replay body log: %w", err)
	}
	seen := map[uint32]scanned{}
	replayed := 0
	for _, seg := range s.blog.segmentsFrom(ckpt >> 32) {
		from := int64(segHeaderLen)
		if seg.seq == ckpt>>32 {
			from = max(from, int64(ckpt&(1<<32-1)))
		}
		end, err := s.blog.scan(seg, seg.seq, from, func(ref logRef, rec logRecord) error {
			if rec.dead {
				return nil
			}
			done, err := s.replayRecord(ref, rec)
			if done {
				replayed++
			}
			return err
		})
		if err != nil {
			return nil, fmt.Errorf("replay body log: %w", err)
		}
		seen[seg.slot] = scanned{from: from, end: end}
		s.blog.mu.Lock()
		seg.end = end
		s.blog.mu.Unlock()
	}
	if replayed > 0 {
		s.log.Warn("restored messages from the body log that the database had lost", "messages", replayed)
	}
	return seen, nil
}

// replayRecord writes the message of rec back unless Badger has it, and
// reports whether it did.
func (s *Store) replayRecord(ref logRef, rec logRecord) (bool, error) {
	m, err := decodeMessage(rec.env)
	if err == nil && m.ID != rec.id {
		err = fmt.Errorf("%w: envelope ID %q in the record of %q", ErrCorrupt, m.ID, rec.id)
	}
	if err == nil {
		err = validateMessage(m)
	}
	if err != nil {
		s.log.Error("corrupt body log record skipped", "msg_id", rec.id, "err", err)
		return false, nil
	}
	wrote := false
	err = s.db.Update(func(txn *badger.Txn) error {
		if err := checkNew(txn, m.ID); errors.Is(err, errDuplicate) {
			return nil
		} else if err != nil {
			return err
		}
		wrote = true
		_, err := writeMessage(txn, nil, m, rec.env, nil, ref.encode())
		return err
	})
	if err != nil || !wrote {
		return false, err
	}
	s.apply(m.ID, nil, m)
	return true, nil
}

// loadRefs counts the l/ references of each segment. A reference past what
// replay found valid in its segment belongs to a commit that never
// finished (Badger's write reached the disk, the log record did not, and
// the client got no 250): that message is removed. loadRefs returns the
// IDs it removed.
func (s *Store) loadRefs(seen map[uint32]scanned) (map[string]bool, error) {
	var dangling []string
	err := s.db.View(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{Prefix: []byte(prefixLogRef)})
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			id := string(it.Item().Key()[len(prefixLogRef):])
			var ref logRef
			err := it.Item().Value(func(v []byte) error {
				var err error
				ref, err = decodeLogRef(v)
				return err
			})
			if err != nil {
				s.markCorrupt(id, err)
				continue
			}
			seg := s.blog.segment(ref)
			sc, ok := seen[ref.slot]
			if seg == nil || seg.seq != ref.seq ||
				ok && int64(ref.off) >= sc.from && int64(ref.off)+int64(ref.size) > sc.end {
				dangling = append(dangling, id)
				continue
			}
			s.blog.addLive(ref, 1)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("load body log references: %w", err)
	}
	removed := map[string]bool{}
	for _, id := range dangling {
		if err := s.deleteKeys(activeKey(id), logRefKey(id)); err != nil {
			return nil, fmt.Errorf("remove unfinished commit %s: %w", id, err)
		}
		s.ix.forget(id)
		removed[id] = true
		s.log.Warn("removed a message whose commit never completed (no 250 was sent for it)", "msg_id", id)
	}
	return removed, nil
}

// startLog runs at Open once replay and recovery are durable in Badger:
// every record before the next segment is now in Badger, so the checkpoint
// moves there and the segments without live bodies become free.
func (s *Store) startLog() error {
	pos := s.blog.stable()
	if err := s.writeCheckpoint(pos); err != nil {
		return err
	}
	if err := s.gs.wait(); err != nil {
		return err
	}
	s.ckptDurable = pos
	s.blog.recycle(s.blog.candidates(), pos)
	return nil
}

// keepFreeSegments is how many free segments the log keeps for the next
// appends; more are removed.
const keepFreeSegments = 2

// logTick is the body log's share of the background work (Store.tick):
// move the checkpoint, reuse segments, relocate the few live bodies of a
// mostly dead segment, and make a spare segment ahead of need.
func (s *Store) logTick() {
	pos := s.blog.stable()
	cands := s.blog.candidates()
	written := s.ckptWritten
	if s.gs.Dirty.Load() || pos != written || s.ckptDurable != written || len(cands) > 0 {
		// Badger's writes so far become durable: the records before pos,
		// the checkpoint written at the previous tick, and the updates
		// that released the candidates.
		if err := s.gs.wait(); err != nil {
			s.log.Error("spool flush failed", "err", err)
			return
		}
		s.ckptDurable = written
	}
	if pos != written {
		if err := s.writeCheckpoint(pos); err != nil {
			s.log.Error("spool flush failed", "err", err)
			return
		}
	}
	s.blog.recycle(cands, s.ckptDurable)
	if seg, seq := s.blog.relocatable(s.ckptDurable, s.now()); seg != nil {
		if err := s.relocate(seg, seq); err != nil {
			s.log.Error("cannot move bodies out of a body log segment", "segment", seg.f.Name(), "err", err)
		}
	}
	if err := s.blog.shrink(keepFreeSegments); err != nil {
		s.log.Error("cannot remove a body log segment", "dir", s.blog.dir, "err", err)
	}
	if s.blog.needSpare() {
		if err := s.blog.addSpare(); err != nil {
			s.log.Error("cannot create a body log segment", "dir", s.blog.dir, "err", err)
		}
	}
}

// relocate moves the live bodies of a sealed segment into Badger's value
// log, so that the segment can be reused; Badger's value log GC then
// handles them like any other body.
func (s *Store) relocate(seg *segment, seq uint64) error {
	moved := 0
	_, err := s.blog.scan(seg, seq, segHeaderLen, func(ref logRef, rec logRecord) error {
		if rec.dead {
			return nil
		}
		mu := s.lockID(rec.id)
		mu.Lock()
		defer mu.Unlock()
		hit := false
		err := s.db.Update(func(txn *badger.Txn) error {
			item, err := txn.Get(logRefKey(rec.id))
			if errors.Is(err, badger.ErrKeyNotFound) {
				return nil
			}
			if err != nil {
				return err
			}
			var cur logRef
			if err := item.Value(func(v []byte) error {
				cur, err = decodeLogRef(v)
				return err
			}); err != nil || cur != ref {
				return err
			}
			hit = true
			if err := txn.Set(bodyKey(rec.id), rec.body); err != nil {
				return err
			}
			return txn.Delete(logRefKey(rec.id))
		})
		if err != nil {
			return fmt.Errorf("%s: %w", rec.id, err)
		}
		if hit {
			s.blog.release(ref)
			moved++
		}
		return nil
	})
	if moved > 0 {
		s.gs.Dirty.Store(true)
		s.log.Info("moved bodies out of a mostly finished body log segment", "segment", seg.f.Name(), "bodies", moved)
	}
	return err
}
