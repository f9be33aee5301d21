package spool

import (
	"bufio"
	"bytes"
	"os"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// trimMappings keeps Badger's write-once mappings out of the process's RSS.
//
// Badger writes the value log and the memtable WALs through shared mmaps, so
// every body written stays resident in RSS (as RssFile) until the kernel
// reclaims it: 100,000 5 KB messages add 500 MB of RSS, while SPEC §11 wants
// them held in under 150 MB. The pages are only page cache and are read
// again at most once (at delivery), so trimMappings drops them from the
// process with madvise(MADV_DONTNEED) on the mappings of the *.vlog and
// *.mem files under dir. On a MAP_SHARED file mapping this only removes the
// page table entries: the data stays in the page cache and the file (dirty
// pages are still written back), and the next access faults it back in.
// The LSM tables (*.sst, the envelopes, read at every lookup) are left
// alone. Errors are ignored: trimming is an optimisation.
func trimMappings(dir string) {
	f, err := os.Open("/proc/self/maps")
	if err != nil {
		return
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
		if !strings.HasSuffix(path, ".vlog") && !strings.HasSuffix(path, ".mem") {
			continue
		}
		fields := strings.Fields(string(line[:i]))
		if len(fields) < 2 || len(fields[1]) != 4 || fields[1][3] != 's' { // shared mappings only
			continue
		}
		lo, hi, ok := strings.Cut(fields[0], "-")
		if !ok {
			continue
		}
		start, err1 := strconv.ParseUint(lo, 16, 64)
		end, err2 := strconv.ParseUint(hi, 16, 64)
		if err1 != nil || err2 != nil || end <= start {
			continue
		}
		unix.Syscall(unix.SYS_MADVISE, uintptr(start), uintptr(end-start), unix.MADV_DONTNEED)
	}
}
