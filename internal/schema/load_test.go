package schema

import (
	"math"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql"
	"github.com/prometheus/prometheus/storage"
	"github.com/prometheus/prometheus/util/teststorage"

	"github.com/servescope/servescope/internal/schema/schematest"
	"github.com/servescope/servescope/internal/testutil/expo"
)

// samplesDir returns the directory of the real captures shared by the team:
// ../shared/samples next to the repository root (/work/shared/samples).
func samplesDir(t *testing.T) string {
	t.Helper()
	dir, err := filepath.Abs(".")
	if err != nil {
		t.Fatalf("working directory: %v", err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return filepath.Join(dir, "..", "shared", "samples")
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return filepath.Join("..", "..", "..", "shared", "samples")
		}
		dir = parent
	}
}

// Scrape times of the two snapshots loaded per exposition: counters (and
// histogram buckets) read 0 at t0 and the file's value at t1, so a 5m rate at
// t1 is exactly value/300; gauges read the file's value at both.
const (
	t0ms = int64(1_700_000_000_000)
	t1ms = t0ms + 60_000
)

const rateWindowSeconds = 300

// loadExposition appends exposition b to app as two scrapes (t0, t1) of a
// target scraped with honor_labels.
func loadExposition(t *testing.T, app storage.AppenderV2, b []byte, target labels.Labels) {
	t.Helper()
	for _, s := range expo.Scrape(t, b, target, true) {
		ls := s.Labels
		first := s.Value
		if s.Cumulative() {
			first = 0
		}
		for _, p := range []struct {
			ts int64
			v  float64
		}{{t0ms, first}, {t1ms, s.Value}} {
			if _, err := app.Append(0, ls, 0, p.ts, p.v, nil, nil, storage.AppendV2Options{}); err != nil {
				t.Fatalf("append %s: %v", ls, err)
			}
		}
	}
}

// evalFunc evaluates an instant query at t1, failing t on error.
type evalFunc func(t *testing.T, q string) promql.Vector

// newStore returns an empty test TSDB, and a function evaluating an instant
// query on it at t1.
func newStore(t *testing.T) (*teststorage.TestStorage, evalFunc) {
	t.Helper()
	st := teststorage.New(t)
	eng := schematest.NewEngine()
	return st, func(t *testing.T, q string) promql.Vector {
		return schematest.Instant(t, eng, st, q, time.UnixMilli(t1ms))
	}
}

// loadFiles loads each file (path relative to dir) with its target labels.
func loadFiles(t *testing.T, st *teststorage.TestStorage, dir string, files map[string]labels.Labels) {
	t.Helper()
	app := st.AppenderV2(t.Context())
	names := make([]string, 0, len(files))
	for f := range files {
		names = append(names, f)
	}
	slices.Sort(names)
	for _, f := range names {
		b, err := os.ReadFile(filepath.Join(dir, f))
		if err != nil {
			t.Fatalf("read %s: %v", f, err)
		}
		loadExposition(t, app, b, files[f])
	}
	if err := app.Commit(); err != nil {
		t.Fatalf("commit: %v", err)
	}
}

// want is one expected canonical value. Match selects series by label
// (empty value: label absent); Count, if set, is the number of matching
// series expected instead of a value; Absent expects no matching series.
type want struct {
	Signal   string
	Quantile float64
	Check    bool // evaluate the signal's range check instead of its query
	Match    map[string]string
	Value    float64
	Count    int
	Absent   bool
}

func approx(a, b float64) bool {
	if math.IsNaN(a) || math.IsNaN(b) {
		return math.IsNaN(a) && math.IsNaN(b)
	}
	return math.Abs(a-b) <= 1e-9*math.Max(1, math.Abs(b))
}

// checkWants evaluates each expectation against the catalog's queries.
func checkWants(t *testing.T, cat *Catalog, eval evalFunc, wants []want) {
	t.Helper()
	for _, w := range wants {
		var (
			q   string
			err error
		)
		switch {
		case w.Check:
			q, err = cat.RangeCheck(w.Signal)
		case w.Quantile != 0:
			q, err = cat.Quantile(w.Signal, w.Quantile)
		default:
			q, err = cat.Query(w.Signal)
		}
		if err != nil {
			t.Fatalf("%s: %v", w.Signal, err)
		}
		got := schematest.Select(eval(t, q), w.Match)
		switch {
		case w.Absent:
			if len(got) != 0 {
				t.Errorf("%s%v: want no series, got %v", w.Signal, w.Match, got)
			}
		case w.Count > 0:
			if len(got) != w.Count {
				t.Errorf("%s%v: want %d series, got %d: %v", w.Signal, w.Match, w.Count, len(got), got)
			}
		case len(got) != 1:
			t.Errorf("%s q=%v %v: want 1 series, got %d: %v", w.Signal, w.Quantile, w.Match, len(got), got)
		case !approx(got[0].F, w.Value):
			t.Errorf("%s q=%v %v: got %v, want %v", w.Signal, w.Quantile, w.Match, got[0].F, w.Value)
		}
	}
}
