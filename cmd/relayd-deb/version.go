package main

import (
	"fmt"
	"os/exec"
	"regexp"
	"strings"
	"time"
)

// source is what the package is built from: the checkout's commit and the
// Debian version derived from it.
type source struct {
	Commit  string    // full commit hash
	Time    time.Time // commit time
	Version string    // Debian version, also what `relayd version` prints
}

// semverTag matches a release tag, v1.2.3 or v1.2.3-rc1.
var semverTag = regexp.MustCompile(`^v(\d+\.\d+\.\d+)(?:-([0-9A-Za-z.]+))?$`)

// debVersion returns the package version of a checkout: a release tag on
// the commit gives its number (v1.2.3 -> 1.2.3, v1.2.3-rc1 -> 1.2.3~rc1,
// which sorts before 1.2.3); an untagged commit gives
// 0.0~gitYYYYMMDDhhmmss.SHORT from its commit time (UTC), which sorts by
// date before any release. Uncommitted changes add "+dirty".
func debVersion(tag string, commitTime time.Time, commit string, dirty bool) string {
	v := ""
	if m := semverTag.FindStringSubmatch(tag); m != nil {
		v = m[1]
		if m[2] != "" {
			v += "~" + m[2]
		}
	} else {
		v = fmt.Sprintf("0.0~git%s.%s", commitTime.UTC().Format("20060102150405"), commit[:min(len(commit), 12)])
	}
	if dirty {
		v += "+dirty"
	}
	return v
}

// gitSource asks git about the checkout in dir.
func gitSource(dir string) (source, error) {
	git := func(args ...string) (string, error) {
		cmd := exec.Command("git", args...)
		cmd.Dir = dir
		out, err := cmd.Output()
		return strings.TrimSpace(string(out)), err
	}
	info, err := git("log", "-1", "--format=%H %ct")
	if err != nil {
		return source{}, fmt.Errorf("cannot read the commit of %s with git (the package version comes from it; give -version to set one): %w", dir, err)
	}
	var commit string
	var ct int64
	if _, err := fmt.Sscan(info, &commit, &ct); err != nil {
		return source{}, fmt.Errorf("unexpected git log output %q: %w", info, err)
	}
	tag, _ := git("describe", "--tags", "--exact-match", "HEAD") // no tag: an error, and a pseudo-version
	status, err := git("status", "--porcelain", "--untracked-files=no")
	if err != nil {
		return source{}, fmt.Errorf("git status in %s: %w", dir, err)
	}
	t := time.Unix(ct, 0)
	return source{Commit: commit, Time: t, Version: debVersion(tag, t, commit, status != "")}, nil
}
