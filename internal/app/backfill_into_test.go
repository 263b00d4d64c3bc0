package app

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestBackfillInto writes older history next to a store that already has
// newer samples in its head, as make demo does: the history arrives as
// blocks, nothing half-written is left behind, and both spans read back.
func TestBackfillInto(t *testing.T) {
	t.Parallel()
	live := t.TempDir()
	end := time.Date(2026, 3, 2, 12, 0, 0, 0, time.UTC)
	sc := loadSimScenario(t, "idle")
	// Spans of a few scrapes: what is read is where each slice lands.
	const newerSpan, olderSpan, warmup = 2 * time.Minute, 4 * time.Minute, 2 * time.Minute
	// The newer slice, written straight into the live store's head.
	if _, err := Backfill(t.Context(), BackfillOptions{Scenario: sc, GPUs: 8, Seed: 1, Duration: newerSpan, End: end,
		StoragePath: live, EvalInterval: -1}); err != nil {
		t.Fatal(err)
	}
	// The older slice, ending a scrape before it, moved in as blocks.
	olderEnd := end.Add(-newerSpan - 15*time.Second)
	scratch := t.TempDir()
	if _, err := Backfill(t.Context(), BackfillOptions{Scenario: sc, GPUs: 8, Seed: 1, Duration: olderSpan, End: olderEnd,
		StoragePath: scratch, Into: live, Warmup: warmup, EvalInterval: -1}); err != nil {
		t.Fatal(err)
	}
	entries, err := os.ReadDir(live)
	if err != nil {
		t.Fatal(err)
	}
	blocks := 0
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), ".tmp") {
			t.Errorf("staging left behind: %s", e.Name())
		}
		if _, err := os.Stat(filepath.Join(live, e.Name(), "meta.json")); err == nil {
			blocks++
		}
	}
	if blocks == 0 {
		t.Fatalf("no block moved into %s: %v", live, entries)
	}
	// Opening the store loads the blocks and replays the head.
	older, n := seriesOf(t, live, "up", olderEnd.Add(-olderSpan).UnixMilli(), olderEnd.UnixMilli())
	newer, m := seriesOf(t, live, "up", end.Add(-newerSpan).UnixMilli(), end.UnixMilli())
	if len(older) == 0 || n == 0 || len(newer) == 0 || m == 0 {
		t.Errorf("up: %d series, %d samples in the older span; %d, %d in the newer", len(older), n, len(newer), m)
	}
	// The warm-up is simulated, not written.
	if _, k := seriesOf(t, live, "up", olderEnd.Add(-olderSpan-warmup).UnixMilli(), olderEnd.Add(-olderSpan-time.Second).UnixMilli()); k != 0 {
		t.Errorf("%d samples written during the warm-up", k)
	}
}
