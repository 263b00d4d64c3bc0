package main

import (
	"runtime/debug"
	"testing"
)

// TestBuild derives a real version from the link-time values, the module
// version or the VCS stamp, in that order.
func TestBuild(t *testing.T) {
	t.Parallel()
	vcs := []debug.BuildSetting{{Key: "vcs.revision", Value: "17f8ff4dfee352927bdaad783613d268942be0cf"},
		{Key: "vcs.time", Value: "2026-12-03T10:06:04Z"}, {Key: "vcs.modified", Value: "false"}}
	dirty := append([]debug.BuildSetting{{Key: "vcs.modified", Value: "true"}}, vcs...)
	for _, tt := range []struct {
		name, version string
		bi            debug.BuildInfo
		want, rev     string
	}{
		{"ldflags", "0.1.0", debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "(devel)"}, Settings: vcs}, "0.1.0", "17f8ff4dfee352927bdaad783613d268942be0cf"},
		{"go install", "", debug.BuildInfo{Main: debug.Module{Version: "v0.2.0"}}, "0.2.0", ""},
		{"checkout", "", debug.BuildInfo{Main: debug.Module{Version: "(devel)"}, Settings: vcs}, "0.0.0-20261203100604-17f8ff4dfee3", "17f8ff4dfee352927bdaad783613d268942be0cf"},
		{"checkout with changes", "", debug.BuildInfo{Main: debug.Module{Version: "(devel)"}, Settings: dirty}, "0.0.0-20261203100604-17f8ff4dfee3+dirty", "17f8ff4dfee352927bdaad783613d268942be0cf"},
		{"nothing known", "", debug.BuildInfo{Main: debug.Module{Version: "(devel)"}}, "0.0.0-unknown", ""},
	} {
		b := build(tt.version, &tt.bi)
		if b.Version != tt.want || b.Revision != tt.rev || b.GoVersion != tt.bi.GoVersion {
			t.Errorf("%s: %+v, want version %s revision %s", tt.name, b, tt.want, tt.rev)
		}
		if len(tt.bi.Settings) > 0 && b.BuildDate != "20261203-10:06:04" {
			t.Errorf("%s: build date %q", tt.name, b.BuildDate)
		}
	}
}
