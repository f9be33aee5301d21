package main

import (
	"bufio"
	"bytes"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Linux /proc and file-system helpers. Everything here only reads.

// ioBytes is the block-layer I/O of a process (or a process tree) from
// /proc/PID/io: write_bytes counts bytes the process caused to be written to
// storage (page-cache pages dirtied by it, mmap'd writes included); a
// thread group's figure includes its exited threads and the reaped children
// (kernel wait_task_zombie adds them to the parent's counters). Journal
// (jbd2) writes of the file system are not charged to any process.
type ioBytes struct {
	Write, Cancelled int64
}

// readIO returns the I/O counters of pid.
func readIO(pid int) (ioBytes, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/io", pid))
	if err != nil {
		return ioBytes{}, err
	}
	var r ioBytes
	for _, line := range strings.Split(string(b), "\n") {
		k, v, ok := strings.Cut(line, ": ")
		if !ok {
			continue
		}
		n, _ := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
		switch k {
		case "write_bytes":
			r.Write = n
		case "cancelled_write_bytes":
			r.Cancelled = n
		}
	}
	return r, nil
}

// treeIO sums readIO over root and all its live descendants. Descendants
// that exited and were reaped are already in their parent's counters.
func treeIO(root int) (ioBytes, error) {
	var sum ioBytes
	pids := treePIDs(root)
	if len(pids) == 0 {
		return sum, fmt.Errorf("process %d not found", root)
	}
	for _, p := range pids {
		r, err := readIO(p)
		if err != nil {
			continue // exited meanwhile: counted in its parent from now on
		}
		sum.Write += r.Write
		sum.Cancelled += r.Cancelled
	}
	return sum, nil
}

// treePIDs returns root and its descendants (root first); empty if root
// does not exist.
func treePIDs(root int) []int {
	if _, err := os.Stat(fmt.Sprintf("/proc/%d", root)); err != nil {
		return nil
	}
	children := map[int][]int{}
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if pp, ok := parentPID(pid); ok {
			children[pp] = append(children[pp], pid)
		}
	}
	out := []int{root}
	for i := 0; i < len(out); i++ {
		out = append(out, children[out[i]]...)
	}
	return out
}

// parentPID reads the PPID field of /proc/PID/stat (after the command name,
// which may contain spaces and parentheses).
func parentPID(pid int) (int, bool) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, false
	}
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, false
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 2 {
		return 0, false
	}
	pp, err := strconv.Atoi(f[1])
	return pp, err == nil
}

// memStat is a process's memory from /proc/PID/status, in KiB: RSS, its
// peak (VmHWM) and its anonymous and file-backed parts (Badger's mmap'd
// value log and WAL pages count as RssFile: page cache the kernel can
// reclaim, but RSS all the same).
type memStat struct {
	RSS, HWM, Anon, File int64
}

// readMem returns pid's memStat.
func readMem(pid int) (memStat, error) {
	var m memStat
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return m, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		n, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
		switch k {
		case "VmRSS":
			m.RSS = n
		case "VmHWM":
			m.HWM = n
		case "RssAnon":
			m.Anon = n
		case "RssFile":
			m.File = n
		}
	}
	return m, sc.Err()
}

// sampleMem reads pid's memory every interval until the returned function
// is called and keeps in peak the largest RSS, anon and file seen, each on
// its own.
func sampleMem(pid int, interval time.Duration, peak *memStat) (stop func()) {
	done := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			if m, err := readMem(pid); err == nil {
				peak.RSS, peak.Anon, peak.File = max(peak.RSS, m.RSS), max(peak.Anon, m.Anon), max(peak.File, m.File)
			}
			select {
			case <-done:
				return
			case <-t.C:
			}
		}
	}()
	return func() {
		close(done)
		<-finished
	}
}

// String is "R MB (anon A, file F)".
func (m memStat) String() string {
	return fmt.Sprintf("%.1f MB (anon %.1f, file %.1f)", float64(m.RSS)/1024, float64(m.Anon)/1024, float64(m.File)/1024)
}

// diskUsage is du(1) of dir: allocated bytes (st_blocks) and apparent size.
func diskUsage(dir string) (alloc, apparent int64, err error) {
	err = filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil // a Badger file removed during the walk
		}
		info, err := d.Info()
		if err != nil {
			return nil
		}
		if st, ok := info.Sys().(*syscall.Stat_t); ok {
			alloc += st.Blocks * 512
		}
		if !d.IsDir() {
			apparent += info.Size()
		}
		return nil
	})
	return alloc, apparent, err
}

// tmpfsMagic is TMPFS_MAGIC of statfs(2).
const tmpfsMagic = 0x01021994

// checkRealDisk refuses a directory on tmpfs, where fsync costs nothing and
// a comparison of durable relays means nothing (bench/README "Pitfalls").
func checkRealDisk(dir string) error {
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		return fmt.Errorf("statfs %s: %w", dir, err)
	}
	if st.Type == tmpfsMagic {
		return fmt.Errorf("%s is on tmpfs: fsync would be free; use a directory on a real disk", dir)
	}
	return nil
}

// mkdirTemp is os.MkdirTemp with mode 0755: Postfix's unprivileged
// daemons and smtp-sink (as nobody) must traverse the directories below.
func mkdirTemp(parent, pattern string) (string, error) {
	dir, err := os.MkdirTemp(parent, pattern)
	if err != nil {
		return "", err
	}
	return dir, os.Chmod(dir, 0o755)
}
