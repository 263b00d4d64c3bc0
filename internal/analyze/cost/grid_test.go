package cost

import (
	"slices"
	"testing"
	"time"
)

func TestGridChunks(t *testing.T) {
	t.Parallel()
	day := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		name  string
		g     grid
		chunk time.Duration
		want  [][2]int
	}{
		{"one query", grid{start: day, step: 30 * time.Minute, n: 96}, 0, [][2]int{{0, 96}}},
		{"days from midnight", grid{start: day, step: 30 * time.Minute, n: 96}, 24 * time.Hour, [][2]int{{0, 48}, {48, 96}}},
		// 23:00 and 23:30 on the first day, then the next day from
		// midnight to 23:30.
		{"days from 23:00", grid{start: day.Add(-time.Hour), step: 30 * time.Minute, n: 50}, 24 * time.Hour, [][2]int{{0, 2}, {2, 50}}},
		// Points at 22:50, 23:35, 00:20 and on: the second day starts at the third.
		{"step not dividing the day", grid{start: day.Add(-70 * time.Minute), step: 45 * time.Minute, n: 40}, 24 * time.Hour, [][2]int{{0, 2}, {2, 34}, {34, 40}}},
		// Shorter than a day across midnight: one query (query.Range.Chunks).
		{"two hours across midnight", grid{start: day.Add(-time.Hour), step: 30 * time.Minute, n: 5}, 24 * time.Hour, [][2]int{{0, 5}}},
		{"step longer than the chunk", grid{start: day, step: 2 * time.Hour, n: 3}, time.Hour, [][2]int{{0, 1}, {1, 2}, {2, 3}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got := tc.g.chunks(tc.chunk)
			if !slices.Equal(got, tc.want) {
				t.Errorf("chunks %v, want %v", got, tc.want)
			}
		})
	}
}
