package main

import (
	"runtime/debug"
	"slices"
	"strings"
	"time"

	"github.com/servescope/servescope/internal/present/api"
)

// Set at link time: `make image` sets version and revision; `make build`
// sets revision, branch, commitTime (RFC 3339) and modified ("true" for a
// tree with changes), which stand for the Go toolchain's VCS stamp where
// it has none (a git worktree, GOFLAGS=-buildvcs=false). Without them the
// toolchain's build info gives the version (see build).
var (
	version    = ""
	revision   = ""
	commitTime = ""
	modified   = ""
	branch     = ""
)

// versionString is the line of `servescope --version`.
func versionString() string {
	b := buildInfo()
	s := "servescope " + b.Version
	if b.Revision != "" {
		s += " (revision " + b.Revision
		if b.BuildDate != "" {
			s += ", " + b.BuildDate
		}
		s += ")"
	}
	return s + " " + b.GoVersion
}

func buildInfo() api.BuildInfo {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		bi = &debug.BuildInfo{}
	}
	// The link-time VCS values go first: the toolchain's, after them,
	// fill only what is still unset.
	linked := []debug.BuildSetting{{Key: "vcs.revision", Value: revision}, {Key: "vcs.time", Value: commitTime}, {Key: "vcs.modified", Value: modified}}
	bi.Settings = append(slices.DeleteFunc(linked, func(s debug.BuildSetting) bool { return s.Value == "" }), bi.Settings...)
	b := build(version, bi)
	b.Branch = branch
	return b
}

// build is the build's identity from the link-time version and the VCS
// settings (the first of each key wins): the version when set; otherwise the module version of a `go install …@version`, or, in a
// checkout (`make build`, `go build`), a pseudo-version from the VCS
// revision and commit time, "+dirty" when the tree had changes. Without
// either it is "0.0.0-unknown".
func build(version string, bi *debug.BuildInfo) api.BuildInfo {
	b := api.BuildInfo{Version: version, GoVersion: bi.GoVersion}
	var vcsTime time.Time
	dirty, seenDirty := false, false
	for _, s := range bi.Settings {
		switch {
		case s.Key == "vcs.revision" && b.Revision == "":
			b.Revision = s.Value
		case s.Key == "vcs.time" && vcsTime.IsZero():
			vcsTime, _ = time.Parse(time.RFC3339, s.Value) // a bad time leaves the date out
		case s.Key == "vcs.modified" && !seenDirty:
			dirty, seenDirty = s.Value == "true", true
		}
	}
	if b.Version == "" && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		b.Version = strings.TrimPrefix(bi.Main.Version, "v")
	}
	if !vcsTime.IsZero() {
		b.BuildDate = vcsTime.UTC().Format("20060102-15:04:05")
	}
	if b.Version == "" {
		b.Version = "0.0.0-unknown"
		if b.Revision != "" && !vcsTime.IsZero() {
			b.Version = "0.0.0-" + vcsTime.UTC().Format("20060102150405") + "-" + short(b.Revision)
		}
		if dirty {
			b.Version += "+dirty"
		}
	}
	return b
}

func short(rev string) string {
	if len(rev) > 12 {
		return rev[:12]
	}
	return rev
}
