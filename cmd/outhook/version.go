package main

import (
	"runtime"
	"runtime/debug"
)

// version is the release, set when building: go build -ldflags "-X main.version=v1.2.3" (`make build` sets it
// from git describe). Empty: the module version of `go install ...@v1.2.3`, else "devel".
var version string

// versionLine is what `outhook --version` prints: the version, the commit it was built from (with -dirty for
// uncommitted changes) when the build recorded it, and the Go version.
func versionLine() string {
	v := version
	info, ok := debug.ReadBuildInfo()
	if v == "" && ok && info.Main.Version != "" && info.Main.Version != "(devel)" {
		v = info.Main.Version
	}
	if v == "" {
		v = "devel"
	}
	line := "outhook " + v
	if ok {
		var rev, dirty string
		for _, s := range info.Settings {
			switch {
			case s.Key == "vcs.revision":
				rev = s.Value[:min(12, len(s.Value))]
			case s.Key == "vcs.modified" && s.Value == "true":
				dirty = "-dirty"
			}
		}
		if rev != "" {
			line += " (commit " + rev + dirty + ")"
		}
	}
	return line + " " + runtime.Version()
}
