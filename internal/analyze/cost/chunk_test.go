package cost_test

import (
	"encoding/json"
	"path/filepath"
	"testing"
	"time"

	"github.com/servescope/servescope/internal/analyze/cost"
	"github.com/servescope/servescope/internal/testutil/script"
)

// TestChunkedQueries checks that cutting the evaluation grid into several
// range queries (as a 30-day report does, one per day) changes nothing:
// every script's reports are the same with one range query per window and
// with chunks of one point, of 7 minutes (not a multiple of any step) and
// of 25 minutes. Chunks of one point (a range query per point, the slowest
// case) are checked once per evaluation grid of a script (its window, step,
// split and cluster): lines that differ only in grouping or idle sharing
// read the same queries.
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
			// Lines of one grid ask the same queries of each chunk size:
			// the memo evaluates each once.
			memo := script.NewMemo(eng)
			// One calculator per chunk size, shared by the script's lines.
			chunks := []time.Duration{0, time.Nanosecond, 7 * time.Minute, 25 * time.Minute}
			calcs := make(map[time.Duration]*cost.Calculator, len(chunks))
			for _, chunk := range chunks {
				calcs[chunk] = newCalc(t, map[string]string{"ml-cq": "ml"})
				cost.SetChunk(calcs[chunk], chunk)
			}
			report := func(chunk time.Duration, req cost.Request) string {
				rep, err := calcs[chunk].Compute(t.Context(), memo, req)
				if err != nil {
					t.Fatalf("chunk %s: %v", chunk, err)
				}
				js, err := json.Marshal(rep)
				if err != nil {
					t.Fatal(err)
				}
				return string(js)
			}
			type gridKey struct {
				start, end  time.Time
				step, split time.Duration
				cluster     string
			}
			pointwise := map[gridKey]bool{}
			for _, c := range cmds {
				req := parseCmd(t, c)
				want := report(0, req)
				k := gridKey{req.Start, req.End, req.Step, req.Split, req.Cluster}
				for _, chunk := range chunks[1:] {
					if chunk == time.Nanosecond && pointwise[k] {
						continue
					}
					pointwise[k] = true
					if got := report(chunk, req); got != want {
						t.Errorf("%s with %s chunks:\n%s\nwant (one query):\n%s", c, chunk, got, want)
					}
				}
			}
		})
	}
}
