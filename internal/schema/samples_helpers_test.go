package schema

import (
	"os"
	"testing"

	"github.com/prometheus/prometheus/model/labels"
)

// sampleCase is one capture in ../shared/samples and what the catalog
// must read off it (values read off the file by hand).
type sampleCase struct {
	file  string
	wants []want
}

// checkSamples is the preamble and loop every sample test shares: it skips
// when the shared samples are absent, then loads each case's capture into a
// store of its own, as a scrape of a target at instance would, in a
// parallel subtest, and checks its wants against the catalog.
func checkSamples(t *testing.T, instance string, tests []sampleCase) {
	t.Helper()
	dir := samplesDir(t)
	if _, err := os.Stat(dir); err != nil {
		t.Skipf("shared samples not available at %s (%v); they live outside the repository", dir, err)
	}
	cat, err := New(Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range tests {
		t.Run(tc.file, func(t *testing.T) {
			t.Parallel()
			st, eval := newStore(t)
			loadFiles(t, st, dir, map[string]labels.Labels{tc.file: labels.FromStrings("instance", instance, "job", "sample")})
			checkWants(t, cat, eval, tc.wants)
		})
	}
}

// labelMap makes a label map of pairs: labelMap("model_name", "m", "pod", "p").
func labelMap(kv ...string) map[string]string {
	out := map[string]string{}
	for i := 0; i+1 < len(kv); i += 2 {
		out[kv[i]] = kv[i+1]
	}
	return out
}
