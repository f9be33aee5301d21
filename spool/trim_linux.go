package spool

import (
	"bufio"
	"bytes"
	"os"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// trimMappings keeps Badger's file mappings out of the process's RSS.
//
// Badger writes the value log and the memtable WALs through shared mmaps,
// reads the whole last value log file at Open, and reads bodies (at
// delivery) and LSM tables (envelopes, at lookups and compactions) through
// mmaps too, so every page it touched stays resident in RSS (as RssFile)
// until the kernel needs the memory: 100,000 5 KB messages add 500 MB of
// RSS, while the goal (docs/performance.md) wants them held in under 150 MB. trimMappings asks
// the kernel to reclaim those pages with madvise(MADV_PAGEOUT) on the
// mappings of the *.vlog, *.mem and *.sst files under dir: clean pages
// leave memory (dirty ones stay until written back); nothing changes for
// Badger, which faults them back in from the file if it reads them again.
// The store calls it when RssFile grows (rssFileBytes), so hot table pages
// come back at the cost of a read.
//
// MADV_PAGEOUT is only a hint, so a mapping that Badger replaces between the
// read of /proc/self/maps and the madvise call cannot be harmed, whatever
// is mapped there by then (unlike MADV_DONTNEED, which would zero anonymous
// memory). It needs Linux 5.4; trimMappings returns false when the kernel
// does not support it, and the store stops calling it.
func trimMappings(dir string) bool {
	f, err := os.Open("/proc/self/maps")
	if err != nil {
		return false
	}
	defer f.Close()
	prefix := []byte(dir + "/")
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Bytes()
		i := bytes.Index(line, prefix)
		if i < 0 {
			continue
		}
		path := string(line[i:])
		if !strings.HasSuffix(path, ".vlog") && !strings.HasSuffix(path, ".mem") && !strings.HasSuffix(path, ".sst") {
			continue
		}
		start, end, ok := parseMapRange(string(line[:i]))
		if !ok {
			continue
		}
		_, _, errno := unix.Syscall(unix.SYS_MADVISE, start, end-start, unix.MADV_PAGEOUT)
		if errno == unix.EINVAL {
			return false
		}
	}
	return true
}

// parseMapRange parses the address range of a /proc/self/maps line
// ("7f12a000-7f12c000 rw-s ...").
func parseMapRange(line string) (start, end uintptr, ok bool) {
	fields := strings.Fields(line)
	if len(fields) < 1 {
		return 0, 0, false
	}
	lo, hi, found := strings.Cut(fields[0], "-")
	if !found {
		return 0, 0, false
	}
	s, err1 := strconv.ParseUint(lo, 16, 64)
	e, err2 := strconv.ParseUint(hi, 16, 64)
	if err1 != nil || err2 != nil || e <= s {
		return 0, 0, false
	}
	return uintptr(s), uintptr(e), true
}

// rssFileBytes is the process's resident file-backed and shared memory
// (the third field of /proc/self/statm: RssFile + RssShmem), or -1.
func rssFileBytes() int64 {
	b, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		return -1
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return -1
	}
	pages, err := strconv.ParseInt(f[2], 10, 64)
	if err != nil {
		return -1
	}
	return pages * int64(os.Getpagesize())
}
