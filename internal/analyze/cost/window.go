package cost

import (
	"time"

	"github.com/servescope/servescope/internal/config/timespec"
)

// ParseWindow resolves a window relative to now: a duration ending at now
// (1h, 24h, 7d, 30d), "today" or "yesterday" (UTC days), or a custom range
// "START,END" (see timespec.Window: one parser for the CLI and the API).
// now is passed in, never read here.
func ParseWindow(s string, now time.Time) (start, end time.Time, err error) {
	return timespec.Window(s, now)
}
