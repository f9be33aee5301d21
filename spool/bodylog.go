package spool

import (
	"cmp"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
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

var (
	segMagic   = [8]byte{'R', 'L', 'Y', 'D', 'S', 'E', 'G', '1'}
	recMagic   = [4]byte{'R', 'L', 'R', '1'}
	castagnoli = crc32.MakeTable(crc32.Castagnoli)

	errLogFull = errors.New("body log: record too large or log full")
)

// Record layout (little endian):
//
//	[0:4]   recMagic
//	[4:8]   CRC-32C of [recHeaderLen:] followed by [12:recHeaderLen]
//	[8]     flags, outside the CRC: flagDead marks a failed commit
//	[9:12]  zero
//	[12:20] segment sequence number
//	[20:24] envelope length
//	[24:28] body length
//	[28:30] ID length
//	[30:32] zero
//	        ID, envelope (codec.go), body
const flagDead = 1

// logRecord is a parsed record.
type logRecord struct {
	id        string
	env, body []byte
	dead      bool
	size      int // bytes on disk
}

// recAlign: records start on a page boundary and are written as whole
// pages (zero padded). The segment's pages are not cached (adviseSegment),
// and writing part of an uncached page makes the kernel read it from disk
// first: 0.1 ms per commit.
const recAlign = 4096

func pageAlign(n int) int { return (n + recAlign - 1) &^ (recAlign - 1) }

// recordSize is the size of the record of id, env and body.
func recordSize(id string, env, body []byte) int {
	return recHeaderLen + len(id) + len(env) + len(body)
}

// buildRecord returns the record of id, env and body with its sequence
// number and CRC still to be set (sealRecord), in a new buffer whose
// capacity reaches the next page, zeros after the record: see append.
func buildRecord(id string, env, body []byte) []byte {
	return fillRecord(make([]byte, pageAlign(recordSize(id, env, body))), id, env, body)
}

// fillRecord writes the record of id, env and body into b, which is its
// size rounded up to a page and may hold anything, zeros the rest of b
// and returns the record, b[:size].
func fillRecord(b []byte, id string, env, body []byte) []byte {
	size := recordSize(id, env, body)
	clear(b[:recHeaderLen])
	clear(b[size:])
	copy(b, recMagic[:])
	binary.LittleEndian.PutUint32(b[20:], uint32(len(env)))
	binary.LittleEndian.PutUint32(b[24:], uint32(len(body)))
	binary.LittleEndian.PutUint16(b[28:], uint16(len(id)))
	n := copy(b[recHeaderLen:], id)
	n += copy(b[recHeaderLen+n:], env)
	copy(b[recHeaderLen+n:], body)
	return b[:size]
}

// recordBufs holds buffers of recordBufSize octets for append: a record
// that fits, page padding included, is built in one, which is reused once
// the record is written (the record was 17 % of what a 5 KiB commit
// allocated). Larger records get their own buffer.
var recordBufs = sync.Pool{New: func() any {
	b := make([]byte, recordBufSize)
	return &b
}}

const recordBufSize = 64 << 10

// crc32Payload is the CRC-32C of the part of rec after its header.
func crc32Payload(rec []byte) uint32 {
	return crc32.Checksum(rec[recHeaderLen:], castagnoli)
}

// sealRecord sets the sequence number and the CRC of rec; payloadCRC is the
// CRC-32C of rec[recHeaderLen:], computed before the log lock is taken.
func sealRecord(rec []byte, seq uint64, payloadCRC uint32) {
	binary.LittleEndian.PutUint64(rec[12:], seq)
	crc := crc32.Update(payloadCRC, castagnoli, rec[12:recHeaderLen])
	binary.LittleEndian.PutUint32(rec[4:], crc)
}

// parseRecordHeader checks the header of a record of segment seq and
// returns the record's total size; ok is false for anything that is not
// such a header (zeros, a torn write, a record of an earlier use).
func parseRecordHeader(h []byte, seq uint64) (size int, ok bool) {
	if len(h) < recHeaderLen || [4]byte(h[:4]) != recMagic ||
		binary.LittleEndian.Uint64(h[12:]) != seq {
		return 0, false
	}
	envLen := binary.LittleEndian.Uint32(h[20:])
	bodyLen := binary.LittleEndian.Uint32(h[24:])
	idLen := binary.LittleEndian.Uint16(h[28:])
	total := uint64(recHeaderLen) + uint64(idLen) + uint64(envLen) + uint64(bodyLen)
	if idLen == 0 || idLen > maxIDLen || total > maxRecord {
		return 0, false
	}
	return int(total), true
}

// parseRecord checks and splits a whole record of segment seq. The slices
// of the result point into b.
func parseRecord(b []byte, seq uint64) (logRecord, error) {
	size, ok := parseRecordHeader(b, seq)
	if !ok || len(b) < size {
		return logRecord{}, fmt.Errorf("%w: bad body log record header", ErrCorrupt)
	}
	b = b[:size]
	crc := crc32.Update(crc32Payload(b), castagnoli, b[12:recHeaderLen])
	if crc != binary.LittleEndian.Uint32(b[4:]) {
		return logRecord{}, fmt.Errorf("%w: body log record checksum mismatch", ErrCorrupt)
	}
	envLen := int(binary.LittleEndian.Uint32(b[20:]))
	idLen := int(binary.LittleEndian.Uint16(b[28:]))
	p := b[recHeaderLen:]
	return logRecord{
		id:   string(p[:idLen]),
		env:  p[idLen : idLen+envLen],
		body: p[idLen+envLen:],
		dead: b[8]&flagDead != 0,
		size: size,
	}, nil
}

// logRef locates a record; it is the value of l/<id>.
type logRef struct {
	slot uint32 // segment file
	seq  uint64 // the segment's sequence number when written
	off  uint32 // record offset in the segment
	size uint32 // record size
}

const logRefLen = 20

func (r logRef) encode() []byte {
	b := make([]byte, logRefLen)
	binary.LittleEndian.PutUint32(b, r.slot)
	binary.LittleEndian.PutUint64(b[4:], r.seq)
	binary.LittleEndian.PutUint32(b[12:], r.off)
	binary.LittleEndian.PutUint32(b[16:], r.size)
	return b
}

func decodeLogRef(b []byte) (logRef, error) {
	if len(b) != logRefLen {
		return logRef{}, fmt.Errorf("%w: body reference of %d bytes", ErrCorrupt, len(b))
	}
	return logRef{
		slot: binary.LittleEndian.Uint32(b),
		seq:  binary.LittleEndian.Uint64(b[4:]),
		off:  binary.LittleEndian.Uint32(b[12:]),
		size: binary.LittleEndian.Uint32(b[16:]),
	}, nil
}

// logPos orders records: sequence number, then offset.
func logPos(seq uint64, off int64) uint64 { return seq<<32 | uint64(off) }

func (r logRef) pos() uint64 { return logPos(r.seq, int64(r.off)) }

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

// readSegHeader returns the sequence number in a segment's header, 0 if the
// header is not valid.
func readSegHeader(f *os.File) uint64 {
	var h [20]byte
	if _, err := f.ReadAt(h[:], 0); err != nil || [8]byte(h[:8]) != segMagic {
		return 0
	}
	if crc32.Checksum(h[:16], castagnoli) != binary.LittleEndian.Uint32(h[16:]) {
		return 0
	}
	return binary.LittleEndian.Uint64(h[8:])
}

func segHeader(seq uint64) []byte {
	h := make([]byte, 20)
	copy(h, segMagic[:])
	binary.LittleEndian.PutUint64(h[8:], seq)
	binary.LittleEndian.PutUint32(h[16:], crc32.Checksum(h[:16], castagnoli))
	return h
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
	var rec []byte
	if padded <= recordBufSize {
		buf := recordBufs.Get().(*[]byte)
		defer recordBufs.Put(buf)
		rec = fillRecord((*buf)[:padded], id, env, body)
	} else {
		rec = buildRecord(id, env, body)
	}
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

// read returns the body of message id from the record at ref. ErrNotFound
// if the segment was reused since (the message became final meanwhile).
func (l *bodyLog) read(ref logRef, id string) ([]byte, error) {
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
	b := make([]byte, ref.size)
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
