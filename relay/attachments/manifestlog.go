package attachments

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
)

// manifestLogName is the manifest log's file in the store's directory.
const manifestLogName = "manifests.log"

// manifestLog is the store's one file of manifests: every change of a
// message's manifest (Put, the commit mark, revoke, expiry) appends the
// whole manifest as one JSON line, and a line with "deleted" forgets the
// message; at load the last line of a message wins. Appending to one
// open file costs a write and a share of a group-committed fdatasync,
// where a file per manifest cost an inode, a rename and a directory entry
// per change. compact rewrites the log with the live manifests only.
type manifestLog struct {
	path string

	mu   sync.Mutex // serialises appends, the sync and compact
	f    *os.File
	size int64 // octets in the file
	base int64 // size after the last compaction
	// broken is told when compact renamed the new log in place but could
	// not sync the directory: which log a crash leaves is unknown, so the
	// Store fails from then on (groupsync.Group.Fail).
	broken func(error)
}

// readManifestLog returns the manifests of the log at path by message ID
// (none if it does not exist) and how many lines it held, reading it a
// line at a time. A torn last line (a crash while appending) is cut off,
// so appends start on a line of their own.
func readManifestLog(path string) (map[string]*manifest, int, error) {
	out := map[string]*manifest{}
	f, err := os.Open(path)
	if os.IsNotExist(err) {
		return out, 0, nil
	}
	if err != nil {
		return nil, 0, fmt.Errorf("cannot read the attachments manifest log %s: %w", path, err)
	}
	defer f.Close()
	r := bufio.NewReaderSize(f, 64<<10)
	lines, whole := 0, int64(0)
	for {
		line, err := r.ReadBytes('\n')
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, 0, fmt.Errorf("cannot read the attachments manifest log %s: %w", path, err)
		}
		whole += int64(len(line))
		var m manifest
		if json.Unmarshal(line, &m) != nil || m.MessageID == "" {
			continue
		}
		lines++
		if m.Deleted {
			delete(out, m.MessageID)
			continue
		}
		out[m.MessageID] = &m
	}
	if st, err := f.Stat(); err == nil && st.Size() > whole {
		if err := os.Truncate(path, whole); err != nil {
			return nil, 0, fmt.Errorf("cannot repair the attachments manifest log %s: %w", path, err)
		}
	}
	return out, lines, nil
}

// openManifestLog opens the log at path for appending, creating it.
func openManifestLog(path string) (*manifestLog, error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, fmt.Errorf("cannot open the attachments manifest log %s: %w", path, err)
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("cannot open the attachments manifest log %s: %w", path, err)
	}
	return &manifestLog{path: path, f: f, size: st.Size(), base: st.Size()}, nil
}

// appendLocked writes m as one line, not yet durably (the caller then
// waits for the store's sync round). The caller holds l.mu.
func (l *manifestLog) appendLocked(m *manifest) error {
	b, err := json.Marshal(m)
	if err != nil {
		return err
	}
	n, err := l.f.Write(append(b, '\n'))
	l.size += int64(n)
	if err != nil {
		return fmt.Errorf("cannot write the attachments manifest log %s: %w", l.path, err)
	}
	return nil
}

// append writes m as one line, not yet durably.
func (l *manifestLog) append(m *manifest) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.appendLocked(m)
}

// sync makes the appended lines durable.
func (l *manifestLog) sync() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return fdatasync(l.f)
}

// due reports whether the log has grown to twice its size after the last
// compaction (and past 1 MiB), so that compact is worth its rewrite.
func (l *manifestLog) due() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.size > 1<<20 && l.size > 2*l.base
}

// compact replaces the log by one line per manifest live returns, durably
// (a temporary file synced, renamed over the log, the directory synced).
// live runs with l.mu held, so no append slips between it and the switch.
func (l *manifestLog) compact(live func() []*manifest) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	tmp := l.path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_TRUNC|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return fmt.Errorf("cannot compact the attachments manifest log %s: %w", l.path, err)
	}
	old, oldSize := l.f, l.size
	l.f, l.size = f, 0
	for _, m := range live() {
		if err = l.appendLocked(m); err != nil {
			break
		}
	}
	if err == nil {
		err = fdatasync(f)
	}
	if err == nil {
		err = os.Rename(tmp, l.path)
	}
	if err != nil { // the old log is still in place: keep appending to it
		l.f, l.size = old, oldSize
		f.Close()
		os.Remove(tmp)
		return fmt.Errorf("cannot compact the attachments manifest log %s: %w", l.path, err)
	}
	old.Close()
	l.base = l.size
	if err := syncDir(filepath.Dir(l.path)); err != nil {
		err = fmt.Errorf("cannot compact the attachments manifest log %s: %w", l.path, err)
		if l.broken != nil {
			l.broken(err)
		}
		return err
	}
	return nil
}

// load reads the manifests (the manifest log, after those of a store
// written before it), opens the log for appending and compacts it when
// it holds more than twice the live lines or old manifests were moved in.
// An older relayd's files without a manifest (a crashed Put's) are
// removed.
func (s *Store) load() error {
	legacy, err := s.loadLegacy()
	if err != nil {
		return err
	}
	path := filepath.Join(s.opts.Dir, manifestLogName)
	logged, lines, err := readManifestLog(path)
	if err != nil {
		return err
	}
	for id, m := range logged {
		s.byMsg[id] = m
	}
	for _, m := range s.byMsg {
		for _, f := range m.Files {
			s.tokens[f.Token] = m.MessageID
		}
	}
	if s.mlog, err = openManifestLog(path); err != nil {
		return err
	}
	if legacy || lines > 2*len(logged)+1000 {
		if err := s.mlog.compact(s.live); err != nil {
			return err
		}
	}
	if legacy {
		if err := os.RemoveAll(s.msgs); err != nil {
			return fmt.Errorf("cannot remove the old attachments manifests %s: %w", s.msgs, err)
		}
	}
	fents, err := os.ReadDir(s.files) // an older relayd's files, one per attachment
	if err != nil && !os.IsNotExist(err) {
		return fmt.Errorf("cannot read the attachments directory %s: %w", s.files, err)
	}
	for _, e := range fents {
		if _, ok := s.tokens[e.Name()]; !ok { // a crashed Put's file: it has no manifest
			os.Remove(filepath.Join(s.files, e.Name()))
		}
	}
	return nil
}

// loadLegacy reads the manifests of a store written before the manifest
// log, one messages/<id>.json each, and reports whether there were any.
func (s *Store) loadLegacy() (bool, error) {
	ents, err := os.ReadDir(s.msgs)
	if os.IsNotExist(err) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("cannot read the attachments directory %s: %w", s.msgs, err)
	}
	for _, e := range ents {
		p := filepath.Join(s.msgs, e.Name())
		b, err := os.ReadFile(p)
		var m manifest
		if err == nil {
			err = json.Unmarshal(b, &m)
		}
		if strings.HasPrefix(e.Name(), "tmp-") {
			continue // a crashed rewrite's temporary file
		}
		if err != nil || m.MessageID == "" {
			s.log.Warn("ignoring an unreadable attachments manifest", "file", p, "err", err)
			continue
		}
		s.byMsg[m.MessageID] = &m
	}
	return true, nil
}

// live copies the manifests for compact.
func (s *Store) live() []*manifest {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]*manifest, 0, len(s.byMsg))
	for _, m := range s.byMsg {
		out = append(out, m.copy())
	}
	return out
}

// copy is a deep copy of m; the caller holds s.mu.
func (m *manifest) copy() *manifest {
	c := *m
	c.Files = make([]*file, len(m.Files))
	for i, f := range m.Files {
		cf := *f
		c.Files[i] = &cf
	}
	return &c
}
