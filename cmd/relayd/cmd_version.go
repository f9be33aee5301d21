package main

import (
	"fmt"
	"runtime"
	"runtime/debug"
)

// version and commit may be set at build time, as cmd/relayd-deb does:
//
//	go build -ldflags "-X main.version=1.2.3 -X main.commit=0123abc..." ./cmd/relayd
//
// Left empty, buildVersion takes both from the build info that go build
// stamps from the git checkout (-buildvcs): the module version (a tag such
// as v1.2.3, or a pseudo-version v0.0.0-DATE-COMMIT) and vcs.revision.
var (
	version = ""
	commit  = ""
)

// buildInfo is what `relayd version`, the "relayd started" log line and
// relayd_build_info tell about the binary.
type buildInfo struct {
	Version   string // module or release version; "devel" when unknown
	GoVersion string // the Go toolchain, e.g. go1.26.8
	Commit    string // the VCS commit; "unknown" when the binary was built without it
	Modified  bool   // built from a checkout with uncommitted changes
}

// buildVersion returns the running binary's buildInfo.
func buildVersion() buildInfo {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		bi = nil
	}
	return versionOf(bi, version, commit)
}

// versionOf combines the build info (nil when the binary has none) with the
// values set by -ldflags, which win.
func versionOf(bi *debug.BuildInfo, ldVersion, ldCommit string) buildInfo {
	b := buildInfo{Version: "devel", GoVersion: runtime.Version(), Commit: "unknown"}
	if bi != nil {
		if bi.GoVersion != "" {
			b.GoVersion = bi.GoVersion
		}
		if v := bi.Main.Version; v != "" && v != "(devel)" {
			b.Version = v
		}
		for _, s := range bi.Settings {
			switch {
			case s.Key == "vcs.revision" && s.Value != "":
				b.Commit = s.Value
			case s.Key == "vcs.modified" && s.Value == "true":
				b.Modified = true
			}
		}
	}
	if ldVersion != "" {
		b.Version = ldVersion
	}
	if ldCommit != "" {
		b.Commit = ldCommit
	}
	return b
}

// String is "VERSION (GOVERSION, commit COMMIT)", with ", modified" when
// the checkout had uncommitted changes.
func (b buildInfo) String() string {
	mod := ""
	if b.Modified {
		mod = ", modified"
	}
	return fmt.Sprintf("%s (%s, commit %s%s)", b.Version, b.GoVersion, b.Commit, mod)
}

// version is `relayd version`: "relayd VERSION (GOVERSION, commit COMMIT)".
func (c *cli) version(args []string) int {
	fs, _ := c.newFlags("version")
	if code, ok := parse(fs, args); !ok {
		return code
	}
	fmt.Fprintf(c.stdout, "relayd %s\n", buildVersion())
	return 0
}
