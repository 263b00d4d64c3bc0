package cli

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/servescope/servescope/internal/analyze/cost"
)

// TestWriteCostEmptySet: a window without data shows the requested window
// and the set's warning in the table and CSV, never a zero time.
func TestWriteCostEmptySet(t *testing.T) {
	t.Parallel()
	start := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	rep := &cost.Report{By: cost.ByTeam, Currency: "USD", Sets: []cost.Set{{Start: start, End: start.Add(24 * time.Hour),
		Warnings: []string{"no GPU data from 2026-03-01T00:00:00Z to 2026-03-02T00:00:00Z: nothing to attribute"}}}}
	for _, format := range []string{"table", "csv"} {
		var out bytes.Buffer
		if err := WriteCost(&out, rep, format); err != nil {
			t.Fatal(err)
		}
		s := out.String()
		if strings.Contains(s, "0001-01-01") || !strings.Contains(s, "2026-03-01T00:00:00Z/2026-03-02T00:00:00Z") {
			t.Errorf("%s: want the requested window, got\n%s", format, s)
		}
		if format == "table" && !strings.Contains(s, "warning: no GPU data") {
			t.Errorf("table: no warning in\n%s", s)
		}
	}
}
