package config

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
)

// checkTranscripts warns about a debug_transcript file that relayd could
// not append to, or could not rotate (rename to PATH.1) and create again,
// so the admin learns it from check-config instead of from a transcript
// that stays empty (a failing transcript never fails a delivery, so serve
// only logs it). It checks as the user running it: check-config as root
// cannot see what the relayd user may not do.
func checkTranscripts(f *File, p *problems) {
	seen := map[string]bool{}
	for i := range f.Profiles {
		pr := &f.Profiles[i]
		path := pr.DebugTranscript
		if path == "" || seen[path] {
			continue
		}
		seen[path] = true
		if msg := transcriptProblem(path); msg != "" {
			p.warn(&pr.tableMeta, "debug_transcript", "cannot be written, so the SMTP transcript of this profile would be lost: %s", msg)
		}
	}
}

// transcriptProblem says why path cannot be appended to, created or
// rotated; "" when it can. It opens an existing file for appending
// without writing, and creates and removes a temporary file in the
// directory.
func transcriptProblem(path string) string {
	dir := filepath.Dir(path)
	st, err := os.Stat(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return "directory " + dir + " does not exist: create it writable for relayd (the systemd unit's LogsDirectory=relayd creates /var/log/relayd when relayd starts)"
	case err != nil:
		return "cannot use directory " + dir + ": " + unwrapPath(err).Error()
	case !st.IsDir():
		return dir + " is not a directory"
	}
	fh, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	switch {
	case err == nil:
		fh.Close()
	case !errors.Is(err, fs.ErrNotExist):
		return "cannot open " + path + " for appending: " + unwrapPath(err).Error()
	}
	tmp, err := os.CreateTemp(dir, ".relayd-check-*")
	if err != nil {
		return "cannot create files in " + dir + " (to create or rotate " + filepath.Base(path) + "): " + unwrapPath(err).Error()
	}
	tmp.Close()
	os.Remove(tmp.Name())
	return ""
}

// unwrapPath drops the Op and Path of a *fs.PathError: the message names
// the file itself.
func unwrapPath(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}
