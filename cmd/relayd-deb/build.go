package main

import (
	"bytes"
	"compress/gzip"
	"embed"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/goreleaser/nfpm/v2"
	"github.com/goreleaser/nfpm/v2/deb"
	"github.com/goreleaser/nfpm/v2/files"
)

// debian holds the maintainer scripts, the shipped configuration and the
// copyright file.
//
//go:embed debian
var debian embed.FS

// options are relayd-deb's flags.
type options struct {
	Out, Src, Arch, Version, Maintainer string
}

// debArch maps Go's architecture names to Debian's.
var debArch = map[string]string{"amd64": "amd64", "arm64": "arm64", "386": "i386"}

// build makes the package and returns its path.
func build(o options) (string, error) {
	arch, ok := debArch[o.Arch]
	if !ok {
		return "", fmt.Errorf("architecture %q is not supported: use amd64, arm64 or 386", o.Arch)
	}
	src, err := gitSource(o.Src)
	if err != nil && o.Version == "" {
		return "", err
	}
	if o.Version != "" {
		src.Version = o.Version
	}
	if src.Commit == "" {
		src.Commit, src.Time = "unknown", time.Now()
	}
	if err := os.MkdirAll(o.Out, 0o755); err != nil {
		return "", fmt.Errorf("cannot create the output directory %s: %w", o.Out, err)
	}
	tmp, err := os.MkdirTemp("", "relayd-deb.")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(tmp)
	if err := stage(o, src, tmp); err != nil {
		return "", err
	}
	info := packageInfo(o, src, arch, tmp)
	path := filepath.Join(o.Out, fmt.Sprintf("relayd_%s_%s.deb", src.Version, arch))
	f, err := os.Create(path)
	if err != nil {
		return "", err
	}
	if err := deb.Default.Package(info, f); err != nil {
		f.Close()
		os.Remove(path)
		return "", fmt.Errorf("nfpm: %w", err)
	}
	return path, f.Close()
}

// stage writes everything the package holds into tmp: the binary, the man
// pages, the unit, the docs and the maintainer scripts.
func stage(o options, src source, tmp string) error {
	// -buildmode=pie: a static PIE, which lintian accepts (a plain static
	// binary is its error statically-linked-binary) and which ASLR moves.
	ldflags := fmt.Sprintf("-s -w -X main.version=%s -X main.commit=%s", src.Version, src.Commit)
	if err := goRun(o.Src, []string{"CGO_ENABLED=0", "GOOS=linux", "GOARCH=" + o.Arch},
		"build", "-trimpath", "-buildvcs=false", "-buildmode=pie", "-ldflags", ldflags, "-o", filepath.Join(tmp, "relayd"), "./cmd/relayd"); err != nil {
		return fmt.Errorf("building relayd: %w", err)
	}
	man := filepath.Join(tmp, "man")
	if err := goRun(o.Src, nil, "run", "./cmd/relayd-man", "-out", man); err != nil {
		return fmt.Errorf("building the man pages with cmd/relayd-man: %w", err)
	}
	for _, page := range []string{"relayd.8", "relayd.toml.5"} {
		if err := gzipFile(filepath.Join(man, page), filepath.Join(tmp, page+".gz")); err != nil {
			return err
		}
	}
	unit, err := os.ReadFile(filepath.Join(o.Src, "systemd", "relayd.service"))
	if err != nil {
		return fmt.Errorf("cannot read the systemd unit: %w", err)
	}
	pkgUnit, err := debianUnit(string(unit))
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(tmp, "relayd.service"), []byte(pkgUnit), 0o644); err != nil {
		return err
	}
	readme, err := os.ReadFile(filepath.Join(o.Src, "README.md"))
	if err != nil {
		return fmt.Errorf("cannot read README.md: %w", err)
	}
	if err := os.WriteFile(filepath.Join(tmp, "README.md"), readme, 0o644); err != nil {
		return err
	}
	if err := gzipBytes(changelog(src, o.Maintainer), filepath.Join(tmp, "changelog.gz")); err != nil {
		return err
	}
	for _, name := range []string{"postinst", "prerm", "postrm", "relayd.toml", "copyright", "lintian-overrides"} {
		b, err := debian.ReadFile("debian/" + name)
		if err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(tmp, name), b, 0o644); err != nil {
			return err
		}
	}
	return nil
}

// goRun runs the go command in dir with extra environment.
func goRun(dir string, env []string, args ...string) error {
	cmd := exec.Command("go", args...)
	cmd.Dir, cmd.Stdout, cmd.Stderr = dir, os.Stderr, os.Stderr
	cmd.Env = append(os.Environ(), env...)
	return cmd.Run()
}

// debianUnit is the repository's unit as the package installs it: relayd in
// /usr/sbin, and the manual-install comment replaced.
func debianUnit(unit string) (string, error) {
	const from, to = "ExecStart=/usr/local/bin/relayd ", "ExecStart=/usr/sbin/relayd "
	if !strings.Contains(unit, from) {
		return "", fmt.Errorf("systemd/relayd.service has no %q line to point at /usr/sbin/relayd", strings.TrimSpace(from))
	}
	unit = strings.Replace(unit, from, to, 1)
	head, rest, ok := strings.Cut(unit, "[Unit]")
	if !ok {
		return "", fmt.Errorf("systemd/relayd.service has no [Unit] section")
	}
	first, _, _ := strings.Cut(head, "\n")
	return first + "\n# Installed by the relayd Debian package; change it with `systemctl edit relayd`.\n[Unit]" + rest, nil
}

// changelog is the Debian changelog of this build, dated by its commit. The
// package is native (built by the project itself, version without a Debian
// revision), so Debian names it changelog.gz, not changelog.Debian.gz.
func changelog(src source, maintainer string) []byte {
	return fmt.Appendf(nil, "relayd (%s) unstable; urgency=medium\n\n  * Built from commit %s.\n\n -- %s  %s\n",
		src.Version, src.Commit, maintainer, src.Time.UTC().Format("Mon, 02 Jan 2006 15:04:05 -0700"))
}

// gzipFile and gzipBytes compress at level 9 without name or time in the
// header (gzip -9n), as Debian wants man pages and changelogs.
func gzipFile(from, to string) error {
	b, err := os.ReadFile(from)
	if err != nil {
		return err
	}
	return gzipBytes(b, to)
}

func gzipBytes(b []byte, to string) error {
	var buf bytes.Buffer
	zw, err := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	if err != nil {
		return err
	}
	if _, err := zw.Write(b); err != nil {
		return err
	}
	if err := zw.Close(); err != nil {
		return err
	}
	return os.WriteFile(to, buf.Bytes(), 0o644)
}

// packageInfo is the nfpm description of the package; tmp holds the
// staged files.
func packageInfo(o options, src source, arch, tmp string) *nfpm.Info {
	in := func(name string) string { return filepath.Join(tmp, name) }
	file := func(name, dst string, mode os.FileMode) *files.Content {
		return &files.Content{Source: in(name), Destination: dst,
			FileInfo: &files.ContentFileInfo{Owner: "root", Group: "root", Mode: mode}}
	}
	conf := file("relayd.toml", "/etc/relayd/relayd.toml", 0o640)
	conf.Type = files.TypeConfig
	contents := files.Contents{
		file("relayd", "/usr/sbin/relayd", 0o755),
		{Source: "../../sbin/relayd", Destination: "/usr/lib/relayd/sendmail", Type: files.TypeSymlink},
		file("relayd.service", "/lib/systemd/system/relayd.service", 0o644),
		conf,
		{Destination: "/etc/relayd", Type: files.TypeDir, FileInfo: &files.ContentFileInfo{Owner: "root", Group: "root", Mode: 0o750}},
		{Destination: "/var/lib/relayd", Type: files.TypeDir, FileInfo: &files.ContentFileInfo{Owner: "root", Group: "root", Mode: 0o700}},
		file("relayd.8.gz", "/usr/share/man/man8/relayd.8.gz", 0o644),
		file("relayd.toml.5.gz", "/usr/share/man/man5/relayd.toml.5.gz", 0o644),
		file("README.md", "/usr/share/doc/relayd/README.md", 0o644),
		file("copyright", "/usr/share/doc/relayd/copyright", 0o644),
		file("changelog.gz", "/usr/share/doc/relayd/changelog.gz", 0o644),
		file("lintian-overrides", "/usr/share/lintian/overrides/relayd", 0o644),
	}
	return nfpm.WithDefaults(&nfpm.Info{
		MTime: src.Time,
		Name:  "relayd", Arch: arch, Platform: "linux", Version: src.Version, VersionSchema: "none",
		Section: "mail", Priority: "optional", Maintainer: o.Maintainer,
		Description: "local SMTP relay and submission proxy\n" +
			"relayd accepts mail from applications on this machine or network and\n" +
			"relays it through configured upstream servers (Office 365, Gmail, a\n" +
			"company server) or directly to the recipients' MX hosts, with a\n" +
			"durable spool, retries, DKIM signing, an admin API and metrics.",
		Overridables: nfpm.Overridables{
			Depends:  []string{"adduser"},
			Contents: contents,
			Scripts:  nfpm.Scripts{PostInstall: in("postinst"), PreRemove: in("prerm"), PostRemove: in("postrm")},
		},
	})
}
