package timespec

import (
	"strings"
	"testing"
	"time"
)

var now = time.Date(2026, 3, 10, 15, 30, 0, 0, time.UTC)

func TestTime(t *testing.T) {
	t.Parallel()
	day := time.Date(2026, 3, 10, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		in   string
		want time.Time
		bad  bool
	}{
		{in: "2026-03-01T12:00:00Z", want: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)},
		{in: "2026-03-01T12:00:00+02:00", want: time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)},
		{in: "1773156600", want: time.Unix(1773156600, 0)},
		{in: "1773156600.5", want: time.Unix(1773156600, 5e8)},
		{in: "-1h", want: now.Add(-time.Hour)},
		{in: "2h", want: now.Add(-2 * time.Hour)},
		{in: "1h30m", want: now.Add(-90 * time.Minute)},
		{in: " now ", want: now},
		{in: "today", want: day},
		{in: "Yesterday", want: day.Add(-24 * time.Hour)},
		{in: "", bad: true},
		{in: "soon", bad: true},
		{in: "0s", bad: true},
		{in: "2026-03-01", bad: true},
		{in: "1e300", bad: true},
		{in: "NaN", bad: true},
	}
	for _, tc := range tests {
		got, err := Time(tc.in, now)
		if (err != nil) != tc.bad || !got.Equal(tc.want) {
			t.Errorf("Time(%q) = %s, %v; want %s (bad %v)", tc.in, got, err, tc.want, tc.bad)
		}
		if err != nil && !strings.Contains(err.Error(), Forms) {
			t.Errorf("Time(%q) error %q does not list the accepted forms", tc.in, err)
		}
	}
}

func TestDuration(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   string
		want time.Duration
		bad  bool
	}{
		{in: "1h", want: time.Hour},
		{in: "-1h", want: time.Hour},
		{in: "7d", want: 7 * 24 * time.Hour},
		{in: "1h30m", want: 90 * time.Minute},
		{in: "", bad: true},
		{in: "0s", bad: true},
		{in: "yesterday", bad: true},
		{in: "1x", bad: true},
	}
	for _, tc := range tests {
		got, err := Duration(tc.in)
		if (err != nil) != tc.bad || got != tc.want {
			t.Errorf("Duration(%q) = %s, %v; want %s (bad %v)", tc.in, got, err, tc.want, tc.bad)
		}
		if err != nil && !strings.Contains(err.Error(), DurationForms) {
			t.Errorf("Duration(%q) error %q does not list the accepted forms", tc.in, err)
		}
	}
}

func TestWindow(t *testing.T) {
	t.Parallel()
	day := time.Date(2026, 3, 10, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		in         string
		start, end time.Time
		bad        bool
	}{
		{in: "1h", start: now.Add(-time.Hour), end: now},
		{in: "-1h", start: now.Add(-time.Hour), end: now},
		{in: "30d", start: now.Add(-30 * 24 * time.Hour), end: now},
		{in: "today", start: day, end: now},
		{in: "yesterday", start: day.Add(-24 * time.Hour), end: day},
		{in: "2026-03-01T00:00:00Z,2026-03-02T12:00:00Z", start: time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC), end: time.Date(2026, 3, 2, 12, 0, 0, 0, time.UTC)},
		{in: "yesterday,now", start: day.Add(-24 * time.Hour), end: now},
		{in: "-2h,-1h", start: now.Add(-2 * time.Hour), end: now.Add(-time.Hour)},
		{in: "1773100000,1773156600", start: time.Unix(1773100000, 0), end: time.Unix(1773156600, 0)},
		{in: "2026-03-02T00:00:00Z,2026-03-01T00:00:00Z", bad: true},
		{in: "now", bad: true},
		{in: "soon", bad: true},
		{in: "", bad: true},
		{in: "1h,soon", bad: true},
	}
	for _, tc := range tests {
		s, e, err := Window(tc.in, now)
		if (err != nil) != tc.bad || !s.Equal(tc.start) || !e.Equal(tc.end) {
			t.Errorf("Window(%q) = %s, %s, %v", tc.in, s, e, err)
		}
	}
	_, _, err := Window("soon", now)
	if err == nil || !strings.Contains(err.Error(), WindowForms) {
		t.Errorf("Window(soon) error %v does not list the accepted forms", err)
	}
}

// FuzzWindow checks that no input panics and that an accepted window is
// never empty or reversed.
func FuzzWindow(f *testing.F) {
	for _, s := range []string{"1h", "-1h", "today", "yesterday,now", "1773100000,1773156600", "2026-03-01T00:00:00Z,2026-03-02T12:00:00Z", ",", "-"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		start, end, err := Window(s, now)
		if err == nil && !end.After(start) {
			t.Errorf("Window(%q) = %s, %s: not after", s, start, end)
		}
		if _, err := Time(s, now); err != nil && !strings.Contains(err.Error(), Forms) {
			t.Errorf("Time(%q) error %q lists no forms", s, err)
		}
	})
}
