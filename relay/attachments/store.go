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

// Store keeps the stored attachments under Dir: files/<token> holds the
// decoded content, manifests.log the manifests of the messages (see
// manifestLog; stores written before it kept messages/<id>.json, which
// Open moves into the log). Its methods are safe for concurrent use.
type Store struct {
	opts     Options
	log      *slog.Logger
	now      func() time.Time
	files    string
	filesDir *os.File // files, open for syncRound
	msgs     string   // the manifests of stores written before the manifest log
	mlog     *manifestLog
	metrics  *metrics
	synced   *groupsync.Group // makes Put's and persist's writes durable (group commit)

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
}

type file struct {
	Token   string `json:"token"`
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
	for _, d := range []string{opts.Dir, s.files} {
		if err := mkdirSync(d); err != nil {
			return nil, fmt.Errorf("cannot create the attachments directory %s: %w", d, err)
		}
	}
	if err := s.load(); err != nil {
		return nil, err
	}
	fd, err := os.Open(s.files)
	if err != nil {
		return nil, fmt.Errorf("cannot open the attachments directory %s: %w", s.files, err)
	}
	s.filesDir = fd
	s.synced = groupsync.New(s.syncRound)
	s.mlog.broken = s.synced.Fail
	s.metrics = newMetrics(opts.Registerer)
	return s, nil
}

// syncRound is one group-commit round: the names of the files written
// since the last round (their content is Put's syncFiles' business) and
// the manifest log's new lines become durable, the two syncs at the same
// time (each waits for the disk's cache flush).
func (s *Store) syncRound() error {
	logged := make(chan error, 1)
	go func() { logged <- s.mlog.sync() }()
	derr := s.filesDir.Sync()
	lerr := <-logged
	if derr != nil {
		return fmt.Errorf("cannot sync the attachments directory %s: %w", s.files, derr)
	}
	if lerr != nil {
		return fmt.Errorf("cannot sync the attachments manifest log %s: %w", s.mlog.path, lerr)
	}
	return nil
}

// newToken returns 160 random bits in lower-case base32 (32 characters).
func newToken() string {
	b := make([]byte, 20)
	rand.Read(b)
	return strings.ToLower(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(b))
}

// Put stores the decoded content of parts of msg (the message as it is
// committed) for message id, durably: the files are written and the
// manifest appended to the manifest log; then, at the same time, the
// files' content is synced and one round shared with concurrent Puts
// makes the files' names and the log line durable (syncRound). Both end
// before it returns, so the caller may commit the message and answer 250
// (the same rule as the spool's: a stored file is durable before the 250). It returns the links by Part.Index. If the caller then fails to
// commit, it calls Discard. A crash before Put returns leaves files and
// maybe a manifest of a message the spool never committed: load removes
// files without a manifest, GC the manifest and its files.
func (s *Store) Put(id string, msg []byte, parts []Part) (map[int]Link, error) {
	now := s.now()
	m := &manifest{MessageID: id, Created: now, Expires: now.Add(s.opts.Retention)}
	var written []*os.File
	defer func() {
		for _, fh := range written {
			fh.Close()
		}
	}()
	fail := func(err error) (map[int]Link, error) {
		s.removeAll(m)
		return nil, err
	}
	for _, p := range parts {
		f := &file{Token: newToken(), Part: p.Index, Name: p.FileName, Type: p.ContentType()}
		if f.Name == "" {
			f.Name = "attachment"
		}
		m.Files = append(m.Files, f)
		fh, n, sum, err := s.writeFile(f.Token, p.Content(msg))
		if err != nil {
			return fail(err)
		}
		written = append(written, fh)
		f.Size, f.SHA256 = n, sum
	}
	// Known before its line is appended: a compaction (GC) that runs
	// between the append and the sync rewrites the log from s.byMsg.
	c := m.copy()
	s.mu.Lock()
	s.byMsg[id] = m
	for _, f := range m.Files {
		s.tokens[f.Token] = id
	}
	s.mu.Unlock()
	synced := make(chan error, 1)
	go func() { synced <- s.syncFiles(written) }()
	err := s.mlog.append(c)
	if err == nil {
		err = s.synced.Wait()
	}
	if ferr := <-synced; err == nil {
		err = ferr
	}
	if err != nil {
		s.mu.Lock()
		s.drop(m)
		s.mu.Unlock()
		return fail(err)
	}
	return s.links(m), nil
}

// writeFile writes r to files/<token>, not yet durably, and returns the
// file, open for syncFiles. The token is new, so no one reads the file
// before Put returns.
func (s *Store) writeFile(token string, r io.Reader) (*os.File, int64, string, error) {
	name := filepath.Join(s.files, token)
	fh, err := os.OpenFile(name, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		return nil, 0, "", fmt.Errorf("cannot store an attachment in %s: %w", s.files, err)
	}
	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(fh, h), r)
	if err != nil { // a broken encoding: keep what decoded, like a mail reader
		s.log.Warn("attachment encoding broken; storing what decodes", "err", err)
	}
	return fh, n, hex.EncodeToString(h.Sum(nil)), nil
}

// syncFiles makes the content of Put's files durable. A failure is
// sticky, as a failed round is (internal/groupsync): the pages may be lost.
func (s *Store) syncFiles(fhs []*os.File) error {
	for _, fh := range fhs {
		if err := fdatasync(fh); err != nil {
			err = fmt.Errorf("cannot sync an attachment in %s: %w", s.files, err)
			s.synced.Fail(err)
			return err
		}
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
// committed: GC will not ask about it again.
func (s *Store) Links(id string) map[int]Link {
	s.mu.Lock()
	m := s.byMsg[id]
	committed := m != nil && m.Committed
	if m != nil {
		m.Committed = true
	}
	s.mu.Unlock()
	if m == nil {
		return nil
	}
	if !committed {
		s.persist(m)
	}
	return s.links(m)
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

// removeAll removes m's files and appends the line that forgets m. The
// line is not synced: if a crash loses it, the manifest comes back and
// GC removes it again (its message is not in the spool, or its
// retention is over).
func (s *Store) removeAll(m *manifest) {
	for _, f := range m.Files {
		os.Remove(filepath.Join(s.files, f.Token))
	}
	if err := s.mlog.append(&manifest{MessageID: m.MessageID, Deleted: true}); err != nil {
		s.log.Warn("attachments manifest log not updated; GC will remove the message's manifest again",
			"msg_id", m.MessageID, "err", err)
	}
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
	f.Revoked = true
	info := s.info(m, f, s.now())
	s.mu.Unlock()
	s.persist(m)
	os.Remove(filepath.Join(s.files, token))
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
