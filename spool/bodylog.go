package spool

import (
	"cmp"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/relayd/relayd/internal/bufpool"
)

// The body log holds the bodies of newly committed messages, and the
// envelope they were committed with, in preallocated segment files under
// <spool>/bodies. It is what makes a commit durable: Commit appends a
// record, writes the envelope and a reference to the record (l/<id>) in
// Badger without waiting for Badger's fsync, and waits for a group
// fdatasync of the log alone (logSync). The segments are written with
// pwrite over blocks that are already allocated (zero-filled when the
// segment was created, or records of an earlier use), so that fdatasync
// writes data blocks only, with no file system journal commit and no
// mmap'd pages to clean, unlike Badger's freshly extended value log and
// WAL: about a third of the time and a fraction of the CPU per commit.
//
// Badger is fsynced in the background (Store.tick, every flushEvery). The
// checkpoint (c/log, a log position written in Badger after a Badger fsync)
// says up to where every record is durable in Badger too. At Open, the
// records after the durable checkpoint whose message Badger does not have
// (a power cut lost Badger's unsynced tail) are written back: replayLog.
//
// A segment is reused when no active message references a body in it and
// the checkpoint passed it; a sealed segment whose live bodies take less
// than half of it, and have not changed for a minute (it is not being
// drained), has them moved into Badger's value log first (relocate), so a
// few long-queued messages do not pin whole segments. With an
// encryption key the log is not used: bodies go to Badger's encrypted value
// log and every commit waits for Badger's fsync, as before the log.

const (
	logDirName   = "bodies"
	segPrefix    = "seg-"
	spareName    = "spare.tmp" // a segment being made by addSpare
	segSize      = 16 << 20    // bytes per segment file
	segHeaderLen = 4096        // the segment header block; records follow
	recHeaderLen = 32
	// maxRecord is the largest record the log takes (a multiple of
	// recAlign); larger messages are committed into Badger as a whole.
	maxRecord = segSize - segHeaderLen
	// maxSegments bounds the log (4 GiB); past it commits go to Badger.
	maxSegments = 256
	// relocateQuiet is how long the live bodies of a mostly finished
	// segment must stay unchanged before they are moved into Badger.
	relocateQuiet = time.Minute
)

var errLogFull = errors.New("body log: record too large or log full")

// segment is one segment file. free, end, sealed, dirty, live and liveBytes
// are guarded by bodyLog.mu; seq by both bodyLog.mu and segment.mu, so
// holding either is enough to read it.
type segment struct {
	slot uint32
	f    *os.File
	// mu is held shared while a body is read and exclusively while the
	// segment is given a new sequence number, so that a read never sees
	// records of the next use.
	mu sync.RWMutex

	seq       uint64 // from the header; 0 if it is not valid
	free      bool   // may be started again: nothing in it is needed
	end       int64  // next append offset (current) or end of the records
	sealed    bool   // no more appends
	dirty     bool   // written since its last fdatasync
	live      int64  // records referenced by an l/ key
	liveBytes int64  // their size
	// seenLive and quietSince: live as relocatable last saw it and since
	// when it has not changed (zero: not seen since the segment was sealed
	// or reused).
	seenLive   int64
	quietSince time.Time
}

// bodyLog is the set of segments; see the comment at the top of the file.
// The record format is in logformat.go, segment reuse in logreuse.go.
type bodyLog struct {
	dir       string
	fdatasync func(*os.File) error // replaced in tests
	fsync     func(*os.File) error // of directories and new segments
	// onFail is called (with mu held) when a write or an fdatasync fails
	// for the first time: the log is failing from then on.
	onFail func(error)

	mu       sync.Mutex
	segs     []*segment // by slot
	cur      *segment   // being appended to; nil before the first append
	nextSeq  uint64
	inflight map[uint64]int // positions of commits not yet durable in the log and written in Badger
	err      error          // sticky write failure: later appends fail
}

// openLog opens (creating if need be) the log directory and its segments.
// Every segment is sealed; appends start in a new or free one.
// sync, when not nil, replaces fsync and fdatasync (Options.Fsync).
func openLog(dir string, sync func(*os.File) error) (*bodyLog, error) {
	l := &bodyLog{dir: dir, fdatasync: fdatasync, fsync: (*os.File).Sync, onFail: func(error) {},
		nextSeq: 1, inflight: make(map[uint64]int)}
	if sync != nil {
		l.fdatasync, l.fsync = sync, sync
	}
	if err := os.Mkdir(dir, 0o700); err == nil {
		if err := l.syncDir(filepath.Dir(dir)); err != nil {
			return nil, err
		}
	} else if !errors.Is(err, os.ErrExist) {
		return nil, err
	}
	// A spare whose creation was interrupted (addSpare) is not a segment.
	if err := os.Remove(filepath.Join(dir, spareName)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	names, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	slots := map[uint32]*os.File{}
	maxSlot := -1 // the highest slot with a file
	for _, e := range names {
		n, ok := strings.CutPrefix(e.Name(), segPrefix)
		slot, err := strconv.ParseUint(n, 10, 32)
		if !ok || err != nil || slot >= maxSegments {
			continue
		}
		f, err := os.OpenFile(filepath.Join(dir, e.Name()), os.O_RDWR, 0)
		if err != nil {
			closeFiles(slots)
			return nil, err
		}
		adviseSegment(f)
		slots[uint32(slot)] = f
		maxSlot = max(maxSlot, int(slot))
	}
	l.segs = make([]*segment, maxSlot+1) // slots without a file stay nil
	for slot, f := range slots {
		seg := &segment{slot: slot, f: f, sealed: true, end: segSize, free: true}
		if info, err := f.Stat(); err != nil || info.Size() != segSize {
			// its creation was interrupted before the size was reached
			if err := l.zeroFill(f); err != nil {
				closeFiles(slots)
				return nil, err
			}
		} else if seg.seq = readSegHeader(f); seg.seq != 0 {
			seg.free = false
		}
		l.nextSeq = max(l.nextSeq, seg.seq+1)
		l.segs[slot] = seg
	}
	return l, nil
}

func closeFiles(m map[uint32]*os.File) {
	for _, f := range m {
		f.Close()
	}
}

func (l *bodyLog) slotName(slot uint32) string {
	return filepath.Join(l.dir, segPrefix+strconv.FormatUint(uint64(slot), 10))
}

// createFile creates and zero-fills a segment file.
func (l *bodyLog) createFile(name string) (*os.File, error) {
	f, err := os.OpenFile(name, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return nil, err
	}
	if err := l.zeroFill(f); err != nil {
		f.Close()
		os.Remove(name)
		return nil, err
	}
	if err := l.syncDir(l.dir); err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
}

// zeroFill writes zeros over the whole segment and syncs it, so that later
// appends overwrite allocated blocks.
func (l *bodyLog) zeroFill(f *os.File) error {
	zeros := make([]byte, 1<<20)
	for off := int64(0); off < segSize; off += int64(len(zeros)) {
		if _, err := f.WriteAt(zeros, off); err != nil {
			return fmt.Errorf("create body log segment %s: %w", f.Name(), err)
		}
	}
	if err := l.fsync(f); err != nil {
		return fmt.Errorf("create body log segment %s: %w", f.Name(), err)
	}
	adviseSegment(f)
	return nil
}

// syncDir fsyncs directory dir, making the entries created in it durable.
func (l *bodyLog) syncDir(dir string) error { return syncDir(dir, l.fsync) }

func syncDir(dir string, fsync func(*os.File) error) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return fsync(d)
}

// append writes the record of message id and returns where it is. The
// record is not durable yet (logSync) and counts as in flight until done.
// errLogFull: the caller commits into Badger instead.
func (l *bodyLog) append(id string, env, body []byte) (logRef, error) {
	size := recordSize(id, env, body)
	if size > maxRecord {
		return logRef{}, errLogFull
	}
	padded := pageAlign(size)
	// The record is built in a pooled buffer (internal/bufpool), given
	// back once it is written: a new one per record was most of what a
	// commit allocated (17 % at 5 KiB, two thirds at 100 KiB).
	buf := bufpool.Get(padded)
	defer bufpool.Put(buf)
	rec := fillRecord(buf[:padded], id, env, body)
	crc := crc32Payload(rec)
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.err != nil {
		return logRef{}, l.err
	}
	if l.cur == nil || l.cur.end+int64(padded) > segSize {
		if err := l.next(); err != nil {
			return logRef{}, err
		}
	}
	seg := l.cur
	sealRecord(rec, seg.seq, crc)
	// Appends are written in log order under the lock, so that a record
	// made durable by an fdatasync has every earlier record durable too:
	// replay stops at the first invalid record.
	if _, err := seg.f.WriteAt(rec[:padded], seg.end); err != nil {
		l.err = fmt.Errorf("body log write %s: %w", seg.f.Name(), err)
		l.onFail(l.err)
		return logRef{}, l.err
	}
	ref := logRef{slot: seg.slot, seq: seg.seq, off: uint32(seg.end), size: uint32(size)}
	seg.end += int64(padded)
	seg.dirty = true
	l.inflight[ref.pos()]++
	return ref, nil
}

// next seals the current segment and starts a free one, creating it if
// there is none. Called with l.mu held.
func (l *bodyLog) next() error {
	var seg *segment
	for _, s := range l.segs {
		if s != nil && s.free {
			seg = s
			break
		}
	}
	if seg == nil {
		slot, ok := l.newSlot()
		if !ok {
			return errLogFull
		}
		f, err := l.createFile(l.slotName(slot))
		if err != nil {
			return err
		}
		seg = l.place(slot, f)
	}
	if err := l.start(seg); err != nil {
		return err
	}
	if l.cur != nil {
		l.cur.sealed = true
	}
	l.cur = seg
	return nil
}

// start gives a free segment the next sequence number, durably: records of
// its earlier use no longer match. Called with l.mu held.
func (l *bodyLog) start(seg *segment) error {
	seg.mu.Lock()
	defer seg.mu.Unlock()
	if _, err := seg.f.WriteAt(segHeader(l.nextSeq), 0); err != nil {
		return fmt.Errorf("body log segment %s: %w", seg.f.Name(), err)
	}
	if err := l.fdatasync(seg.f); err != nil {
		l.err = fmt.Errorf("body log fdatasync %s: %w", seg.f.Name(), err)
		l.onFail(l.err)
		return l.err
	}
	seg.seq, seg.free, seg.end, seg.sealed, seg.dirty = l.nextSeq, false, segHeaderLen, false, false
	seg.live, seg.liveBytes = 0, 0
	l.nextSeq++
	return nil
}

// kill marks the record of a failed commit, so that replay skips it. Best
// effort: the log is failing or the message was refused anyway.
func (l *bodyLog) kill(ref logRef) {
	if seg := l.segment(ref); seg != nil {
		seg.f.WriteAt([]byte{flagDead}, int64(ref.off)+8)
	}
}

// killSync is kill made durable: the flag is fdatasynced at once, outside
// the log's group sync (whose failure is sticky; after a failed fdatasync
// Linux reports the error once, so a new one can still succeed). Without
// it a record whose commit was answered 452 could reach the disk without
// its flag and be replayed after a crash. Best effort, like kill.
func (l *bodyLog) killSync(ref logRef) {
	seg := l.segment(ref)
	if seg == nil {
		return
	}
	if _, err := seg.f.WriteAt([]byte{flagDead}, int64(ref.off)+8); err == nil {
		l.fdatasync(seg.f)
	}
}

// done ends the in-flight state of a record: its commit is durable in the
// log and its Badger write finished (or failed).
func (l *bodyLog) done(ref logRef) {
	l.mu.Lock()
	defer l.mu.Unlock()
	p := ref.pos()
	if l.inflight[p]--; l.inflight[p] <= 0 {
		delete(l.inflight, p)
	}
}

// addLive and release count the l/ keys that point into a segment.
func (l *bodyLog) addLive(ref logRef, n int64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if seg := l.segmentLocked(ref); seg != nil {
		seg.live += n
		seg.liveBytes += n * int64(ref.size)
	}
}

func (l *bodyLog) release(ref logRef) { l.addLive(ref, -1) }

// segment returns the segment of ref, nil if there is none.
func (l *bodyLog) segment(ref logRef) *segment {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.segmentLocked(ref)
}

// newSlot returns the lowest slot without a segment; false when the log
// has maxSegments. Called with l.mu held.
func (l *bodyLog) newSlot() (uint32, bool) {
	for i, s := range l.segs {
		if s == nil {
			return uint32(i), true
		}
	}
	return uint32(len(l.segs)), len(l.segs) < maxSegments
}

// place adds a new, free segment of file f in slot. Called with l.mu held.
func (l *bodyLog) place(slot uint32, f *os.File) *segment {
	seg := &segment{slot: slot, f: f, free: true}
	if int(slot) == len(l.segs) {
		l.segs = append(l.segs, seg)
	} else {
		l.segs[slot] = seg
	}
	return seg
}

func (l *bodyLog) segmentLocked(ref logRef) *segment {
	if int(ref.slot) >= len(l.segs) {
		return nil
	}
	return l.segs[ref.slot] // nil if removed
}

// sync fdatasyncs every segment written since its last sync; run by the
// log's groupSync.
func (l *bodyLog) sync() error {
	l.mu.Lock()
	var files []*os.File
	for _, s := range l.segs {
		if s != nil && s.dirty {
			files = append(files, s.f)
			s.dirty = false
		}
	}
	l.mu.Unlock()
	if len(files) == 1 { // the usual case: no goroutine
		return l.fdatasync(files[0])
	}
	errs := make([]error, len(files))
	var wg sync.WaitGroup
	for i, f := range files {
		wg.Go(func() { errs[i] = l.fdatasync(f) })
	}
	wg.Wait()
	return errors.Join(errs...)
}

// stable returns the log position before which every record is durable in
// the log and written in Badger.
func (l *bodyLog) stable() uint64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.inflight) > 0 {
		return slices.Min(mapKeys(l.inflight))
	}
	if l.cur == nil {
		return logPos(l.nextSeq, 0)
	}
	return logPos(l.cur.seq, l.cur.end)
}

func mapKeys(m map[uint64]int) []uint64 {
	keys := make([]uint64, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	return keys
}

// read returns the body of message id from the record at ref, read into
// b (ref.size octets; the body is a slice of it). ErrNotFound if the
// segment was reused since (the message became final meanwhile).
func (l *bodyLog) read(ref logRef, id string, b []byte) ([]byte, error) {
	seg := l.segment(ref)
	if seg == nil {
		return nil, fmt.Errorf("%w: body reference to segment %d, which does not exist", ErrCorrupt, ref.slot)
	}
	seg.mu.RLock()
	defer seg.mu.RUnlock()
	if seg.seq != ref.seq {
		return nil, ErrNotFound
	}
	if ref.size > maxRecord || int64(ref.off)+int64(ref.size) > segSize {
		return nil, fmt.Errorf("%w: body reference out of range", ErrCorrupt)
	}
	if _, err := seg.f.ReadAt(b, int64(ref.off)); err != nil {
		return nil, fmt.Errorf("body log read %s: %w", seg.f.Name(), err)
	}
	rec, err := parseRecord(b, ref.seq)
	if err != nil {
		return nil, err
	}
	if rec.id != id {
		return nil, fmt.Errorf("%w: body log record of %q where %q was expected", ErrCorrupt, rec.id, id)
	}
	return rec.body, nil
}

// scan calls fn for every valid record of seg from offset from, in order,
// and returns the offset where the records end.
func (l *bodyLog) scan(seg *segment, seq uint64, from int64, fn func(ref logRef, rec logRecord) error) (int64, error) {
	var h [recHeaderLen]byte
	off := max(from, segHeaderLen)
	for off+recHeaderLen <= segSize {
		if _, err := seg.f.ReadAt(h[:], off); err != nil {
			return off, fmt.Errorf("body log read %s: %w", seg.f.Name(), err)
		}
		size, ok := parseRecordHeader(h[:], seq)
		if !ok || off+int64(size) > segSize {
			break
		}
		b := make([]byte, size)
		if _, err := seg.f.ReadAt(b, off); err != nil {
			return off, fmt.Errorf("body log read %s: %w", seg.f.Name(), err)
		}
		rec, err := parseRecord(b, seq)
		if err != nil {
			break // torn: the end of what was made durable
		}
		if err := fn(logRef{slot: seg.slot, seq: seq, off: uint32(off), size: uint32(size)}, rec); err != nil {
			return off, err
		}
		off += int64(pageAlign(size))
	}
	return off, nil
}

// segmentsFrom returns the segments in use with a sequence number of at
// least seq, in sequence order.
func (l *bodyLog) segmentsFrom(seq uint64) []*segment {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []*segment
	for _, s := range l.segs {
		if s != nil && !s.free && s.seq >= seq {
			out = append(out, s)
		}
	}
	slices.SortFunc(out, func(a, b *segment) int { return cmp.Compare(a.seq, b.seq) })
	return out
}

func (l *bodyLog) close() {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, s := range l.segs {
		if s != nil {
			s.f.Close()
		}
	}
	l.segs = nil
}
