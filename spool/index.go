package spool

import (
	"container/heap"
	"sync"
)

// memIndex is the in-memory part of the spool: the schedule of the active
// messages, their state masks, the per-state message counters (active and
// journal) and the oldest active message. It is rebuilt at Open and changed
// only after a transaction committed, under the message's ID lock (see
// Store.apply), so it follows the disk in commit order. Safe for concurrent
// use.
type memIndex struct {
	mu     sync.Mutex
	active map[string]activeEntry
	sched  schedHeap
	counts [len(allStates)]int

	oldestID    string // valid only when oldestKnown
	oldestKnown bool
}

// activeEntry is what memIndex keeps per active message (about 100 bytes
// with the map overhead: 10 MB for 100,000 queued messages).
type activeEntry struct {
	created int64
	due     int64
	mask    stateMask
}

func newMemIndex() *memIndex {
	return &memIndex{active: make(map[string]activeEntry), oldestKnown: true}
}

// change replaces the index entry of id: old describes the message before
// the transaction (nil if it did not exist), cur after it (nil if removed).
func (ix *memIndex) change(id string, old, cur *summary) {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	if old != nil {
		ix.addCounts(old.mask, -1)
	}
	if cur != nil {
		ix.addCounts(cur.mask, +1)
	}
	if cur == nil || !cur.active {
		if _, ok := ix.active[id]; ok {
			delete(ix.active, id)
			if ix.oldestKnown && ix.oldestID == id {
				ix.oldestKnown = false
			}
		}
		return
	}
	prev, had := ix.active[id]
	e := activeEntry{created: cur.created, due: cur.due, mask: cur.mask}
	ix.active[id] = e
	if e.due != noDue && (!had || prev.due != e.due) {
		heap.Push(&ix.sched, schedItem{due: e.due, id: id})
		ix.compact()
	}
	if ix.oldestKnown && (ix.oldestID == "" || older(id, e, ix.oldestID, ix.active[ix.oldestID])) {
		ix.oldestID = id
	}
	if had && prev.created != e.created && ix.oldestID == id {
		ix.oldestKnown = false
	}
}

// forget drops id (a corrupt record) from the index and its counts.
func (ix *memIndex) forget(id string) {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	e, ok := ix.active[id]
	if !ok {
		return
	}
	ix.addCounts(e.mask, -1)
	delete(ix.active, id)
	if ix.oldestID == id {
		ix.oldestKnown = false
	}
}

// addJournal counts a journal message found at Open or removed by PurgeJournal.
func (ix *memIndex) addJournal(mask stateMask, sign int) {
	ix.mu.Lock()
	ix.addCounts(mask, sign)
	ix.mu.Unlock()
}

func (ix *memIndex) addCounts(mask stateMask, sign int) {
	for i := range allStates {
		if mask&(1<<i) != 0 {
			ix.counts[i] += sign
		}
	}
}

func older(a string, ea activeEntry, b string, eb activeEntry) bool {
	if ea.created != eb.created {
		return ea.created < eb.created
	}
	return a < b
}

// oldest returns the creation time (unix nanos) of the oldest active
// message. It rescans the active set only after the oldest one left.
func (ix *memIndex) oldest() (int64, bool) {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	if !ix.oldestKnown {
		ix.oldestID = ""
		for id, e := range ix.active {
			if ix.oldestID == "" || older(id, e, ix.oldestID, ix.active[ix.oldestID]) {
				ix.oldestID = id
			}
		}
		ix.oldestKnown = true
	}
	if ix.oldestID == "" {
		return 0, false
	}
	return ix.active[ix.oldestID].created, true
}

// live reports whether the heap item it is the current schedule of its message.
func (ix *memIndex) live(it schedItem) bool {
	e, ok := ix.active[it.id]
	return ok && e.due == it.due
}

// nextDue returns the earliest due time, dropping stale heap items on top.
func (ix *memIndex) nextDue() (int64, bool) {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	for len(ix.sched) > 0 {
		if top := ix.sched[0]; ix.live(top) {
			return top.due, true
		}
		heap.Pop(&ix.sched)
	}
	return 0, false
}

// due returns up to limit IDs due at or before now, earliest first. It pops
// them and pushes them back: the messages stay scheduled until an Update
// changes them. Cost: O(limit log n).
func (ix *memIndex) due(now int64, limit int) []string {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	var taken []schedItem
	seen := make(map[string]bool)
	for len(ix.sched) > 0 && len(taken) < limit {
		top := ix.sched[0]
		if top.due > now && ix.live(top) {
			break
		}
		heap.Pop(&ix.sched)
		if !ix.live(top) || seen[top.id] {
			continue // stale, or a duplicate push of the same schedule
		}
		seen[top.id] = true
		taken = append(taken, top)
	}
	ids := make([]string, len(taken))
	for i, it := range taken {
		ids[i] = it.id
		heap.Push(&ix.sched, it)
	}
	return ids
}

// ids returns the active IDs whose mask intersects mask.
func (ix *memIndex) ids(mask stateMask) []string {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	var ids []string
	for id, e := range ix.active {
		if e.mask&mask != 0 {
			ids = append(ids, id)
		}
	}
	return ids
}

// countsMap returns the counters as a map with every state present.
func (ix *memIndex) countsMap() map[State]int {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	out := make(map[State]int, len(allStates))
	for i, s := range allStates {
		out[s] = ix.counts[i]
	}
	return out
}

// compact rebuilds the heap from the active set when stale items (left by
// reschedules) outnumber the live ones, bounding its memory.
func (ix *memIndex) compact() {
	if len(ix.sched) <= 2*len(ix.active)+1024 {
		return
	}
	ix.sched = ix.sched[:0]
	for id, e := range ix.active {
		if e.due != noDue {
			ix.sched = append(ix.sched, schedItem{due: e.due, id: id})
		}
	}
	heap.Init(&ix.sched)
}

// schedItem is one schedule entry; it is stale when the message's activeEntry
// no longer has this due time.
type schedItem struct {
	due int64
	id  string
}

// schedHeap is a min-heap by (due, id) for container/heap.
type schedHeap []schedItem

// Len implements heap.Interface.
func (h schedHeap) Len() int { return len(h) }

// Less implements heap.Interface.
func (h schedHeap) Less(i, j int) bool {
	if h[i].due != h[j].due {
		return h[i].due < h[j].due
	}
	return h[i].id < h[j].id
}

// Swap implements heap.Interface.
func (h schedHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }

// Push implements heap.Interface.
func (h *schedHeap) Push(x any) { *h = append(*h, x.(schedItem)) }

// Pop implements heap.Interface.
func (h *schedHeap) Pop() any {
	old := *h
	it := old[len(old)-1]
	*h = old[:len(old)-1]
	return it
}
