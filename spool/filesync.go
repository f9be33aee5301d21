package spool

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"
)

// fileSync is the store's fsync (run by groupSync, one at a time). It
// replaces Badger's DB.Sync, which with SyncWrites=false has two problems:
//
//   - It fsyncs only the current memtable WAL and the current value log
//     file. When Badger rotates either (a full memtable becomes immutable, a
//     full value log file is closed), the previous file is not fsynced until
//     its flush to L0 (the WAL) or never (the value log), and the directory
//     entry of the new file is never fsynced: a power cut right after a
//     commit could lose it. fileSync fsyncs every file that was the newest of
//     its kind at the previous call but no longer is, and the directory when
//     a file was added.
//   - It fsyncs the two files one after the other. fileSync fsyncs them in
//     parallel, which on a journaling file system costs little more than one.
//
// Badger writes both files through mmap. On Linux fsync through any
// descriptor writes back the dirty pages of the file, mmap'd ones included
// (msync(MS_SYNC) is implemented by the same call), so fileSync fsyncs its
// own descriptors. Elsewhere it calls DB.Sync first (syncFirst).
type fileSync struct {
	dir       string
	syncFirst func() error // nil on Linux
	kinds     [2]fileKind
	fsync     func(*os.File) error // (*os.File).Sync; replaced in tests
	listed    time.Time            // last full directory listing
}

// relistEvery bounds how long fileSync trusts its fast rotation check.
const relistEvery = time.Second

// fileKind tracks the newest file of one kind (memtable WAL or value log).
type fileKind struct {
	ext     string
	pattern string   // file name from fid
	newest  int      // fid of cur; -1 before the first file
	cur     *os.File // open descriptor of the newest file
}

func newFileSync(dir string, dbSync func() error) *fileSync {
	f := &fileSync{dir: dir, fsync: (*os.File).Sync, kinds: [2]fileKind{
		{ext: "mem", pattern: "%05d.mem", newest: -1},
		{ext: "vlog", pattern: "%06d.vlog", newest: -1},
	}}
	if runtime.GOOS != "linux" {
		f.syncFirst = dbSync
	}
	return f
}

// sync fsyncs the current WAL and value log file, the files rotated since
// the previous call, and the directory if files were added.
func (f *fileSync) sync() error {
	if f.syncFirst != nil {
		if err := f.syncFirst(); err != nil {
			return err
		}
	}
	if !f.rotated() {
		return errors.Join(f.fsyncAll([]*os.File{f.kinds[0].cur, f.kinds[1].cur})...)
	}
	fids, err := f.list()
	if err != nil {
		return err
	}
	f.listed = time.Now()
	var files, rotated []*os.File
	added := false
	for i := range f.kinds {
		k := &f.kinds[i]
		old, changed, err := f.advance(k, fids[i])
		if err != nil {
			closeAll(old)
			closeAll(rotated)
			return err
		}
		rotated = append(rotated, old...)
		added = added || changed
		if k.cur != nil {
			files = append(files, k.cur)
		}
	}
	defer closeAll(rotated)
	errs := f.fsyncAll(append(files, rotated...))
	if added {
		if d, err := os.Open(f.dir); err != nil {
			errs = append(errs, err)
		} else {
			errs = append(errs, f.fsync(d))
			d.Close()
		}
	}
	return errors.Join(errs...)
}

// rotated reports whether Badger may have rotated a file since the last
// listing. Fids grow by one at each rotation, and a rotated file can be gone
// already (a WAL flushed to L0), but not two in a row between two syncs,
// so looking for the next two fids is enough; a full listing every
// relistEvery covers the rest. Two stats instead of a directory listing.
func (f *fileSync) rotated() bool {
	if time.Since(f.listed) >= relistEvery {
		return true
	}
	for i := range f.kinds {
		k := &f.kinds[i]
		if k.cur == nil {
			return true
		}
		for next := k.newest + 1; next <= k.newest+2; next++ {
			if _, err := os.Lstat(filepath.Join(f.dir, fmt.Sprintf(k.pattern, next))); err == nil {
				return true
			}
		}
	}
	return false
}

// advance moves k to the newest of fids. It returns the files that were
// rotated since (still open, to be fsynced and closed) and whether a file
// was added.
func (f *fileSync) advance(k *fileKind, fids []int) ([]*os.File, bool, error) {
	newest := -1
	for _, fid := range fids {
		newest = max(newest, fid)
	}
	if newest <= k.newest {
		return nil, false, nil
	}
	var old []*os.File
	if k.cur != nil {
		old = append(old, k.cur)
	}
	for _, fid := range fids {
		if fid > k.newest && fid < newest {
			fh, err := os.Open(filepath.Join(f.dir, fmt.Sprintf(k.pattern, fid)))
			if err == nil {
				old = append(old, fh)
			} else if !errors.Is(err, os.ErrNotExist) { // gone: flushed to a synced table
				return old, false, err
			}
		}
	}
	cur, err := os.Open(filepath.Join(f.dir, fmt.Sprintf(k.pattern, newest)))
	if err != nil {
		return old, false, err
	}
	k.cur, k.newest = cur, newest
	return old, true, nil
}

// list returns the fids of the memtable WALs and of the value log files, in
// the order of f.kinds.
func (f *fileSync) list() ([2][]int, error) {
	var fids [2][]int
	d, err := os.Open(f.dir)
	if err != nil {
		return fids, err
	}
	names, err := d.Readdirnames(-1)
	d.Close()
	if err != nil {
		return fids, err
	}
	for _, n := range names {
		base, ext, _ := strings.Cut(n, ".")
		fid, err := strconv.Atoi(base)
		if err != nil {
			continue
		}
		for i := range f.kinds {
			if ext == f.kinds[i].ext {
				fids[i] = append(fids[i], fid)
			}
		}
	}
	return fids, nil
}

// fsyncAll fsyncs files in parallel and returns the errors.
func (f *fileSync) fsyncAll(files []*os.File) []error {
	errs := make([]error, len(files))
	var wg sync.WaitGroup
	for i, fh := range files[1:] {
		wg.Go(func() { errs[i+1] = f.fsync(fh) })
	}
	if len(files) > 0 {
		errs[0] = f.fsync(files[0])
	}
	wg.Wait()
	return errs
}

// close releases the descriptors; the store calls it after Badger closed.
func (f *fileSync) close() {
	for i := range f.kinds {
		if f.kinds[i].cur != nil {
			f.kinds[i].cur.Close()
			f.kinds[i].cur = nil
		}
	}
}

func closeAll(files []*os.File) {
	for _, fh := range files {
		fh.Close()
	}
}
