// Command relayd-deb builds relayd's Debian package with nfpm, from the
// repository's root:
//
//	go run ./cmd/relayd-deb -out DIR
//
// It writes DIR/relayd_VERSION_ARCH.deb holding /usr/sbin/relayd,
// /usr/lib/relayd/sendmail (a link to it), the systemd unit, the conffile
// /etc/relayd/relayd.toml (root:relayd 0640), /var/lib/relayd, the man
// pages relayd(8) and relayd.toml(5) (built now by cmd/relayd-man from
// docs/) and /usr/share/doc/relayd/. Its maintainer scripts (debian/) create
// the relayd system user and start nothing where systemd is not running.
//
// VERSION comes from git: a release tag on the commit (v1.2.3 -> 1.2.3),
// else 0.0~gitYYYYMMDDhhmmss.COMMIT; the binary is built with the same
// version and commit, so `relayd version` names the package's version.
// It is packaging only, outside the daemon's data flow.
package main

import (
	"flag"
	"fmt"
	"os"
	"runtime"
)

func main() {
	o := options{}
	flag.StringVar(&o.Out, "out", ".", "directory to write relayd_VERSION_ARCH.deb into (created if missing)")
	flag.StringVar(&o.Src, "src", ".", "the relayd repository's root")
	flag.StringVar(&o.Arch, "arch", runtime.GOARCH, "Go architecture to build for: amd64, arm64 or 386")
	flag.StringVar(&o.Version, "version", "", "package version (default: derived from git)")
	flag.StringVar(&o.Maintainer, "maintainer", "relayd maintainers <relayd@example.org>", "the package's Maintainer field")
	flag.Parse()
	path, err := build(o)
	if err != nil {
		fmt.Fprintln(os.Stderr, "relayd-deb:", err)
		os.Exit(1)
	}
	fmt.Println(path)
}
