package cost_test

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/servescope/servescope/internal/analyze/cost"
)

// TestCoveredSpan checks issue 6's "a window that reaches before the oldest
// data is reported over the span actually covered, and the report says
// which span", and that a window without data is an empty set, not an
// error. The script's samples run from 0m to 60m; the 5m lookback keeps
// the last one visible until 65m.
func TestCoveredSpan(t *testing.T) {
	t.Parallel()
	eng, _ := loadScript(t, filepath.Join("testdata", "attribution.test"))
	calc := newCalc(t, map[string]string{"ml-cq": "ml"})
	at := func(m int) time.Time { return time.Unix(0, 0).UTC().Add(time.Duration(m) * time.Minute) }
	tests := []struct {
		name                   string
		start, end             int // minutes
		coveredFrom, coveredTo int // minutes; -1: no covered span
		warning                string
		allocated              float64 // total GPU-hours
	}{
		{"inside the data", 0, 60, 0, 60, "", 4 + 20.0/60 + 2.0/7},
		{"reaching before the oldest data", -60, 60, 0, 60, "data covers only 1970-01-01T00:00:00Z to 1970-01-01T01:00:00Z of the window", 4 + 20.0/60 + 2.0/7},
		{"reaching past the newest data", 30, 90, 30, 65, "data covers only 1970-01-01T00:30:00Z to 1970-01-01T01:05:00Z of the window", (35*4 + 35*2.0/7) / 60},
		{"before any data", -120, -60, -1, -1, "no GPU data from 1969-12-31T22:00:00Z to 1969-12-31T23:00:00Z: nothing to attribute", 0},
		{"after all data", 120, 180, -1, -1, "no GPU data from 1970-01-01T02:00:00Z to 1970-01-01T03:00:00Z: nothing to attribute", 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			rep, err := calc.Compute(t.Context(), eng, cost.Request{Start: at(tc.start), End: at(tc.end), Step: time.Minute})
			if err != nil {
				t.Fatal(err)
			}
			set := rep.Sets[0]
			if !set.Start.Equal(at(tc.start)) || !set.End.Equal(at(tc.end)) {
				t.Errorf("window %s to %s, want the requested one", set.Start, set.End)
			}
			if tc.coveredFrom < 0 {
				if !set.CoveredStart.IsZero() || !set.CoveredEnd.IsZero() || set.Allocations == nil || len(set.Allocations) != 0 {
					t.Errorf("covered %s to %s with %d allocations, want nothing", set.CoveredStart, set.CoveredEnd, len(set.Allocations))
				}
				js, err := json.Marshal(set)
				if err != nil {
					t.Fatal(err)
				}
				if strings.Contains(string(js), "covered") || !strings.Contains(string(js), `"allocations":[]`) {
					t.Errorf("JSON %s: want no covered span and an empty list of allocations", js)
				}
			} else if !set.CoveredStart.Equal(at(tc.coveredFrom)) || !set.CoveredEnd.Equal(at(tc.coveredTo)) {
				t.Errorf("covered %s to %s, want %s to %s", set.CoveredStart, set.CoveredEnd, at(tc.coveredFrom), at(tc.coveredTo))
			}
			var warned bool
			for _, w := range set.Warnings {
				warned = warned || w == tc.warning
				if tc.warning == "" && (strings.HasPrefix(w, "data covers") || strings.HasPrefix(w, "no GPU data")) {
					t.Errorf("unexpected warning %q", w)
				}
			}
			if tc.warning != "" && !warned {
				t.Errorf("warnings %q, want %q", set.Warnings, tc.warning)
			}
			if !near(set.Totals.AllocatedGPUHours, tc.allocated) {
				t.Errorf("allocated %.6f GPU-hours, want %.6f", set.Totals.AllocatedGPUHours, tc.allocated)
			}
		})
	}
}

// TestPartialSteps checks windows that are not a whole number of steps, as
// the first and last day of a split window usually are: the last point
// counts for the part of a step left before the window's end, and a piece
// shorter than one step is still reported.
func TestPartialSteps(t *testing.T) {
	t.Parallel()
	eng, _ := loadScript(t, filepath.Join("testdata", "attribution.test"))
	calc := newCalc(t, map[string]string{"ml-cq": "ml"})
	at := func(m int) time.Time { return time.Unix(0, 0).UTC().Add(time.Duration(m) * time.Minute) }
	// GPUs allocated at minute m: pods r (2), o (1), u (1) and m (2/7 of a
	// card) all hour, and j (1) while Running, before 20m.
	gpus := func(m int) float64 {
		g := 4 + 2.0/7
		if m < 20 {
			g++
		}
		return g
	}
	type span struct{ from, to int }
	tests := []struct {
		name  string
		req   cost.Request
		want  []span
		hours []float64 // allocated per set
	}{
		// Points 0, 20 and 40; the last stands for 10 minutes.
		{"window of 2.5 steps", cost.Request{Start: at(0), End: at(50), Step: 20 * time.Minute},
			[]span{{0, 50}}, []float64{(20*gpus(0) + 20*gpus(20) + 10*gpus(40)) / 60}},
		// Pieces [0, 30), [30, 60) and [60, 70) (split aligned to whole
		// half hours): 1.5, 1.5 and 0.5 steps.
		{"split into pieces that are not whole steps", cost.Request{Start: at(0), End: at(70), Step: 20 * time.Minute, Split: 30 * time.Minute},
			[]span{{0, 30}, {30, 60}, {60, 70}},
			[]float64{(20*gpus(0) + 10*gpus(20)) / 60, (20*gpus(30) + 10*gpus(50)) / 60, 10 * gpus(60) / 60}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			rep, err := calc.Compute(t.Context(), eng, tc.req)
			if err != nil {
				t.Fatal(err)
			}
			if len(rep.Sets) != len(tc.want) {
				t.Fatalf("%d sets, want %d", len(rep.Sets), len(tc.want))
			}
			for i, set := range rep.Sets {
				if !set.CoveredStart.Equal(at(tc.want[i].from)) || !set.CoveredEnd.Equal(at(tc.want[i].to)) {
					t.Errorf("set %d: covered %s to %s, want %s to %s", i, set.CoveredStart, set.CoveredEnd, at(tc.want[i].from), at(tc.want[i].to))
				}
				if !near(set.Totals.AllocatedGPUHours, tc.hours[i]) {
					t.Errorf("set %d: allocated %.6f GPU-hours, want %.6f", i, set.Totals.AllocatedGPUHours, tc.hours[i])
				}
			}
		})
	}
}
