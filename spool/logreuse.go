package spool

import (
	"os"
	"path/filepath"
	"time"
)

// Reuse of the body log's segments: which are free (the checkpoint passed
// them and no active message references them), which are worth emptying
// (relocatable), removing the surplus (shrink) and making a spare ahead of
// need (addSpare). logcheckpoint.go calls them from the background tick.

// shrink removes the free segments beyond keep, highest slots first, so that
// the disk space a backlog took is given back once it has drained.
func (l *bodyLog) shrink(keep int) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	free := 0
	for _, s := range l.segs {
		if s != nil && s.free {
			free++
		}
	}
	removed := false
	for i := len(l.segs) - 1; i >= 0 && free > keep; i-- {
		s := l.segs[i]
		if s == nil || !s.free {
			continue
		}
		s.mu.Lock() // no read of its old records is in progress
		s.f.Close()
		s.seq = 0 // a late read finds ErrNotFound, not a closed file
		s.mu.Unlock()
		l.segs[i] = nil
		free--
		removed = true
		if err := os.Remove(l.slotName(s.slot)); err != nil {
			return err
		}
	}
	for len(l.segs) > 0 && l.segs[len(l.segs)-1] == nil {
		l.segs = l.segs[:len(l.segs)-1]
	}
	if removed {
		return l.syncDir(l.dir)
	}
	return nil
}

// candidates returns the sealed segments in use that no l/ key points
// into; recycle frees them once the writes that released them are durable.
func (l *bodyLog) candidates() []*segment {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []*segment
	for _, s := range l.segs {
		if s != nil && !s.free && s.sealed && s.live <= 0 {
			out = append(out, s)
		}
	}
	return out
}

// recycle marks free the candidates (taken before Badger's last fsync) that
// still have no live records and whose records are all before the durable
// checkpoint ckpt.
func (l *bodyLog) recycle(cands []*segment, ckpt uint64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, s := range cands {
		if !s.free && s.sealed && s.live <= 0 && logPos(s.seq+1, 0) <= ckpt {
			s.free, s.live, s.liveBytes = true, 0, 0
			s.seenLive, s.quietSince = 0, time.Time{}
		}
	}
}

// relocatable returns a sealed segment before ckpt whose live records take
// less than half of it and whose live count has not changed for
// relocateQuiet, if any. A segment still being drained (delivery is
// releasing its bodies) is left alone: it becomes free on its own, and
// moving its bodies would only copy them into Badger's value log while
// they are being delivered. now is the store's clock.
func (l *bodyLog) relocatable(ckpt uint64, now time.Time) (*segment, uint64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	var found *segment
	for _, s := range l.segs {
		if s == nil || s.free || !s.sealed || s.live <= 0 {
			continue
		}
		if s.quietSince.IsZero() || s.live != s.seenLive {
			s.seenLive, s.quietSince = s.live, now
			continue
		}
		if found == nil && logPos(s.seq+1, 0) <= ckpt && 2*s.liveBytes < s.end-segHeaderLen &&
			now.Sub(s.quietSince) >= relocateQuiet {
			found = s
		}
	}
	if found == nil {
		return nil, 0
	}
	return found, found.seq
}

// needSpare reports whether a spare segment should be made ahead of need:
// none is free and the current one is half full.
func (l *bodyLog) needSpare() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if _, ok := l.newSlot(); !ok || l.err != nil {
		return false
	}
	for _, s := range l.segs {
		if s != nil && s.free {
			return false
		}
	}
	return l.cur != nil && l.cur.end > segSize/2
}

// addSpare creates a free segment (outside the lock: zero-filling takes
// tens of milliseconds).
func (l *bodyLog) addSpare() error {
	tmp := filepath.Join(l.dir, spareName) // not a segment until renamed
	f, err := l.createFile(tmp)
	if err != nil {
		return err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	slot, ok := l.newSlot()
	if !ok {
		f.Close()
		os.Remove(tmp)
		return errLogFull
	}
	name := l.slotName(slot)
	if err := os.Rename(tmp, name); err != nil {
		f.Close()
		os.Remove(tmp)
		return err
	}
	if err := l.syncDir(l.dir); err != nil {
		f.Close()
		return err
	}
	l.place(slot, f)
	return nil
}
