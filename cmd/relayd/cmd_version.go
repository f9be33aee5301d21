package main

import (
	"fmt"
	"runtime"
	"runtime/debug"
)

// version is the release version, set at build time with
// -ldflags "-X main.version=v1.2.3". Left at "devel", buildVersion uses the
// module version from the build info when there is one.
var version = "devel"

// buildVersion returns relayd's version, the Go version and the VCS commit
// ("unknown" when the binary was built without VCS stamping). serve uses it
// for relayd_build_info.
func buildVersion() (ver, goVersion, commit string) {
	ver, goVersion, commit = version, runtime.Version(), "unknown"
	if bi, ok := debug.ReadBuildInfo(); ok {
		if ver == "devel" && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
			ver = bi.Main.Version
		}
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" && s.Value != "" {
				commit = s.Value
			}
		}
	}
	return ver, goVersion, commit
}

// version is `relayd version`: "relayd VERSION (GOVERSION, commit COMMIT)".
func (c *cli) version(args []string) int {
	fs, _ := c.newFlags("version")
	if code, ok := parse(fs, args); !ok {
		return code
	}
	v, g, commit := buildVersion()
	fmt.Fprintf(c.stdout, "relayd %s (%s, commit %s)\n", v, g, commit)
	return 0
}
