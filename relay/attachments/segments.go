package attachments

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"

	"golang.org/x/sys/unix"
)

// segmentsDirName is the folder of the segment files in the store's
// directory.
const segmentsDirName = "segments"

// segmentSize is the size past which Put starts a new segment. A file
// larger than it gets a segment of its own.
const segmentSize = 64 << 20

// segmentAlign aligns each stored file's offset to the file system's
// block, so that removing one file (punching its hole) frees its blocks
// and touches no neighbour.
const segmentAlign = 4096

// segments are the store's content files: Put appends the decoded
// content of each attachment to the current segment, segments/<n>.seg,
// at an offset reserved for it, and the manifest names the segment, the
// offset and the size. Compared with a file per attachment, storing one
// creates no inode and no directory entry, and one fdatasync per sync
// round makes the content of every concurrent Put durable.
//
// A removed file (expired, revoked, discarded) has its blocks freed by a
// hole punched over its range; a segment whose files are all removed is
// deleted, unless it is the current one. Segments are never written
// again after a restart: Open starts a new one, so the torn tail of a
// crashed Put is never overwritten, only forgotten with its segment.
type segments struct {
	dir   string
	dirF  *os.File // dir, open for syncing new names
	limit int64    // segmentSize; tests make it small

	mu      sync.Mutex
	cur     *segment
	next    uint32 // the number of the next segment created
	byNum   map[uint32]*segment
	dirty   map[*segment]bool // written since the last sync
	created bool              // a segment was created since the last sync
}

// segment is one segment file.
type segment struct {
	num  uint32
	f    *os.File
	end  int64 // the end of the last reservation
	live int   // stored files not yet removed
}

// segmentName is the file name of segment num.
func segmentName(num uint32) string { return fmt.Sprintf("%06d.seg", num) }

// parseSegmentName is segmentName's inverse.
func parseSegmentName(name string) (uint32, bool) {
	base, ok := strings.CutSuffix(name, ".seg")
	if !ok {
		return 0, false
	}
	n, err := strconv.ParseUint(base, 10, 32)
	return uint32(n), err == nil && n > 0
}

// openSegments opens the segments in dir (creating dir), keeping those
// that live counts files in and removing the rest (segments whose files
// were all removed, or that only a crashed Put wrote).
func openSegments(dir string, live map[uint32]int) (*segments, error) {
	if err := mkdirSync(dir); err != nil {
		return nil, fmt.Errorf("cannot create the attachments directory %s: %w", dir, err)
	}
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("cannot read the attachments directory %s: %w", dir, err)
	}
	sg := &segments{dir: dir, limit: segmentSize, next: 1, byNum: map[uint32]*segment{}, dirty: map[*segment]bool{}}
	for _, e := range ents {
		num, ok := parseSegmentName(e.Name())
		if !ok {
			continue
		}
		sg.next = max(sg.next, num+1)
		path := filepath.Join(dir, e.Name())
		if live[num] == 0 {
			os.Remove(path)
			continue
		}
		f, err := os.OpenFile(path, os.O_RDWR, 0)
		if err != nil {
			sg.close()
			return nil, fmt.Errorf("cannot open the attachment segment %s: %w", path, err)
		}
		sg.byNum[num] = &segment{num: num, f: f, live: live[num]}
	}
	if sg.dirF, err = os.Open(dir); err != nil {
		sg.close()
		return nil, fmt.Errorf("cannot open the attachments directory %s: %w", dir, err)
	}
	return sg, nil
}

// reserve reserves n octets in the current segment, starting a new one
// when it is full, and returns the segment and the offset. The reserved
// file counts as live until release.
func (sg *segments) reserve(n int64) (*segment, int64, error) {
	sg.mu.Lock()
	defer sg.mu.Unlock()
	if sg.cur == nil || (sg.cur.end > 0 && sg.cur.end+n > sg.limit) {
		f, err := createSegment(filepath.Join(sg.dir, segmentName(sg.next)))
		if err != nil {
			return nil, 0, err
		}
		if old := sg.cur; old != nil && old.live == 0 {
			sg.removeLocked(old)
		}
		sg.cur = &segment{num: sg.next, f: f}
		sg.byNum[sg.next] = sg.cur
		sg.next++
		sg.created = true
	}
	seg, off := sg.cur, sg.cur.end
	seg.end += (n + segmentAlign - 1) / segmentAlign * segmentAlign
	seg.live++
	return seg, off, nil
}

// createSegment creates a segment file. (Writing it with O_DIRECT, from
// an aligned buffer, was measured: the CPU it saved was spent waiting for
// each write, and the attachments shape was no faster.)
func createSegment(path string) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("cannot create the attachment segment %s: %w", path, err)
	}
	return f, nil
}

// errOverReservation: a part decoded to more octets than its encoded
// size, which no transfer encoding does.
var errOverReservation = errors.New("attachments: the decoded content is larger than its reservation")

// write copies r to seg at off, at most n octets (the reservation), into
// h as well (the checksum), not yet durably, and marks seg for the next
// sync. It returns how many octets r gave; the error is r's, or the
// write's (an *os.PathError), or errOverReservation.
func (sg *segments) write(seg *segment, off, n int64, r io.Reader, h io.Writer) (int64, error) {
	buf := writeBuffers.Get().(*[]byte)
	defer writeBuffers.Put(buf)
	cw := &chunkWriter{f: seg.f, off: off, buf: (*buf)[:0], left: n}
	written, err := io.Copy(io.MultiWriter(cw, h), r)
	if ferr := cw.flush(); err == nil || ferr != nil {
		err = ferr
	}
	sg.mu.Lock()
	sg.dirty[seg] = true
	sg.mu.Unlock()
	return written, err
}

// writeChunk is the size of segments' write buffers: one pwrite(2) for
// most attachments. The decoder hands over 12 KiB at a time, and a
// pwrite of each cost a quarter of Put's CPU (BenchmarkAttachPut).
const writeChunk = 256 << 10

var writeBuffers = sync.Pool{New: func() any {
	b := make([]byte, writeChunk)
	return &b
}}

// chunkWriter writes a stored file to its segment in chunks of its
// buffer's size, and fails a write past the reservation.
type chunkWriter struct {
	f    *os.File
	off  int64  // where buf goes in the file
	buf  []byte // what waits to be written
	left int64  // octets the reservation still takes
}

func (w *chunkWriter) Write(p []byte) (int, error) {
	if int64(len(p)) > w.left {
		return 0, errOverReservation
	}
	w.left -= int64(len(p))
	n := len(p)
	for len(p) > 0 {
		k := copy(w.buf[len(w.buf):cap(w.buf)], p)
		w.buf, p = w.buf[:len(w.buf)+k], p[k:]
		if len(w.buf) == cap(w.buf) {
			if err := w.flush(); err != nil {
				return n - len(p), err
			}
		}
	}
	return n, nil
}

// flush writes what buf holds.
func (w *chunkWriter) flush() error {
	if len(w.buf) == 0 {
		return nil
	}
	_, err := w.f.WriteAt(w.buf, w.off)
	w.off += int64(len(w.buf))
	w.buf = w.buf[:0]
	return err
}

// sync makes the content written since the last sync durable: the
// segments written (fdatasync; a grown segment's size with it) and, when
// a segment was created, the directory.
func (sg *segments) sync() error {
	sg.mu.Lock()
	var segs []*segment
	for seg := range sg.dirty {
		segs = append(segs, seg)
	}
	clear(sg.dirty)
	created := sg.created
	sg.created = false
	sg.mu.Unlock()
	for _, seg := range segs {
		if err := fdatasync(seg.f); err != nil && !sg.removed(seg) {
			return fmt.Errorf("cannot sync the attachment segment %s: %w", seg.f.Name(), err)
		}
	}
	if created {
		if err := sg.dirF.Sync(); err != nil {
			return fmt.Errorf("cannot sync the attachments directory %s: %w", sg.dir, err)
		}
	}
	return nil
}

// removed reports whether seg was deleted (all its files released): a
// sync that failed on its closed descriptor had nothing to make durable.
func (sg *segments) removed(seg *segment) bool {
	sg.mu.Lock()
	defer sg.mu.Unlock()
	return sg.byNum[seg.num] != seg
}

// release removes the file of n octets at off in segment num: its blocks
// are freed (a hole is punched), and a segment left without files is
// deleted unless it is the current one. Neither is synced: a crash may
// bring the blocks or the segment back, and the next Open removes such a
// segment again.
func (sg *segments) release(num uint32, off, n int64) {
	sg.mu.Lock()
	defer sg.mu.Unlock()
	seg := sg.byNum[num]
	if seg == nil {
		return
	}
	seg.live--
	if seg.live <= 0 && seg != sg.cur {
		sg.removeLocked(seg)
		return
	}
	punch(seg.f, off, n)
}

// punch frees the blocks of n octets at off in f; the content reads as
// zeros afterwards. A file system without hole punching keeps them until
// the segment is removed.
func punch(f *os.File, off, n int64) {
	n = (n + segmentAlign - 1) / segmentAlign * segmentAlign
	if n > 0 {
		unix.Fallocate(int(f.Fd()), unix.FALLOC_FL_PUNCH_HOLE|unix.FALLOC_FL_KEEP_SIZE, off, n)
	}
}

// removeLocked deletes seg; the caller holds sg.mu.
func (sg *segments) removeLocked(seg *segment) {
	delete(sg.byNum, seg.num)
	delete(sg.dirty, seg)
	seg.f.Close()
	os.Remove(filepath.Join(sg.dir, segmentName(seg.num)))
}

// path is the file name of segment num, for a download to open.
func (sg *segments) path(num uint32) string { return filepath.Join(sg.dir, segmentName(num)) }

// close closes the segments' files.
func (sg *segments) close() {
	sg.mu.Lock()
	defer sg.mu.Unlock()
	for _, seg := range sg.byNum {
		seg.f.Close()
	}
	if sg.dirF != nil {
		sg.dirF.Close()
	}
}
