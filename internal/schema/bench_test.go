package schema

import "testing"

// BenchmarkNew measures building the built-in catalog as at start-up:
// every query composed and checked with Prometheus's parser (build, which
// New calls once per process and options).
func BenchmarkNew(b *testing.B) {
	opts := Options{UnallocatedPod: ".*dcgm-exporter.*", TeamLabel: "team", ClusterLabel: DefaultClusterLabel}
	for b.Loop() {
		if _, err := build(opts); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkNewShared measures New once the process has built the
// catalog: every later caller shares it.
func BenchmarkNewShared(b *testing.B) {
	for b.Loop() {
		if _, err := New(Options{}); err != nil {
			b.Fatal(err)
		}
	}
}
