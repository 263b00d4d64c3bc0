// Package progress shows how far a long command is (backfill, reports over
// long windows, generate): on a terminal a bar redrawn in place with the
// percentage and the time left; elsewhere (a log file, a pipe) one quiet
// line per tenth of the work.
package progress

import (
	"fmt"
	"io"
	"strings"
	"sync"
	"time"
)

// Options configure a Bar.
type Options struct {
	// Writer receives the bar or the lines (usually stderr).
	Writer io.Writer
	// Label names the work ("backfill 6h of mixed").
	Label string
	// Total is the amount of work, in any unit Set uses.
	Total float64
	// Terminal redraws one line in place; false writes a line per tenth.
	Terminal bool
	// Width is the bar's width in cells (default 30).
	Width int
	// Now is the clock (default time.Now); tests pass their own.
	Now func() time.Time
	// Every is the least time between two redraws on a terminal (default
	// 200ms), so a fast loop does not flood it.
	Every time.Duration
}

// Bar is the progress of one piece of work. Its methods are safe for
// concurrent use.
type Bar struct {
	o       Options
	mu      sync.Mutex
	start   time.Time
	drawn   time.Time
	tenth   int // the last tenth written as a line
	done    float64
	drawLen int
	last    string // the line last drawn on a terminal
	ended   bool
}

// New starts a bar; the clock starts now.
func New(o Options) *Bar {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Width <= 0 {
		o.Width = 30
	}
	if o.Every <= 0 {
		o.Every = 200 * time.Millisecond
	}
	if o.Writer == nil {
		o.Writer = io.Discard
	}
	return &Bar{o: o, start: o.Now(), tenth: -1}
}

// Set records that done of Total is finished and shows it when due.
func (b *Bar) Set(done float64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.ended {
		return
	}
	b.done = min(max(done, 0), b.o.Total)
	now := b.o.Now()
	if b.o.Terminal {
		if now.Sub(b.drawn) < b.o.Every && b.done < b.o.Total {
			return
		}
		line := b.line(now)
		if line == b.last {
			return // nothing new to show (the end drawn twice)
		}
		b.drawn, b.last = now, line
		pad := max(b.drawLen-len(line), 0)
		b.drawLen = len(line)
		fmt.Fprintf(b.o.Writer, "\r%s%s", line, strings.Repeat(" ", pad))
		return
	}
	if t := int(b.fraction() * 10); t > b.tenth {
		b.tenth = t
		fmt.Fprintf(b.o.Writer, "%s\n", b.line(now))
	}
}

// Count records that done of total items are finished, for work whose
// total is known only once it starts (a report's panels, generate's
// steps): the total replaces Options.Total. Its signature fits the
// Progress callbacks of app, web and gen.
func (b *Bar) Count(done, total int) {
	b.mu.Lock()
	if !b.ended {
		b.o.Total = float64(total)
	}
	b.mu.Unlock()
	b.Set(float64(done))
}

// Done ends the bar: the terminal line is finished with the time taken.
func (b *Bar) Done() {
	b.Set(b.o.Total)
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.ended {
		return
	}
	b.ended = true
	if b.o.Terminal {
		fmt.Fprintf(b.o.Writer, "\r%s in %s\n", b.line(b.o.Now()), Round(b.o.Now().Sub(b.start)))
	}
}

// Stop ends the bar where it is, for work that failed: on a terminal the
// line drawn so far is ended, so what follows (the error) starts on its
// own line. After Done it does nothing; defer it beside Done.
func (b *Bar) Stop() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.ended {
		return
	}
	b.ended = true
	if b.o.Terminal && b.drawLen > 0 {
		fmt.Fprintln(b.o.Writer)
	}
}

func (b *Bar) fraction() float64 {
	if b.o.Total <= 0 {
		return 1
	}
	return b.done / b.o.Total
}

// line is the bar (terminal) or the words (lines) for the current state.
func (b *Bar) line(now time.Time) string {
	f := b.fraction()
	pct := int(f * 100)
	eta := "ETA --"
	if d, ok := ETA(now.Sub(b.start), f); ok {
		eta = "ETA " + Round(d).String()
	}
	if f >= 1 {
		eta = "done"
	}
	if !b.o.Terminal {
		return fmt.Sprintf("%s: %d%% (%s)", b.o.Label, pct, eta)
	}
	full := int(f * float64(b.o.Width))
	bar := strings.Repeat("#", full) + strings.Repeat(".", b.o.Width-full)
	return fmt.Sprintf("%s [%s] %3d%%  %s", b.o.Label, bar, pct, eta)
}

// ETA is the time left when fraction of the work took elapsed, at the same
// rate; false until there is something to extrapolate from.
func ETA(elapsed time.Duration, fraction float64) (time.Duration, bool) {
	if fraction <= 0 || elapsed <= 0 {
		return 0, false
	}
	if fraction >= 1 {
		return 0, true
	}
	return time.Duration(float64(elapsed) * (1 - fraction) / fraction), true
}

// Round shortens a duration for people: whole seconds, or tenths under 10s.
func Round(d time.Duration) time.Duration {
	if d < 10*time.Second {
		return d.Round(100 * time.Millisecond)
	}
	return d.Round(time.Second)
}
