package spool

import (
	"fmt"
	"sync"
	"sync/atomic"
	"time"
)

// The admin actions of docs/admin-api.md (POST .../hold, .../release, .../retry,
// DELETE). Each is one UpdateSync: durable before it returns, since the API
// answers with the changed item. They return the message after the change,
// ErrNotFound for an unknown ID, and ErrState (409) when no recipient is in a
// state the action applies to. They set Updated on the recipients they
// change. Safe for concurrent use.
//
// Hold and Cancel refuse a message with a recipient in "sending" (a
// *SendingError, which is ErrState): the attempt in flight cannot be called
// back, so holding or cancelling it would leave a record that says "held"
// or "cancelled" for mail that went out, and a later release would send it
// again. Refusing, rather than waiting for the attempt, keeps the admin
// request short (an attempt may take the profile's timeouts, minutes); the
// attempt's outcome is recorded as usual and the admin can act on it.

// SendingError is the refusal of Hold or Cancel while a recipient of the
// message is being delivered. errors.Is(err, ErrState) holds (the API's 409).
type SendingError struct {
	ID        string // the message
	Recipient string // the first recipient in "sending"
}

// Error implements error.
func (e *SendingError) Error() string {
	return fmt.Sprintf("message %s is being delivered to %s right now; its outcome is recorded when "+
		"this attempt ends (within the profile's timeouts): look at the message again then, and "+
		"hold or delete it if it is still queued", e.ID, e.Recipient)
}

// Is makes a SendingError match ErrState.
func (e *SendingError) Is(target error) bool { return target == ErrState }

// refusedWhileSending are the admin actions a recipient in "sending" refuses.
var refusedWhileSending = map[string]bool{"hold": true, "cancel": true}

// Hold moves every non-final recipient to held, remembering its state in
// HeldFrom; recipients already held stay held. A held recipient is never due
// (stop a mistaken mail during its send delay). ErrState if every
// recipient is final, a *SendingError if one is being delivered.
func (s *Store) Hold(id string) (*Message, error) {
	return s.admin("hold", id, func(r *Recipient, now time.Time) bool {
		if r.State.Final() {
			return false
		}
		if r.State != StateHeld {
			r.HeldFrom, r.State, r.Updated = r.State, StateHeld, now
		}
		return true
	})
}

// Release returns every held recipient to the state it was held from:
// delayed, ready and deferred keep their NextAttempt (a delay that ran out
// while held is due at once); a recipient held while sending, or with no
// recorded state, becomes ready and due now. ErrState if none is held.
func (s *Store) Release(id string) (*Message, error) {
	return s.admin("release", id, func(r *Recipient, now time.Time) bool {
		if r.State != StateHeld {
			return false
		}
		switch r.HeldFrom {
		case StateDelayed, StateReady, StateDeferred:
			r.State = r.HeldFrom
		default:
			r.State, r.NextAttempt = StateReady, now
		}
		r.HeldFrom, r.Updated = "", now
		return true
	})
}

// Cancel moves every non-final recipient (held ones included) to cancelled,
// which drops the body; the envelope stays as a journal record until
// PurgeJournal (DELETE leaves a cancelled record). ErrState if every
// recipient is final already, a *SendingError if one is being delivered.
func (s *Store) Cancel(id string) (*Message, error) {
	return s.admin("cancel", id, func(r *Recipient, now time.Time) bool {
		if r.State.Final() {
			return false
		}
		r.State, r.HeldFrom, r.Updated = StateCancelled, "", now
		return true
	})
}

// RetryNow makes every deferred, delayed or ready recipient ready and due
// now. ErrState if there is none (held, sending and final recipients are
// left alone).
func (s *Store) RetryNow(id string) (*Message, error) {
	return s.admin("retry", id, retryRecipient(StateDeferred, StateDelayed, StateReady))
}

// retryRecipient returns an admin change that makes recipients in one of
// states ready now.
func retryRecipient(states ...State) func(r *Recipient, now time.Time) bool {
	return func(r *Recipient, now time.Time) bool {
		for _, st := range states {
			if r.State == st {
				r.State, r.NextAttempt, r.Updated = StateReady, now, now
				return true
			}
		}
		return false
	}
}

// RetryAll makes every deferred recipient of every message ready and due
// now (delayed recipients keep their send delay) and returns how many
// messages it changed. The changes are durable when it returns.
//
// The messages are changed by retryWorkers goroutines at once, one update
// each: Badger writes concurrent transactions in one batch, so 100,000
// deferred messages take seconds, not the minute that one update after the
// other took.
func (s *Store) RetryAll() (int, error) {
	return s.changeAll("retry", s.ix.ids(stateBit(StateDeferred)), retryRecipient(StateDeferred))
}

// changeAll applies change to the messages ids, retryWorkers at a time,
// without waiting for an fsync of each, and makes the changes durable
// before it returns. It returns how many messages changed; missing,
// corrupt and unchanged ones are skipped.
func (s *Store) changeAll(action string, ids []string, change func(r *Recipient, now time.Time) bool) (int, error) {
	var n atomic.Int64
	var next atomic.Int64
	var failed atomic.Pointer[error]
	var wg sync.WaitGroup
	for range min(retryWorkers, len(ids)) {
		wg.Go(func() {
			for failed.Load() == nil {
				i := next.Add(1) - 1
				if i >= int64(len(ids)) {
					return
				}
				_, err := s.change(action, ids[i], change, false)
				switch {
				case err == nil:
					n.Add(1)
				case isSkippable(err):
				default:
					failed.CompareAndSwap(nil, &err)
				}
			}
		})
	}
	wg.Wait()
	if err := failed.Load(); err != nil {
		return int(n.Load()), *err
	}
	return int(n.Load()), s.syncRetryAll()
}

// retryWorkers is how many messages RetryAll changes at once.
const retryWorkers = 16

// syncRetryAll makes RetryAll's changes durable.
func (s *Store) syncRetryAll() error {
	if err := s.enter(); err != nil {
		return fmt.Errorf("spool: retry all: %w", err)
	}
	defer s.leave()
	if err := s.gs.wait(); err != nil {
		return fmt.Errorf("spool: retry all: %w", err)
	}
	return nil
}

// admin applies change to every recipient of message id, durably.
func (s *Store) admin(action, id string, change func(r *Recipient, now time.Time) bool) (*Message, error) {
	return s.change(action, id, change, true)
}

// change applies fn to every recipient of message id in one update; ErrState
// when fn applied to none.
func (s *Store) change(action, id string, fn func(r *Recipient, now time.Time) bool, durable bool) (*Message, error) {
	now := s.now()
	m, err := s.update(id, func(m *Message) error {
		if refusedWhileSending[action] {
			for _, r := range m.Recipients {
				if r.State == StateSending {
					return &SendingError{ID: id, Recipient: r.Address}
				}
			}
		}
		hit := false
		for i := range m.Recipients {
			if fn(&m.Recipients[i], now) {
				hit = true
			}
		}
		if !hit {
			return fmt.Errorf("spool: %s %s: %w", action, id, ErrState)
		}
		return nil
	}, durable)
	return m, err
}
