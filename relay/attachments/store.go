package attachments

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base32"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/relayd/relayd/internal/groupsync"
)

// ErrNotFound: no stored attachment has this token.
var ErrNotFound = errors.New("attachments: unknown token")

// Options configure a Store. Dir and BaseURL are required.
type Options struct {
	Dir        string                // [attachments] dir; created if missing
	BaseURL    string                // [attachments] base_url, links start with it
	Retention  time.Duration         // from acceptance; 0 = 30 days
	Now        func() time.Time      // nil = time.Now
	Logger     *slog.Logger          // nil = discard
	Registerer prometheus.Registerer // nil = no metrics registered
	// Grace is how long stored files may wait for their message's spool
	// commit before GC asks whether the message exists; 0 = 1 hour.
	Grace time.Duration
}

// Store keeps the stored attachments under Dir: segments/ holds the
// decoded content (see segments), manifests.log the manifests of the
// messages (see manifestLog). Stores written by an older relayd kept a
// file per attachment, files/<token>, which are still served, and
// messages/<id>.json, which Open moves into the log. Its methods are safe
// for concurrent use.
type Store struct {
	opts    Options
	log     *slog.Logger
	now     func() time.Time
	files   string // the files of an older relayd, one per attachment
	msgs    string // the manifests of an older relayd
	segs    *segments
	mlog    *manifestLog
	metrics *metrics
	synced  *groupsync.Group // makes Put's and persist's writes durable (group commit)

	opened time.Time // when Open ran, by Options.Now

	mu     sync.Mutex
	byMsg  map[string]*manifest
	tokens map[string]string // token -> message ID
}

// manifest is what is stored about one message's attachments.
type manifest struct {
	MessageID string    `json:"message_id"`
	Created   time.Time `json:"created"`
	Expires   time.Time `json:"expires"`
	Committed bool      `json:"committed"` // the message was seen in the spool
	Removed   bool      `json:"removed"`   // files removed at expiry; the manifest answers 410
	Files     []*file   `json:"files"`
	Deleted   bool      `json:"deleted,omitempty"` // a manifest log line that forgets the message

	staged *Staged // the Stage that wrote it (this process's), for Links to wait for
}

type file struct {
	Token string `json:"token"`
	// Seg and Off place the content: segment Seg at offset Off. Seg 0 is
	// an older relayd's file, files/<Token>.
	Seg     uint32 `json:"seg,omitempty"`
	Off     int64  `json:"off,omitempty"`
	Part    int    `json:"part"` // Part.Index in the message as committed
	Name    string `json:"name"`
	Type    string `json:"type"`
	Size    int64  `json:"size"`
	SHA256  string `json:"sha256"`
	Revoked bool   `json:"revoked"`
}

// Info describes one stored attachment (the admin API's item).
type Info struct {
	Token     string    `json:"token"`
	MessageID string    `json:"message_id"`
	File      string    `json:"file"`
	Type      string    `json:"type"`
	Size      int64     `json:"size"`
	SHA256    string    `json:"sha256"`
	Created   time.Time `json:"created"`
	Expires   time.Time `json:"expires"`
	State     string    `json:"state"` // active | revoked | expired
	URL       string    `json:"url"`
}

// Open opens (creating) the store in opts.Dir and loads its manifests.
func Open(opts Options) (*Store, error) {
	if opts.Dir == "" || opts.BaseURL == "" {
		return nil, errors.New("attachments: Options.Dir and Options.BaseURL are required")
	}
	if opts.Retention <= 0 {
		opts.Retention = 30 * 24 * time.Hour
	}
	if opts.Grace <= 0 {
		opts.Grace = time.Hour
	}
	s := &Store{opts: opts, log: opts.Logger, now: opts.Now, files: filepath.Join(opts.Dir, "files"),
		msgs: filepath.Join(opts.Dir, "messages"), byMsg: map[string]*manifest{}, tokens: map[string]string{}}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.now == nil {
		s.now = time.Now
	}
	if err := mkdirSync(opts.Dir); err != nil {
		return nil, fmt.Errorf("cannot create the attachments directory %s: %w", opts.Dir, err)
	}
	if err := s.load(); err != nil {
		return nil, err
	}
	segs, err := openSegments(filepath.Join(opts.Dir, segmentsDirName), s.liveSegments())
	if err != nil {
		s.mlog.f.Close()
		return nil, err
	}
	s.segs = segs
	s.repunch()
	s.opened = s.now()
	s.synced = groupsync.New(s.syncRound)
	s.mlog.broken = s.synced.Fail
	s.metrics = newMetrics(opts.Registerer)
	return s, nil
}

// syncRound is one group-commit round: the content written to the
// segments since the last round and the manifest log's new lines become
// durable, the two syncs at the same time (each waits for the disk's
// cache flush).
func (s *Store) syncRound() error {
	logged := make(chan error, 1)
	go func() { logged <- s.mlog.sync() }()
	serr := s.segs.sync()
	lerr := <-logged
	if serr != nil {
		return serr
	}
	if lerr != nil {
		return fmt.Errorf("cannot sync the attachments manifest log %s: %w", s.mlog.path, lerr)
	}
	return nil
}

// liveSegments counts the stored files in each segment that are not yet
// removed (load's manifests).
func (s *Store) liveSegments() map[uint32]int {
	live := map[uint32]int{}
	for _, m := range s.byMsg {
		for _, f := range m.Files {
			if f.Seg > 0 && !m.Removed && !f.Revoked {
				live[f.Seg]++
			}
		}
	}
	return live
}

// repunch frees again the blocks of the removed files in live segments: a
// crash may have lost a hole punched before it.
func (s *Store) repunch() {
	s.segs.mu.Lock()
	defer s.segs.mu.Unlock()
	for _, m := range s.byMsg {
		for _, f := range m.Files {
			if seg := s.segs.byNum[f.Seg]; seg != nil && (m.Removed || f.Revoked) {
				punch(seg.f, f.Off, f.Size)
			}
		}
	}
}

// newToken returns 160 random bits in lower-case base32 (32 characters).
func newToken() string {
	b := make([]byte, 20)
	rand.Read(b)
	return strings.ToLower(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(b))
}

// Put stores the decoded content of parts of msg (the message as it is
// committed) for message id, durably, and returns the links by
// Part.Index: Stage, then Staged.Wait.
func (s *Store) Put(id string, msg []byte, parts []Part) (map[int]Link, error) {
	st, err := s.Stage(id, msg, parts)
	if err != nil {
		return nil, err
	}
	return st.Wait()
}

// Staged is a Stage whose content and manifest are written but maybe not
// yet durable.
type Staged struct {
	s    *Store
	m    *manifest
	err  error
	done chan struct{} // closed when the round ended; err is set before
}

// Stage writes the decoded content of parts of msg (the message as it is
// committed) for message id to the current segment and appends the
// manifest to the manifest log, not yet durably: Staged.Wait waits for
// the round, shared with concurrent Puts, that makes both durable
// (syncRound). The caller starts Wait and its spool commit at the same
// time, and answers 250 once both have returned without error (the same
// rule as the spool's: a stored file is durable before the 250). If the
// commit fails, it calls Discard; Links waits for Wait's round. A crash
// before the round ends leaves content in a segment and maybe a
// manifest of a message the spool never committed: GC removes the
// manifest and its files, Open the segments no manifest refers to.
func (s *Store) Stage(id string, msg []byte, parts []Part) (*Staged, error) {
	if err := s.Err(); err != nil { // no commit for a message whose files cannot be made durable
		return nil, err
	}
	now := s.now()
	m := &manifest{MessageID: id, Created: now, Expires: now.Add(s.opts.Retention)}
	for _, p := range parts {
		f := &file{Token: newToken(), Part: p.Index, Name: p.FileName, Type: p.ContentType()}
		if f.Name == "" {
			f.Name = "attachment"
		}
		if err := s.writeFile(f, p, msg); err != nil {
			s.removeAll(m)
			return nil, err
		}
		m.Files = append(m.Files, f)
	}
	st := &Staged{s: s, m: m, done: make(chan struct{})}
	m.staged = st
	// Known before its line is appended: a compaction (GC) that runs
	// between the append and the sync rewrites the log from s.byMsg.
	c := m.copy()
	s.mu.Lock()
	s.byMsg[id] = m
	for _, f := range m.Files {
		s.tokens[f.Token] = id
	}
	s.mu.Unlock()
	if err := s.mlog.append(c); err != nil {
		st.end(err)
		return nil, err
	}
	return st, nil
}

// OpenedAt is when the store was opened. A message accepted since then
// has all its links or none by design (its acceptance failed otherwise);
// only one accepted before may have lost them to a crash.
func (s *Store) OpenedAt() time.Time { return s.opened }

// Err is the store's failure: after a failed sync round the durability
// of what it wrote is unknown, and every Put fails until relayd restarts
// (internal/groupsync). nil while the store works.
func (s *Store) Err() error { return s.synced.Err() }

// Wait returns once the staged content and manifest are durable, with
// the links by Part.Index, or with the error that made them fail; then
// the store has removed them. Only one caller may Wait.
func (st *Staged) Wait() (map[int]Link, error) {
	err := st.s.synced.Wait()
	st.end(err)
	if err != nil {
		return nil, err
	}
	return st.s.links(st.m), nil
}

// end records the round's outcome for Links; a failed Stage is removed.
func (st *Staged) end(err error) {
	s := st.s
	if err != nil {
		s.mu.Lock()
		s.drop(st.m)
		s.mu.Unlock()
		s.removeAll(st.m)
	}
	st.err = err
	close(st.done)
}

// writeFile writes part p's decoded content into a segment, not yet
// durably, and fills in f's place, size and checksum. The space reserved
// is the part's encoded size, which no transfer encoding's decoding
// exceeds; the reservation's unwritten tail is a hole, not disk space.
// The token is new, so no one reads the content before Put returns.
func (s *Store) writeFile(f *file, p Part, msg []byte) error {
	seg, off, err := s.segs.reserve(int64(p.End - p.BodyStart))
	if err != nil {
		return err
	}
	f.Seg, f.Off = seg.num, off
	h := sha256.New()
	n, err := s.segs.write(seg, off, int64(p.End-p.BodyStart), p.Content(msg), h)
	f.Size, f.SHA256 = n, hex.EncodeToString(h.Sum(nil))
	var pe *os.PathError
	switch {
	case errors.As(err, &pe) || errors.Is(err, errOverReservation):
		s.segs.release(seg.num, off, n)
		return fmt.Errorf("cannot store an attachment in %s: %w", s.segs.dir, err)
	case err != nil: // a broken encoding: keep what decoded, like a mail reader
		s.log.Warn("attachment encoding broken; storing what decodes", "err", err)
	}
	return nil
}

// links returns m's links by part index (the caller holds no lock; m's
// link fields never change after Put).
func (s *Store) links(m *manifest) map[int]Link {
	out := make(map[int]Link, len(m.Files))
	for _, f := range m.Files {
		out[f.Part] = Link{Name: f.Name, Size: f.Size, URL: URL(s.opts.BaseURL, f.Token, f.Name), Expires: m.Expires}
	}
	return out
}

// Links returns the links stored for message id by part index (nil when
// none), for the rewrite at delivery. A message seen at delivery is
// committed: GC will not ask about it again. The files of a message
// stored before the last start and never delivered are checked first:
// if they are not intact, they are removed and Links returns none (the
// caller stores them again from the spool's copy).
//
// A message whose Stage has not ended yet (its spool commit and the
// attachments' round run at the same time) is waited for; if the round
// failed, Links returns the error: the message's acceptance failed, and
// the accepting session is withdrawing it from the spool.
func (s *Store) Links(id string) (map[int]Link, error) {
	s.mu.Lock()
	m := s.byMsg[id]
	var st *Staged
	if m != nil {
		st = m.staged
	}
	s.mu.Unlock()
	if st != nil {
		<-st.done
		if st.err != nil {
			return nil, fmt.Errorf("the attachments of message %s could not be stored: %w", id, st.err)
		}
	}
	s.mu.Lock()
	m = s.byMsg[id]
	var unsure *manifest // loaded at Open, never delivered: its files are checked first
	if m != nil && !m.Committed && m.staged == nil {
		unsure = m.copy()
	}
	s.mu.Unlock()
	if unsure != nil && !s.intact(unsure) {
		s.mu.Lock()
		mine := s.byMsg[id] == m
		if mine {
			s.drop(m)
		}
		s.mu.Unlock()
		if mine {
			s.removeAll(m)
			s.log.Warn("stored attachments of a message not intact (a crash during their sync); they will be stored again",
				"msg_id", id)
		}
		return nil, nil
	}
	s.mu.Lock()
	m = s.byMsg[id]
	committed := m != nil && m.Committed
	if m != nil {
		m.Committed = true
	}
	s.mu.Unlock()
	if m == nil {
		// No links, or none any more: a failing store may have dropped
		// them (a Stage whose round failed), so nothing is sent while it
		// fails.
		return nil, s.Err()
	}
	if !committed {
		s.persist(m)
	}
	return s.links(m), nil
}

// intact reports whether m's files hold what their checksums say. The
// manifest of a message accepted just before a power failure may be
// durable while its content is not: the spool commit and the store's
// round run at the same time, and only the spool's had ended.
func (s *Store) intact(m *manifest) bool {
	for _, f := range m.Files {
		if f.Revoked || m.Removed {
			continue
		}
		fh, err := s.open(f)
		if err != nil {
			return false
		}
		h := sha256.New()
		_, err = io.Copy(h, io.NewSectionReader(fh, f.Off, f.Size))
		fh.Close()
		if err != nil || hex.EncodeToString(h.Sum(nil)) != f.SHA256 {
			return false
		}
	}
	return true
}

// Discard removes what Put stored for message id (its commit failed).
func (s *Store) Discard(id string) {
	s.mu.Lock()
	m := s.byMsg[id]
	s.drop(m)
	s.mu.Unlock()
	if m != nil {
		s.removeAll(m)
	}
}

// drop forgets m; the caller holds s.mu.
func (s *Store) drop(m *manifest) {
	if m == nil {
		return
	}
	delete(s.byMsg, m.MessageID)
	for _, f := range m.Files {
		delete(s.tokens, f.Token)
	}
}

// removeAll removes m's files (those not removed before) and appends the
// line that forgets m. The line is not synced: if a crash loses it, the
// manifest comes back and GC removes it again (its message is not in the
// spool, or its retention is over). The caller has dropped m from the
// maps, so no one else changes it.
func (s *Store) removeAll(m *manifest) {
	if !m.Removed {
		for _, f := range m.Files {
			if !f.Revoked {
				s.removeFile(f)
			}
		}
	}
	if err := s.mlog.append(&manifest{MessageID: m.MessageID, Deleted: true}); err != nil {
		s.log.Warn("attachments manifest log not updated; GC will remove the message's manifest again",
			"msg_id", m.MessageID, "err", err)
	}
}

// removeFile removes f's content: its range of its segment, or an older
// relayd's file. Each stored file is removed once: at revoke, at expiry
// (the manifest is then Removed) or with its manifest.
func (s *Store) removeFile(f *file) {
	if f.Seg == 0 {
		os.Remove(filepath.Join(s.files, f.Token))
		return
	}
	s.segs.release(f.Seg, f.Off, f.Size)
}

// persist appends m's current state to the manifest log durably. The
// state is copied under the log's lock, so lines are in the order of the
// changes and the last one wins; the sync is shared with concurrent Puts
// and persists.
func (s *Store) persist(m *manifest) {
	s.mlog.mu.Lock()
	s.mu.Lock()
	c := m.copy()
	s.mu.Unlock()
	err := s.mlog.appendLocked(c)
	s.mlog.mu.Unlock()
	if err == nil {
		err = s.synced.Wait()
	}
	if err != nil {
		s.log.Error("attachments manifest not updated", "msg_id", m.MessageID, "err", err)
	}
}

// List returns the stored attachments, of message id only when id is
// not "", oldest first.
func (s *Store) List(id string) []Info {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	var out []Info
	for _, m := range s.byMsg {
		if id != "" && m.MessageID != id {
			continue
		}
		for _, f := range m.Files {
			out = append(out, s.info(m, f, now))
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if !out[i].Created.Equal(out[j].Created) {
			return out[i].Created.Before(out[j].Created)
		}
		return out[i].Token < out[j].Token
	})
	return out
}

func (s *Store) info(m *manifest, f *file, now time.Time) Info {
	st := "active"
	switch {
	case f.Revoked:
		st = "revoked"
	case m.Removed || !now.Before(m.Expires):
		st = "expired"
	}
	return Info{Token: f.Token, MessageID: m.MessageID, File: f.Name, Type: f.Type, Size: f.Size, SHA256: f.SHA256,
		Created: m.Created, Expires: m.Expires, State: st, URL: URL(s.opts.BaseURL, f.Token, f.Name)}
}

// Revoke makes token's link answer 410 from now on and removes its file.
func (s *Store) Revoke(token string) (Info, error) {
	s.mu.Lock()
	m := s.byMsg[s.tokens[token]]
	var f *file
	if m != nil {
		for _, x := range m.Files {
			if x.Token == token {
				f = x
			}
		}
	}
	if f == nil {
		s.mu.Unlock()
		return Info{}, ErrNotFound
	}
	remove := !f.Revoked && !m.Removed
	f.Revoked = true
	info := s.info(m, f, s.now())
	s.mu.Unlock()
	s.persist(m)
	if remove {
		s.removeFile(f)
	}
	s.log.Info("attachment link revoked", "msg_id", m.MessageID, "file", f.Name)
	return info, nil
}

// lookup finds token: its manifest and file, copied.
func (s *Store) lookup(token string) (manifest, file, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	m := s.byMsg[s.tokens[token]]
	if m == nil {
		return manifest{}, file{}, false
	}
	for _, f := range m.Files {
		if f.Token == token {
			return *m, *f, true
		}
	}
	return manifest{}, file{}, false
}

// Dir is the store's directory.
func (s *Store) Dir() string { return s.opts.Dir }
