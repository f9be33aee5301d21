package spool

import (
	"fmt"
	"runtime"
	"slices"
	"sync"
	"time"

	"github.com/dgraph-io/badger/v4"
)

// Recovery of interrupted deliveries. A recipient found in "sending" at Open
// was leased by a delivery that the previous process never finished (crash,
// kill -9, power loss). Whether the upstream got it is unknown, so it is
// retried (a possible duplicate is better than a loss): it becomes
// "deferred", due after recoveryBackoff. The backoff grows with Attempts
// (counted at every lease), so a message that crashes relayd at each
// attempt waits longer each restart instead of hot-looping, while a
// one-off crash retries within seconds.
const (
	recoveryStep = 10 * time.Second
	recoveryMax  = 6 // so at most 60 s
)

// recoveryBackoff returns how long a recovered recipient waits.
func recoveryBackoff(attempts int) time.Duration {
	return time.Duration(min(max(attempts, 1), recoveryMax)) * recoveryStep
}

const recoveryError = "delivery interrupted by a relayd restart; retrying (possible duplicate)"

// recoverMessage turns the sending recipients of m into deferred ones and
// reports whether it changed anything.
func recoverMessage(m *Message, now time.Time) bool {
	changed := false
	for i := range m.Recipients {
		r := &m.Recipients[i]
		if r.State != StateSending {
			continue
		}
		r.State = StateDeferred
		r.NextAttempt = now.Add(recoveryBackoff(r.Attempts))
		r.LastError = recoveryError
		r.Updated = now
		changed = true
	}
	return changed
}

// load rebuilds the in-memory index from the active envelopes and the
// journal's retention keys, and writes back recovered messages. It runs in
// Open before the store is shared.
func (s *Store) load() error {
	now := s.now()
	var recovered []*Message
	err := s.db.View(func(txn *badger.Txn) error {
		if err := s.loadActive(txn, now, &recovered); err != nil {
			return err
		}
		return s.loadJournal(txn)
	})
	if err != nil {
		return fmt.Errorf("load: %w", err)
	}
	if s.blog != nil {
		seen, err := s.replayLog()
		if err != nil {
			return err
		}
		removed, err := s.loadRefs(seen)
		if err != nil {
			return err
		}
		recovered = slices.DeleteFunc(recovered, func(m *Message) bool { return removed[m.ID] })
	}
	if len(recovered) == 0 {
		return nil
	}
	wb := s.db.NewWriteBatch()
	defer wb.Cancel()
	for _, m := range recovered {
		b, err := encodeMessage(m)
		if err != nil {
			return fmt.Errorf("recover %s: %w", m.ID, err)
		}
		if err := wb.Set(activeKey(m.ID), b); err != nil {
			return fmt.Errorf("recover %s: %w", m.ID, err)
		}
	}
	if err := wb.Flush(); err != nil {
		return fmt.Errorf("recover: %w", err)
	}
	s.log.Warn("recovered interrupted deliveries", "messages", len(recovered))
	return nil
}

// loadActive indexes every m/ envelope, recovering "sending" recipients in
// memory and collecting the changed messages in recovered. Decoding the envelopes
// is most of the cost of Open, so it runs on every CPU while this goroutine
// reads the keys (the goal in docs/performance.md: accepting within 2 s with 100,000 messages).
func (s *Store) loadActive(txn *badger.Txn, now time.Time, recovered *[]*Message) error {
	batches := make(chan []rawRecord, 4)
	var mu sync.Mutex
	var wg sync.WaitGroup
	for range runtime.GOMAXPROCS(0) {
		wg.Go(func() {
			for batch := range batches {
				rec := s.loadBatch(batch, now)
				mu.Lock()
				*recovered = append(*recovered, rec...)
				mu.Unlock()
			}
		})
	}
	err := readRecords(txn, prefixActive, batches)
	close(batches)
	wg.Wait()
	return err
}

// rawRecord is one undecoded envelope.
type rawRecord struct {
	id    string
	value []byte
}

// readRecords sends the records under prefix to out in batches. No value
// prefetch: envelopes are inline in the LSM, and Badger prefetches with one
// goroutine per item.
func readRecords(txn *badger.Txn, prefix string, out chan<- []rawRecord) error {
	const batchSize = 512
	it := txn.NewIterator(badger.IteratorOptions{Prefix: []byte(prefix)})
	defer it.Close()
	batch := make([]rawRecord, 0, batchSize)
	for it.Rewind(); it.Valid(); it.Next() {
		item := it.Item()
		v, err := item.ValueCopy(nil)
		if err != nil {
			return err
		}
		batch = append(batch, rawRecord{id: string(item.Key()[len(prefix):]), value: v})
		if len(batch) == batchSize {
			out <- batch
			batch = make([]rawRecord, 0, batchSize)
		}
	}
	if len(batch) > 0 {
		out <- batch
	}
	return nil
}

// loadBatch decodes and indexes a batch of active envelopes and returns
// those it recovered.
func (s *Store) loadBatch(batch []rawRecord, now time.Time) []*Message {
	var recovered []*Message
	for _, r := range batch {
		m, err := decodeMessage(r.value)
		if err == nil && m.ID != r.id {
			err = fmt.Errorf("%w: envelope ID %q under key %q", ErrCorrupt, m.ID, r.id)
		}
		if err != nil {
			s.markCorrupt(r.id, err)
			continue
		}
		if recoverMessage(m, now) {
			recovered = append(recovered, m)
		}
		s.apply(r.id, nil, m)
	}
	return recovered
}

// loadJournal counts the journal messages from their retention keys (the
// value is the state mask) without decoding their envelopes.
func (s *Store) loadJournal(txn *badger.Txn) error {
	it := txn.NewIterator(badger.IteratorOptions{PrefetchValues: false, Prefix: []byte(prefixRetain)})
	defer it.Close()
	for it.Rewind(); it.Valid(); it.Next() {
		var mask stateMask
		err := it.Item().Value(func(v []byte) error {
			if len(v) == 1 {
				mask = stateMask(v[0])
			}
			return nil
		})
		if err != nil {
			return err
		}
		s.ix.addJournal(mask, +1)
	}
	return nil
}
