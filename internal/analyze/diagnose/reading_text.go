package diagnose

import (
	"strconv"
	"time"
)

// Seconds renders a reading in seconds as a duration rounded to the
// second ("10m24s"), or "not reported": how every surface (the dashboard,
// the report, `top`) prints a queue's admission waits.
func (r Reading) Seconds() string {
	return r.Text(func(x float64) string { return time.Duration(x * float64(time.Second)).Round(time.Second).String() })
}

// Number renders a reading to 4 significant digits, or "not reported": how
// every surface prints a queue's GPUs and workloads.
func (r Reading) Number() string { return r.Text(FormatNumber) }

// FormatNumber writes x to 4 significant digits (the queue view's numbers).
func FormatNumber(x float64) string { return strconv.FormatFloat(x, 'g', 4, 64) }
