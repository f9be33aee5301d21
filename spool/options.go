package spool

import (
	"fmt"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/dgraph-io/badger/v4"
	"github.com/dgraph-io/badger/v4/options"
	"github.com/prometheus/client_golang/prometheus"
)

// Options configures Open. The zero value of every field but Dir is valid.
type Options struct {
	// Dir is the Badger directory (state_dir/spool); created if missing.
	// Required.
	Dir string
	// Logger receives the store's and Badger's warnings and errors
	// (Badger's info and debug lines are dropped; its lines carry
	// subsystem=badger). The caller adds the component attribute.
	// Default: discard.
	Logger *slog.Logger
	// Now is the clock for recovery, admin actions and Commit defaults.
	// Default: time.Now.
	Now func() time.Time
	// MinFreeBytes is the free-space reserve in bytes: Commit fails with
	// ErrNoSpace when the file system holding Dir would have less than this
	// left after writing the body. Default 0: no check.
	MinFreeBytes int64
	// FreeSpace returns the bytes available to relayd on the file system
	// holding dir. Default: statfs(2).
	FreeSpace func(dir string) (uint64, error)
	// EncryptionKey, when set, encrypts the spool at rest with AES (Badger
	// encryption); it must be 16, 24 or 32 bytes and the same at every Open.
	// The caller keeps ownership; Open copies it. Default: no encryption.
	EncryptionKey []byte
	// Registerer, when set, gets the spool's metrics (metrics.go).
	// Default: none registered.
	Registerer prometheus.Registerer
	// Fsync, when set, replaces every fsync(2) and fdatasync(2) the store
	// makes of its files and directories (not Badger's own, which it makes
	// only when opening and closing): tests inject failures with it. It
	// may be called from several goroutines at once. Default: the system
	// calls.
	Fsync func(f *os.File) error
}

// Tuning for a mail queue rather than Badger's database defaults (which take
// about 600 MB): the goal (docs/performance.md) is 100,000 queued messages in under 150 MB RSS.
const (
	// memTableSize: 8 MB memtables hold ~15,000 envelopes. Memory scales
	// with it (each memtable is an arena of this size, and flushing one
	// builds a table of this size in memory). A transaction may use 15% of
	// it (1.2 MB): enough, since a body costs the transaction only a 12-byte
	// value pointer (valueThreshold) and envelopes are small.
	memTableSize = 8 << 20
	// numMemtables: the one being written and one being flushed; more only
	// buffer write bursts, at memTableSize each.
	numMemtables = 2
	// valueThreshold: values of 4 KB and more go to the value log. Envelopes
	// (a few hundred bytes, rewritten at every state change) stay in the
	// LSM where compaction drops old versions; bodies (written once, mostly
	// larger) go to the value log and never pass through compaction.
	valueThreshold = 4 << 10
	// valueLogFileSize: Badger rotates the value log after a write that
	// takes a file past this size, growing the file for that write if need
	// be, so a 64 MiB body needs no larger files. Smaller files keep value
	// log GC (which rewrites whole files) fine-grained and bound what Open
	// reads: Badger checks the whole last file at every Open.
	valueLogFileSize = 64 << 20
	// numCompactors: Badger's minimum; the LSM holds only envelopes.
	numCompactors = 2
	// blockCacheSize is needed only with encryption (Badger requires a block
	// cache when blocks must be decrypted); unencrypted, uncompressed tables
	// are read straight from their mmap.
	blockCacheSize = 8 << 20
	// indexCacheSize bounds the decrypted table indexes when encrypted.
	indexCacheSize = 8 << 20
	// flushEvery is the group sync interval for Update (non-durable writes).
	flushEvery = 50 * time.Millisecond
	// trimEvery: drop written value log pages from RSS after this many
	// bytes were committed (trim_linux.go).
	trimEvery = 8 << 20
	// trimAbove: also trim when RssFile (Badger's mapped pages that reads,
	// lookups and compactions brought in, plus relayd's own text) is above
	// this, checked every trimCheckEvery.
	trimAbove      = 24 << 20
	trimCheckEvery = 500 * time.Millisecond
)

// badgerOptions returns the Badger options for opts; see the constants.
func badgerOptions(opts Options, log *slog.Logger) badger.Options {
	bo := badger.DefaultOptions(opts.Dir).
		// Durability comes from the store's group commit (groupsync.go):
		// SyncWrites would fsync inside Badger's single write goroutine.
		WithSyncWrites(false).
		WithMemTableSize(memTableSize).
		WithNumMemtables(numMemtables).
		WithValueThreshold(valueThreshold).
		WithValueLogFileSize(valueLogFileSize).
		WithNumCompactors(numCompactors).
		// Snappy would save little on short envelopes (bodies in the
		// value log are never compressed) and costs CPU and a block cache.
		WithCompression(options.None).
		WithBlockCacheSize(0).
		// Badger's expvar metrics are process-global; relayd exports its own.
		WithMetricsEnabled(false).
		// Warnings and errors only (badgerLogger); not WithLoggingLevel,
		// which would replace the logger with Badger's stderr one.
		WithLogger(badgerLogger{log})
	if len(opts.EncryptionKey) > 0 {
		bo = bo.WithEncryptionKey(append([]byte(nil), opts.EncryptionKey...)).
			WithBlockCacheSize(blockCacheSize).
			WithIndexCacheSize(indexCacheSize)
	}
	return bo
}

func checkOptions(opts Options) error {
	if opts.Dir == "" {
		return fmt.Errorf("spool: open: no directory given")
	}
	switch len(opts.EncryptionKey) {
	case 0, 16, 24, 32:
	default:
		return fmt.Errorf("spool: open %s: encryption key must be 16, 24 or 32 bytes, not %d",
			opts.Dir, len(opts.EncryptionKey))
	}
	if opts.MinFreeBytes < 0 {
		return fmt.Errorf("spool: open %s: negative free-space reserve", opts.Dir)
	}
	return nil
}

// badgerLogger routes Badger's log lines to slog: errors and warnings only,
// since Badger logs routine compactions at info level.
type badgerLogger struct{ l *slog.Logger }

// Errorf implements badger.Logger.
func (b badgerLogger) Errorf(f string, a ...any) {
	b.l.Error(strings.TrimSpace(fmt.Sprintf(f, a...)), "subsystem", "badger")
}

// Warningf implements badger.Logger.
func (b badgerLogger) Warningf(f string, a ...any) {
	b.l.Warn(strings.TrimSpace(fmt.Sprintf(f, a...)), "subsystem", "badger")
}

// Infof implements badger.Logger.
func (badgerLogger) Infof(string, ...any) {}

// Debugf implements badger.Logger.
func (badgerLogger) Debugf(string, ...any) {}
