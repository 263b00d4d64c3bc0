package cost_test

import (
	"encoding/json"
	"path/filepath"
	"testing"
	"time"

	"github.com/servescope/servescope/internal/analyze/cost"
)

// TestChunkedQueries checks that cutting the evaluation grid into several
// range queries (as a 30-day report does, one per day) changes nothing:
// every script's reports are the same with one range query per window and
// with chunks of one point, of 7 minutes (not a multiple of any step) and
// of 25 minutes.
func TestChunkedQueries(t *testing.T) {
	t.Parallel()
	files, err := filepath.Glob(filepath.Join("testdata", "*.test"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no scripts: %v", err)
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			t.Parallel()
			eng, cmds := loadScript(t, f)
			report := func(chunk time.Duration, req cost.Request) string {
				calc := newCalc(t, map[string]string{"ml-cq": "ml"})
				cost.SetChunk(calc, chunk)
				rep, err := calc.Compute(t.Context(), eng, req)
				if err != nil {
					t.Fatalf("chunk %s: %v", chunk, err)
				}
				js, err := json.Marshal(rep)
				if err != nil {
					t.Fatal(err)
				}
				return string(js)
			}
			for _, c := range cmds {
				req := parseCmd(t, c)
				want := report(0, req)
				for _, chunk := range []time.Duration{time.Nanosecond, 7 * time.Minute, 25 * time.Minute} {
					if got := report(chunk, req); got != want {
						t.Errorf("%s with %s chunks:\n%s\nwant (one query):\n%s", c, chunk, got, want)
					}
				}
			}
		})
	}
}
