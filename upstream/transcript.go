package upstream

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

// Debug transcripts (profile key debug_transcript, docs/relayd.toml.5.md).
//
// Every SMTP session of a profile with Target.Transcript set appends its
// dialogue to that file, one line per command, reply line or event:
//
//	2026-11-24T10:00:00.123Z [office365-17] * connected to smtp.office365.com:587 (52.97.1.2)
//	2026-11-24T10:00:00.131Z [office365-17] S: 220 mail.example.com ESMTP
//	2026-11-24T10:00:00.131Z [office365-17] C: EHLO relay.example.com
//	2026-11-24T10:00:00.140Z [office365-17] C: AUTH PLAIN <redacted>
//	2026-11-24T10:00:00.190Z [office365-17] C: <message body, 1234 octets>
//
// The time is UTC with milliseconds; the bracket is the connection (profile
// name and a number counting the Pool's connections), so concurrent
// sessions can be told apart; "C:" is what relayd sent, "S:" what the
// upstream answered, "*" an event (connect, TLS, close).
//
// What is never written: AUTH payloads (the initial response after "AUTH
// MECH", every line sent during the exchange: base64 user names, passwords,
// CRAM-MD5 digests, OAuth2 tokens) are "<redacted>". They are hidden where
// relayd sends them, never by searching other text for the secret: the
// server's replies are written as they came, so a password "x" cannot turn
// <nobody@example.test> into <nobody@e[redacted]ample.test>. The message
// is summarised as its size,
// since headers and bodies are the users' mail, not a connection problem.
// Control characters in replies are escaped as \xNN so a line stays a line.
//
// Concurrency: the Pool keeps one transcriptFile per path, shared by every
// profile that names it; each line is formatted first and written with one
// write(2) under the file's mutex, on an O_APPEND descriptor, so lines of
// concurrent sessions (and of a `relayd test` in another process) interleave
// but are never cut. The file is created with mode 0600 (it names senders,
// recipients and servers) and rotated by size: when a line would take it
// past the limit (10 MiB by default, Options.TranscriptMaxSize) it is
// renamed to PATH.1, replacing the previous one, and a new PATH begins.
// Once a second, the path is compared with the open file, so that a rotation
// by another process or by logrotate makes it reopen PATH.

// defaultTranscriptMaxSize is where a transcript file is rotated.
const defaultTranscriptMaxSize = 10 << 20

// transcriptRecheck is how often the path is compared with the open file.
const transcriptRecheck = time.Second

// transcriptFile is one debug_transcript file, shared by the sessions of
// every profile that names it. It is safe for concurrent use.
type transcriptFile struct {
	path string
	max  int64
	now  func() time.Time
	log  *slog.Logger

	mu      sync.Mutex
	f       *os.File
	size    int64     // octets in f, as far as this process knows
	checked time.Time // last comparison of path with f
	failing bool      // the last open or write failed (warned once)
	closed  bool      // Pool.Close: lines are dropped
}

// transcript is one connection's view of its transcript file.
type transcript struct {
	file *transcriptFile
	id   string // "profile-N"
}

// transcriptFor returns a new connection's transcript for prof, or nil when
// the profile has none or the Pool is closed.
func (p *Pool) transcriptFor(prof *Target) *transcript {
	if prof.Transcript == "" {
		return nil
	}
	path, err := filepath.Abs(prof.Transcript)
	if err != nil {
		path = filepath.Clean(prof.Transcript)
	}
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil
	}
	f := p.transcripts[path]
	if f == nil {
		f = &transcriptFile{path: path, max: p.transcriptMax, now: p.now, log: p.log}
		p.transcripts[path] = f
	}
	p.mu.Unlock()
	return &transcript{file: f, id: fmt.Sprintf("%s-%d", prof.Name, p.connSeq.Add(1))}
}

// line appends "TIME [id] prefix text" to the file.
func (t *transcript) line(prefix, text string) {
	if t == nil {
		return
	}
	var b strings.Builder
	b.Grow(len(text) + len(t.id) + 40)
	b.WriteString(t.file.now().UTC().Format("2006-01-02T15:04:05.000Z"))
	b.WriteString(" [")
	b.WriteString(t.id)
	b.WriteString("] ")
	b.WriteString(prefix)
	writeEscaped(&b, text)
	b.WriteByte('\n')
	t.file.write([]byte(b.String()))
}

// writeEscaped writes s with control characters as \xNN.
func writeEscaped(b *strings.Builder, s string) {
	for i := 0; i < len(s); i++ {
		if c := s[i]; (c < ' ' && c != '\t') || c == 0x7f {
			fmt.Fprintf(b, `\x%02x`, c)
		} else {
			b.WriteByte(c)
		}
	}
}

// write appends one whole line, rotating the file first when the line
// would take it past the limit. Failures are logged once, and lines are
// dropped until the file works again: a debug transcript never fails a
// delivery.
func (f *transcriptFile) write(line []byte) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		return
	}
	now := f.now()
	if f.f != nil && now.Sub(f.checked) >= transcriptRecheck {
		f.checked = now
		if !f.samePath() {
			f.f.Close()
			f.f = nil
		}
	}
	if f.f != nil && f.size > 0 && f.size+int64(len(line)) > f.max {
		f.rotate()
	}
	if f.f == nil {
		if err := f.open(); err != nil {
			f.fail("cannot open the debug transcript", err)
			return
		}
		f.checked = now
	}
	n, err := f.f.Write(line)
	f.size += int64(n)
	if err != nil {
		f.fail("cannot write the debug transcript", err)
		return
	}
	f.failing = false
}

// open opens (creating) the file for appending, with mode 0600.
func (f *transcriptFile) open() error {
	file, err := os.OpenFile(f.path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return err
	}
	fi, err := file.Stat()
	if err != nil {
		file.Close()
		return err
	}
	if fi.Mode().Perm() != 0o600 {
		file.Chmod(0o600) // an existing file may have been created more open
	}
	f.f, f.size = file, fi.Size()
	return nil
}

// samePath reports whether path still names the open file, and refreshes
// the size from it (another process may append to it too).
func (f *transcriptFile) samePath() bool {
	pi, err := os.Stat(f.path)
	if err != nil {
		return false
	}
	fi, err := f.f.Stat()
	if err != nil || !os.SameFile(pi, fi) {
		return false
	}
	f.size = fi.Size()
	return true
}

// rotate renames the file to PATH.1 (replacing it) and opens a new one
// with the same owner (or leaves that to the next write when it cannot).
// If the rename fails the file is emptied instead, so that it stays
// bounded.
func (f *transcriptFile) rotate() {
	old, _ := f.f.Stat()
	err := os.Rename(f.path, f.path+".1")
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		f.fail("cannot rotate the debug transcript, emptying it", err)
		if f.f.Truncate(0) == nil {
			f.size = 0
			return
		}
	}
	f.f.Close()
	f.f = nil
	if f.open() == nil && old != nil {
		sameOwner(f.f, old) // rotated by `relayd test` as root: the daemon must still write it
	}
}

// fail warns once per streak of failures.
func (f *transcriptFile) fail(msg string, err error) {
	if !f.failing {
		f.log.Warn(msg, "path", f.path, "err", err)
	}
	f.failing = true
}

// close closes the file; later lines are dropped.
func (f *transcriptFile) close() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.closed = true
	if f.f != nil {
		f.f.Close()
		f.f = nil
	}
}

// Client side: what goes into the transcript.

// note records an event ("connected", "TLS ...", "closed").
func (c *client) note(text string) { c.tr.line("* ", text) }

// logSent records command lines. During an AUTH exchange only "AUTH MECH"
// and a cancelling "*" are shown; every payload is "<redacted>".
func (c *client) logSent(lines []string) {
	for _, l := range lines {
		switch {
		case c.authing && strings.HasPrefix(strings.ToUpper(l), "AUTH "):
			if f := strings.Fields(l); len(f) > 2 {
				l = f[0] + " " + f[1] + " <redacted>"
			}
		case c.authing && l != "*":
			l = "<redacted>"
		}
		c.tr.line("C: ", l)
	}
}

// logReceived records one reply line as the server sent it.
func (c *client) logReceived(line string) { c.tr.line("S: ", line) }
