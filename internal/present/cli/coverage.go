package cli

import (
	"fmt"
	"io"
	"time"
)

// Coverage is the span of a window in which a server has data; OK is false
// when it has none.
type Coverage struct {
	From, To time.Time
	OK       bool
}

// WriteCoverageWarning writes a warning, as `cost` does, when c covers
// less of the window [at-window, at] than all of it (a step of slack),
// and nothing otherwise.
func WriteCoverageWarning(w io.Writer, at time.Time, window time.Duration, c Coverage) {
	start := at.Add(-window)
	slack := max(window/240, 15*time.Second) + time.Minute
	switch {
	case !c.OK:
		fmt.Fprintf(w, "warning: no data in the %s window\n", window)
	case c.From.Sub(start) > slack || at.Sub(c.To) > slack:
		fmt.Fprintf(w, "warning: data covers only %s to %s (%s) of the %s window; the figures are over that span\n",
			c.From.Format(time.RFC3339), c.To.Format(time.RFC3339), c.To.Sub(c.From).Round(time.Minute), window)
	}
}
