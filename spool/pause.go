package spool

import (
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/dgraph-io/badger/v4"
)

// prefixPause holds the run-time pauses of profiles:
// p/<profile name> → JSON pauseRecord. There are a handful at most.
const prefixPause = "p/"

func pauseKey(profile string) []byte { return []byte(prefixPause + profile) }

// Pause is a profile paused at run time (docs/architecture.md, "Pausing a profile"): its recipients stay
// queued until it is resumed or, when Until is set, until Until.
type Pause struct {
	Profile string
	Until   time.Time // zero: until resumed
	Since   time.Time // when it was paused
	By      string    // who paused it, for the log and the API
}

// Active reports whether the pause still holds at now.
func (p Pause) Active(now time.Time) bool {
	return p.Until.IsZero() || now.Before(p.Until)
}

type pauseRecord struct {
	Until int64  `json:"until,omitempty"` // unix nanos; 0 = until resumed
	Since int64  `json:"since"`
	By    string `json:"by,omitempty"`
}

// SetPause stores p durably (replacing an earlier pause of the profile):
// it survives restarts until ClearPause.
func (s *Store) SetPause(p Pause) error {
	if p.Profile == "" {
		return errors.New("spool: set pause: empty profile name")
	}
	rec := pauseRecord{Since: p.Since.UnixNano(), By: p.By}
	if !p.Until.IsZero() {
		rec.Until = p.Until.UnixNano()
	}
	v, err := json.Marshal(rec)
	if err != nil {
		return fmt.Errorf("spool: set pause %s: %w", p.Profile, err)
	}
	return s.pauseWrite("set pause", p.Profile, func(txn *badger.Txn) error {
		return txn.Set(pauseKey(p.Profile), v)
	})
}

// ClearPause removes the pause of profile, durably; no error if there is
// none.
func (s *Store) ClearPause(profile string) error {
	return s.pauseWrite("clear pause", profile, func(txn *badger.Txn) error {
		return txn.Delete(pauseKey(profile))
	})
}

func (s *Store) pauseWrite(op, profile string, fn func(txn *badger.Txn) error) error {
	if err := s.enter(); err != nil {
		return fmt.Errorf("spool: %s %s: %w", op, profile, err)
	}
	defer s.leave()
	if err := s.db.Update(fn); err != nil {
		return fmt.Errorf("spool: %s %s: %w", op, profile, err)
	}
	s.gs.Dirty.Store(true)
	if err := s.gs.wait(); err != nil {
		return fmt.Errorf("spool: %s %s: %w", op, profile, err)
	}
	return nil
}

// GetPause returns the stored pause of profile, false if there is none. A
// pause whose Until has passed is still returned (see Pause.Active).
func (s *Store) GetPause(profile string) (Pause, bool, error) {
	ps, err := s.Pauses()
	if err != nil {
		return Pause{}, false, err
	}
	for _, p := range ps {
		if p.Profile == profile {
			return p, true, nil
		}
	}
	return Pause{}, false, nil
}

// Pauses returns every stored pause, ordered by profile name, ended ones
// included (see Pause.Active). An undecodable record is skipped and
// logged.
func (s *Store) Pauses() ([]Pause, error) {
	if err := s.enter(); err != nil {
		return nil, fmt.Errorf("spool: pauses: %w", err)
	}
	defer s.leave()
	var out []Pause
	err := s.db.View(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{PrefetchValues: true, Prefix: []byte(prefixPause)})
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			name := string(it.Item().Key()[len(prefixPause):])
			var rec pauseRecord
			err := it.Item().Value(func(v []byte) error { return json.Unmarshal(v, &rec) })
			if err != nil {
				s.log.Error("corrupt profile pause record skipped", "profile", name, "err", err)
				continue
			}
			p := Pause{Profile: name, Since: time.Unix(0, rec.Since), By: rec.By}
			if rec.Until != 0 {
				p.Until = time.Unix(0, rec.Until)
			}
			out = append(out, p)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("spool: pauses: %w", err)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Profile < out[j].Profile })
	return out, nil
}

// Unpark makes the waiting recipients of profile due at now: those in
// ready or deferred whose next attempt is later (a paused profile's
// recipients are parked until the pause's end, see relay). Delayed
// recipients keep their send delay; held, sending and final ones are left
// alone. It returns how many messages it changed; the changes are durable
// when it returns. It reads every active envelope: an admin action, not a
// scheduler step.
func (s *Store) Unpark(profile string) (int, error) {
	ids := s.ix.ids(stateBit(StateReady) | stateBit(StateDeferred))
	return s.changeAll("unpark", ids, func(r *Recipient, now time.Time) bool {
		if r.Profile != profile || (r.State != StateReady && r.State != StateDeferred) || !r.NextAttempt.After(now) {
			return false
		}
		r.NextAttempt = now
		return true
	})
}
