package main

import "testing"

// TestVersionOf: the version from `prometheus --version`, else the
// binary's file name.
func TestVersionOf(t *testing.T) {
	for _, tc := range []struct{ out, bin, want string }{
		{"prometheus, version 2.42.0+ds (branch: debian/sid, revision: 2.42.0+ds-5+b6)\n", "/usr/bin/prometheus", "2.42.0+ds"},
		{"prometheus, version  (branch: , revision: unknown)\n  build user:\n", "/root/.cache/servescope/prometheus-v0.316.0", "prometheus-v0.316.0"},
		{"", "/opt/prom", "prom"},
	} {
		if got := versionOf(tc.out, tc.bin); got != tc.want {
			t.Errorf("versionOf(%q, %q) = %q, want %q", tc.out, tc.bin, got, tc.want)
		}
	}
}
