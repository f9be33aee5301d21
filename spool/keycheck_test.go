package spool

import (
	"bytes"
	"errors"
	"testing"
)

// TestCheckEncryption: with the spool open (Badger's directory lock held,
// as while relayd runs), CheckEncryption tells every key mismatch that
// would make Open fail with "Encryption key mismatch".
func TestCheckEncryption(t *testing.T) {
	key := bytes.Repeat([]byte("k"), 32)
	other := bytes.Repeat([]byte("o"), 32)
	plainDir, encDir, emptyDir := t.TempDir(), t.TempDir(), t.TempDir()
	for _, o := range []Options{{Dir: plainDir}, {Dir: encDir, EncryptionKey: key}} {
		s, err := Open(o)
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close() // held open: the check must not need the lock
	}
	for _, tc := range []struct {
		name string
		dir  string
		key  []byte
		want error
	}{
		{"plain, no key", plainDir, nil, nil},
		{"plain, key added", plainDir, key, ErrNotEncrypted},
		{"encrypted, its key", encDir, key, nil},
		{"encrypted, key removed", encDir, nil, ErrEncrypted},
		{"encrypted, other key", encDir, other, ErrWrongKey},
		{"no spool yet", emptyDir, key, nil},
	} {
		if err := CheckEncryption(tc.dir, tc.key); !errors.Is(err, tc.want) || (tc.want == nil && err != nil) {
			t.Errorf("%s: %v, want %v", tc.name, err, tc.want)
		}
	}
}
