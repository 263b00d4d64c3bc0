package cost

import (
	"fmt"
	"strings"
	"time"

	"github.com/prometheus/common/model"
)

// ParseWindow resolves a window relative to now: a duration ending at now
// (1h, 24h, 7d, 30d), "today" or "yesterday" (UTC days), or a custom range
// "START,END" of RFC 3339 times. now is passed in, never read here.
func ParseWindow(s string, now time.Time) (start, end time.Time, err error) {
	s = strings.TrimSpace(s)
	day := now.UTC().Truncate(24 * time.Hour)
	switch s {
	case "":
		return time.Time{}, time.Time{}, fmt.Errorf("window: empty")
	case "today":
		return day, now, nil
	case "yesterday":
		return day.Add(-24 * time.Hour), day, nil
	}
	if a, b, ok := strings.Cut(s, ","); ok {
		start, err = time.Parse(time.RFC3339, strings.TrimSpace(a))
		if err != nil {
			return time.Time{}, time.Time{}, fmt.Errorf("window %q: start: %w", s, err)
		}
		end, err = time.Parse(time.RFC3339, strings.TrimSpace(b))
		if err != nil {
			return time.Time{}, time.Time{}, fmt.Errorf("window %q: end: %w", s, err)
		}
		if !end.After(start) {
			return time.Time{}, time.Time{}, fmt.Errorf("window %q: end must be after start", s)
		}
		return start, end, nil
	}
	d, err := model.ParseDuration(s)
	if err != nil || d <= 0 {
		return time.Time{}, time.Time{}, fmt.Errorf("window %q: want a duration such as 24h or 30d, today, yesterday, or START,END in RFC 3339", s)
	}
	return now.Add(-time.Duration(d)), now, nil
}
