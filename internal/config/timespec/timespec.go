// Package timespec reads the times, durations and windows a person types on
// the command line (--at, --since, --window, --start, --end) in one way for
// every command: RFC 3339, Unix seconds, a duration ago (-1h or 1h), or the
// words now, today and yesterday (UTC days). Every error lists the accepted
// forms. now is always passed in, never read here.
package timespec

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/common/model"
)

// Forms is the accepted forms of a time, as help texts and errors say them.
const Forms = "RFC 3339 (2026-03-10T15:30:00Z), Unix seconds (1773156600), a duration ago (-1h or 1h), now, today or yesterday"

// WindowForms is the accepted forms of a window.
const WindowForms = "a duration ending now (1h, -1h, 24h, 7d), today, yesterday, or START,END where each is " + Forms

// DurationForms is the accepted forms of a duration.
const DurationForms = "a duration such as 30s, 15m, 1h30m, 24h or 7d"

// ErrEmpty is returned for an empty value.
var ErrEmpty = errors.New("empty value")

// Time resolves s to a time: RFC 3339, Unix seconds (fractions allowed),
// a duration before now (-1h and 1h both mean an hour ago), now, today
// (00:00 UTC today) or yesterday (00:00 UTC yesterday).
func Time(s string, now time.Time) (time.Time, error) {
	s = strings.TrimSpace(s)
	if t, ok := word(s, now); ok {
		return t, nil
	}
	if s == "" {
		return time.Time{}, fmt.Errorf("time: %w; want %s", ErrEmpty, Forms)
	}
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, nil
	}
	if f, err := strconv.ParseFloat(s, 64); err == nil && !math.IsInf(f, 0) && !math.IsNaN(f) && math.Abs(f) < 1e11 {
		sec, frac := math.Modf(f)
		return time.Unix(int64(sec), int64(math.Round(frac*1e9))).UTC(), nil
	}
	if d, err := ago(s); err == nil {
		return now.Add(-d), nil
	}
	return time.Time{}, fmt.Errorf("time %q: want %s", s, Forms)
}

// word resolves now, today and yesterday.
func word(s string, now time.Time) (time.Time, bool) {
	day := now.UTC().Truncate(24 * time.Hour)
	switch strings.ToLower(s) {
	case "now":
		return now, true
	case "today":
		return day, true
	case "yesterday":
		return day.Add(-24 * time.Hour), true
	}
	return time.Time{}, false
}

// Duration reads a positive Prometheus-style duration (30s, 1h30m, 7d); a
// leading minus is accepted and dropped, so --since -1h reads as an hour.
func Duration(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return 0, fmt.Errorf("duration: %w; want %s", ErrEmpty, DurationForms)
	}
	d, err := ago(s)
	if errors.Is(err, errZero) {
		return 0, fmt.Errorf("a window of %q is shorter than one step: want %s", s, DurationForms)
	}
	if err != nil {
		return 0, fmt.Errorf("duration %q: want %s", s, DurationForms)
	}
	return d, nil
}

// errZero is a duration that parses but spans no time.
var errZero = errors.New("zero")

// ago reads an optionally negated, positive duration.
func ago(s string) (time.Duration, error) {
	d, err := model.ParseDuration(strings.TrimPrefix(s, "-"))
	if err != nil {
		return 0, err
	}
	if d == 0 {
		return 0, errZero
	}
	if d < 0 {
		return 0, errors.New("not positive")
	}
	return time.Duration(d), nil
}

// Window resolves a window: a duration ending at now (1h or -1h), today
// (midnight UTC to now), yesterday (the whole UTC day), or START,END where
// each side is any form Time accepts.
func Window(s string, now time.Time) (start, end time.Time, err error) {
	s = strings.TrimSpace(s)
	day := now.UTC().Truncate(24 * time.Hour)
	switch strings.ToLower(s) {
	case "":
		return time.Time{}, time.Time{}, fmt.Errorf("window: %w; want %s", ErrEmpty, WindowForms)
	case "today":
		return day, now, nil
	case "yesterday":
		return day.Add(-24 * time.Hour), day, nil
	case "now":
		return time.Time{}, time.Time{}, fmt.Errorf("window %q has no length; want %s", s, WindowForms)
	}
	if a, b, ok := strings.Cut(s, ","); ok {
		if start, err = Time(a, now); err != nil {
			return time.Time{}, time.Time{}, fmt.Errorf("window %q: start: %w", s, err)
		}
		if end, err = Time(b, now); err != nil {
			return time.Time{}, time.Time{}, fmt.Errorf("window %q: end: %w", s, err)
		}
		if !end.After(start) {
			return time.Time{}, time.Time{}, fmt.Errorf("window %q: end must be after start", s)
		}
		return start, end, nil
	}
	d, err := ago(s)
	if err != nil {
		return time.Time{}, time.Time{}, fmt.Errorf("window %q: want %s", s, WindowForms)
	}
	return now.Add(-d), now, nil
}
