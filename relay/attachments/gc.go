package attachments

import (
	"context"
	"time"
)

// GC removes the files whose retention ended (their links answer 410
// until a second retention period has passed, then 404) and the files of
// messages that were never committed: a crash between Put and the spool
// commit leaves files that no message refers to. exists reports whether
// message id is in the spool; it is asked only about manifests older than
// Options.Grace that were never seen committed. Then it compacts the
// manifest log if it is due. It returns how many messages' files it
// removed.
func (s *Store) GC(exists func(id string) bool) int {
	now := s.now()
	s.mu.Lock()
	var expire, tomb, unsure []*manifest
	for _, m := range s.byMsg {
		switch {
		case !now.Before(m.Expires.Add(s.opts.Retention)):
			tomb = append(tomb, m)
		case !now.Before(m.Expires) && !m.Removed:
			expire = append(expire, m)
		case !m.Committed && now.Sub(m.Created) >= s.opts.Grace:
			unsure = append(unsure, m)
		}
	}
	for _, m := range tomb {
		s.drop(m)
	}
	var expired []*file // decided under the lock: a Revoke removes its file itself
	for _, m := range expire {
		m.Removed = true
		for _, f := range m.Files {
			if !f.Revoked {
				expired = append(expired, f)
			}
		}
	}
	s.mu.Unlock()

	n := 0
	for _, m := range tomb {
		s.removeAll(m)
	}
	for _, f := range expired {
		s.removeFile(f)
	}
	for _, m := range expire {
		s.persist(m)
		s.log.Info("attachments expired", "msg_id", m.MessageID, "files", len(m.Files))
		n++
	}
	for _, m := range unsure {
		why := "attachments of a message that was never queued removed"
		if exists(m.MessageID) {
			// Stored before the last start: the files are checked as Links
			// checks them (a power cut during their round), and if they
			// are not intact, delivery stores them again.
			s.mu.Lock()
			c := m.copy()
			s.mu.Unlock()
			if m.staged != nil || s.intact(c) {
				s.mu.Lock()
				m.Committed = true
				s.mu.Unlock()
				s.persist(m)
				continue
			}
			why = "stored attachments of a queued message not intact (a crash during their sync); delivery will store them again"
		}
		s.mu.Lock()
		mine := s.byMsg[m.MessageID] == m
		if mine {
			s.drop(m)
		}
		s.mu.Unlock()
		if !mine { // Links dropped it meanwhile
			continue
		}
		s.removeAll(m)
		s.log.Info(why, "msg_id", m.MessageID, "files", len(m.Files))
		n++
	}
	if s.mlog.due() {
		if err := s.mlog.compact(s.live); err != nil {
			s.log.Error("attachments manifest log not compacted", "err", err)
		}
	}
	return n
}

// RunGC runs GC at start and then every interval until ctx is done.
func (s *Store) RunGC(ctx context.Context, interval time.Duration, exists func(id string) bool) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		s.GC(exists)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
