package query

import (
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/prometheus/common/model"
)

func TestRangeSplit(t *testing.T) {
	t.Parallel()
	day := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	r := func(start time.Time, n int, step time.Duration) Range {
		return Range{Start: start, End: start.Add(time.Duration(n-1) * step), Step: step}
	}
	tests := []struct {
		name  string
		r     Range
		chunk time.Duration
		want  []Range
	}{
		{"no chunk", r(day, 96, 30*time.Minute), 0, []Range{r(day, 96, 30*time.Minute)}},
		{"days from midnight", r(day, 96, 30*time.Minute), DayChunk, []Range{r(day, 48, 30*time.Minute), r(day.Add(DayChunk), 48, 30*time.Minute)}},
		// 23:00 and 23:30 on the first day, then the next day from midnight.
		{"days from 23:00", r(day.Add(-time.Hour), 5, 30*time.Minute), DayChunk, []Range{r(day.Add(-time.Hour), 2, 30*time.Minute), r(day, 3, 30*time.Minute)}},
		// Points at 22:50, 23:35, 00:20: the second day starts at the third.
		{"step not dividing the day", r(day.Add(-70*time.Minute), 3, 45*time.Minute), DayChunk, []Range{r(day.Add(-70*time.Minute), 2, 45*time.Minute), r(day.Add(20*time.Minute), 1, 45*time.Minute)}},
		{"step longer than the chunk", r(day, 3, 2*time.Hour), time.Hour, []Range{r(day, 1, 2*time.Hour), r(day.Add(2*time.Hour), 1, 2*time.Hour), r(day.Add(4*time.Hour), 1, 2*time.Hour)}},
		{"one point", r(day, 1, time.Minute), DayChunk, []Range{r(day, 1, time.Minute)}},
		// An end between two points: the last point is the last at or before it.
		{"end between points", Range{Start: day.Add(-time.Minute), End: day.Add(90 * time.Second), Step: time.Minute}, DayChunk, []Range{r(day.Add(-time.Minute), 1, time.Minute), r(day, 2, time.Minute)}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got := tc.r.Split(tc.chunk)
			if !slices.EqualFunc(got, tc.want, func(a, b Range) bool {
				return a.Start.Equal(b.Start) && a.End.Equal(b.End) && a.Step == b.Step
			}) {
				t.Errorf("Split:\n got %v\nwant %v", got, tc.want)
			}
		})
	}
}

// TestQueryRangeSplit: the split query answers what one query answers,
// series by series and point by point, including series that exist in
// only some chunks and rates whose windows straddle a chunk's edge.
func TestQueryRangeSplit(t *testing.T) {
	e := newEngine(t, `
load 1m
  up{job="a"} 1x3000
  up{job="b"} stale _x999 1x2000
  gen_total{job="a"} 0+60x3000
  gone{job="c"} 2x500
`, 1e7)
	// Minute 0 is 1970-01-01 00:00 UTC: 3000 minutes cross two midnights.
	// Every series starts at minute 0 (b with a staleness marker, so it
	// still has no value before minute 1000): the load's one appender
	// takes its lower bound from the first sample it sees, in map order,
	// and a series starting at minute 1000 seen first put minute 0 out of
	// bounds.
	for _, q := range []string{`up`, `rate(gen_total[5m])`, `gone`, `sum(up)`, `rate(up[5m])`} {
		r := Range{Start: time.Unix(0, 0).Add(7 * time.Minute), End: time.Unix(0, 0).Add(2990 * time.Minute), Step: 6 * time.Minute}
		whole, err := e.QueryRange(t.Context(), q, r)
		if err != nil {
			t.Fatal(err)
		}
		split, err := QueryRangeSplit(t.Context(), e, q, r, DayChunk)
		if err != nil {
			t.Fatal(err)
		}
		if len(r.Split(DayChunk)) != 3 {
			t.Fatalf("%d chunks, want 3", len(r.Split(DayChunk)))
		}
		if !reflect.DeepEqual(whole.Value, split.Value) {
			t.Errorf("%s: split query\n%v\nwant\n%v", q, split.Value, whole.Value)
		}
		if !slices.Equal(whole.Infos, split.Infos) {
			t.Errorf("%s: infos %q, want %q", q, split.Infos, whole.Infos)
		}
		if m := split.Value.(model.Matrix); len(m) == 0 {
			t.Errorf("%s: no series", q)
		}
	}
}

// TestRangeChunks: a range shorter than a chunk is one query even across
// a chunk's edge (an hour ending at midnight); a longer one, or one past
// Prometheus's 11,000 points, is split as Split splits it.
func TestRangeChunks(t *testing.T) {
	t.Parallel()
	day := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		name  string
		r     Range
		parts int
	}{
		{"hour ending at midnight", Range{Start: day.Add(-time.Hour), End: day, Step: 15 * time.Second}, 1},
		{"hour within a day", Range{Start: day.Add(time.Hour), End: day.Add(2 * time.Hour), Step: time.Minute}, 1},
		{"23 hours across midnight", Range{Start: day.Add(-12 * time.Hour), End: day.Add(11 * time.Hour), Step: time.Minute}, 1},
		{"a whole day across midnight", Range{Start: day.Add(-12 * time.Hour), End: day.Add(12 * time.Hour), Step: time.Minute}, 2},
		{"a week", Range{Start: day, End: day.Add(7*DayChunk - time.Minute), Step: time.Minute}, 7},
		{"too many points for one query", Range{Start: day.Add(-12 * time.Hour), End: day.Add(11 * time.Hour), Step: time.Second}, 2},
		{"no chunk", Range{Start: day.Add(-time.Hour), End: day, Step: time.Minute}, 1},
	}
	for _, tc := range tests {
		got := tc.r.Chunks(DayChunk)
		if tc.name == "no chunk" {
			got = tc.r.Chunks(0)
		}
		if len(got) != tc.parts {
			t.Errorf("%s: %d parts %v, want %d", tc.name, len(got), got, tc.parts)
			continue
		}
		if len(got) > 1 && !slices.EqualFunc(got, tc.r.Split(DayChunk), func(a, b Range) bool {
			return a.Start.Equal(b.Start) && a.End.Equal(b.End) && a.Step == b.Step
		}) {
			t.Errorf("%s: %v, want Split's %v", tc.name, got, tc.r.Split(DayChunk))
		}
		if !got[0].Start.Equal(tc.r.Start) || !got[len(got)-1].End.Equal(tc.r.End) {
			t.Errorf("%s: %v does not cover %v", tc.name, got, tc.r)
		}
	}
}
