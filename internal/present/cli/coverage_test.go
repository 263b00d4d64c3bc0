package cli

import (
	"bytes"
	"testing"
	"time"
)

// TestWriteCoverageWarning: no data, data short at either end, and data
// over the whole window within a step of slack.
func TestWriteCoverageWarning(t *testing.T) {
	t.Parallel()
	at := time.Date(2026, 3, 10, 12, 0, 0, 0, time.UTC)
	day := 24 * time.Hour
	for _, tc := range []struct {
		name   string
		window time.Duration
		c      Coverage
		want   string
	}{
		{"no data", day, Coverage{}, "warning: no data in the 24h0m0s window\n"},
		{"short start", day, Coverage{From: at.Add(-6 * time.Hour), To: at, OK: true},
			"warning: data covers only 2026-03-10T06:00:00Z to 2026-03-10T12:00:00Z (6h0m0s) of the 24h0m0s window; the figures are over that span\n"},
		{"short end", 2 * time.Hour, Coverage{From: at.Add(-2 * time.Hour), To: at.Add(-time.Hour), OK: true},
			"warning: data covers only 2026-03-10T10:00:00Z to 2026-03-10T11:00:00Z (1h0m0s) of the 2h0m0s window; the figures are over that span\n"},
		{"whole within slack", day, Coverage{From: at.Add(-day + 6*time.Minute), To: at.Add(-time.Minute), OK: true}, ""},
	} {
		var buf bytes.Buffer
		WriteCoverageWarning(&buf, at, tc.window, tc.c)
		if buf.String() != tc.want {
			t.Errorf("%s: got %q, want %q", tc.name, buf.String(), tc.want)
		}
	}
}
