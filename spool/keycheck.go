package spool

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/dgraph-io/badger/v4"
)

// Answers of CheckEncryption: the key given does not open the spool.
var (
	// ErrNotEncrypted: a key was given, but the spool was created without
	// one (Badger cannot encrypt an existing spool).
	ErrNotEncrypted = errors.New("spool: the spool is not encrypted")
	// ErrEncrypted: no key was given, but the spool is encrypted.
	ErrEncrypted = errors.New("spool: the spool is encrypted")
	// ErrWrongKey: the spool is encrypted with another key.
	ErrWrongKey = errors.New("spool: the spool is encrypted with another key")
)

// CheckEncryption reports whether Open(Options{Dir: dir, EncryptionKey:
// key}) would accept key (nil: no encryption), without opening the spool:
// so check-config can tell, also while relayd runs and holds Badger's
// directory lock, that spool_key_file does not match the spool.
//
// It makes Badger's own check: Badger writes KEYREGISTRY when it creates a
// spool, starting with a sanity text encrypted with the key (or in clear
// without one), and refuses to open with "Encryption key mismatch" when the
// key given does not decrypt it. badger.OpenKeyRegistry in read-only mode
// reads that file and takes no lock. A dir without KEYREGISTRY (no spool
// yet) accepts any key. Other failures (permission denied) are returned as
// they are.
func CheckEncryption(dir string, key []byte) error {
	// Badger's own errors lose the cause (permission denied) in their text,
	// so readability is tested first.
	fh, err := os.Open(filepath.Join(dir, badger.KeyRegistryFileName))
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("spool: %w", err)
	}
	fh.Close()
	err = openKeyRegistry(dir, key)
	if !errors.Is(err, badger.ErrEncryptionKeyMismatch) {
		return err
	}
	if key == nil {
		return ErrEncrypted
	}
	if openKeyRegistry(dir, nil) == nil {
		return ErrNotEncrypted
	}
	return ErrWrongKey
}

func openKeyRegistry(dir string, key []byte) error {
	kr, err := badger.OpenKeyRegistry(badger.KeyRegistryOptions{Dir: dir, ReadOnly: true, EncryptionKey: key})
	if err != nil {
		if errors.Is(err, badger.ErrEncryptionKeyMismatch) {
			return badger.ErrEncryptionKeyMismatch
		}
		return fmt.Errorf("spool: read %s: %w", filepath.Join(dir, badger.KeyRegistryFileName), err)
	}
	return kr.Close()
}
