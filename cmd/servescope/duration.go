package main

import (
	"fmt"
	"strings"
	"time"

	"github.com/prometheus/common/model"

	"github.com/servescope/servescope/internal/config/timespec"
)

// parseDuration reads a Prometheus duration (15d, 1h30m, 500ms).
func parseDuration(s string) (time.Duration, error) {
	d, err := model.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("duration %q: want %s", s, timespec.DurationForms)
	}
	return time.Duration(d), nil
}

// durationValue is a kingpin flag value that accepts Prometheus durations
// such as 15d (settings: intervals, timeouts, retention).
type durationValue struct{ d *time.Duration }

func (v durationValue) Set(s string) error {
	d, err := parseDuration(s)
	if err != nil {
		return err
	}
	*v.d = d
	return nil
}

func (v durationValue) String() string {
	if v.d == nil {
		return ""
	}
	return v.d.String()
}

// spanValue is a kingpin flag value for a window's length (--since,
// --window): a positive duration, -1h read as 1h.
type spanValue struct {
	d    *time.Duration
	flag string // named in errors
}

func (v spanValue) Set(s string) error {
	d, err := timespec.Duration(s)
	if err != nil {
		return fmt.Errorf("%s: %w", v.flag, err)
	}
	*v.d = d
	return nil
}

func (v spanValue) String() string { return durationValue{v.d}.String() }

// timeValue is a kingpin flag value for a point in time (--at, --start,
// --end) in any form timespec.Time accepts, resolved when parsed.
type timeValue struct {
	t    *time.Time
	flag string // named in errors
}

func (v timeValue) Set(s string) error {
	t, err := timespec.Time(s, time.Now().UTC())
	if err != nil {
		return fmt.Errorf("%s: %w", v.flag, err)
	}
	*v.t = t
	return nil
}

func (v timeValue) String() string {
	if v.t == nil || v.t.IsZero() {
		return ""
	}
	return v.t.Format(time.RFC3339)
}

// timeFlags take values that may start with a minus (-1h: an hour ago).
var timeFlags = map[string]bool{"--window": true, "--since": true, "--at": true, "--start": true, "--end": true}

// joinNegative rewrites `--window -1h` as `--window=-1h`: kingpin reads an
// argument starting with a minus as a flag, so the value would be missing.
func joinNegative(args []string) []string {
	out := make([]string, 0, len(args))
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			return append(out, args[i:]...)
		}
		if timeFlags[a] && i+1 < len(args) && len(args[i+1]) > 1 && args[i+1][0] == '-' && strings.ContainsAny(args[i+1][1:2], "0123456789") {
			out = append(out, a+"="+args[i+1])
			i++
			continue
		}
		out = append(out, a)
	}
	return out
}
