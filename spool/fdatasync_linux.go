package spool

import (
	"os"

	"golang.org/x/sys/unix"
)

// fdatasync writes f's data and the metadata needed to read it back, not
// its timestamps: the body log overwrites allocated blocks, so this skips
// the file system's journal.
func fdatasync(f *os.File) error {
	for {
		err := unix.Fdatasync(int(f.Fd()))
		if err != unix.EINTR {
			return err
		}
	}
}

// adviseSegment drops a body log segment's pages from the page cache and
// turns off readahead on f. The kernel caches a file in folios as large as
// the writes or reads that brought it in; dirtying 5 KB of a 1 MiB folio
// left by zero-filling (or by readahead) makes fdatasync write the whole
// folio: 1 MB of disk writes per commit instead of 8 KB.
func adviseSegment(f *os.File) {
	unix.Fadvise(int(f.Fd()), 0, 0, unix.FADV_DONTNEED)
	unix.Fadvise(int(f.Fd()), 0, 0, unix.FADV_RANDOM)
}
