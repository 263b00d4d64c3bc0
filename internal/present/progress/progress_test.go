package progress

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

// clock is a manual clock for the bar.
type clock struct{ t time.Time }

func (c *clock) now() time.Time          { return c.t }
func (c *clock) advance(d time.Duration) { c.t = c.t.Add(d) }
func newClock() *clock                   { return &clock{t: time.Date(2026, 3, 10, 0, 0, 0, 0, time.UTC)} }

func TestLines(t *testing.T) {
	t.Parallel()
	c := newClock()
	var buf bytes.Buffer
	b := New(Options{Writer: &buf, Label: "backfill", Total: 100, Now: c.now})
	for i := 1; i <= 100; i++ {
		c.advance(time.Second)
		b.Set(float64(i))
	}
	b.Done()
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 11 {
		t.Fatalf("%d lines, want the first and one per tenth (11):\n%s", len(lines), buf.String())
	}
	if lines[0] != "backfill: 1% (ETA 1m39s)" || lines[1] != "backfill: 10% (ETA 1m30s)" {
		t.Errorf("first lines %q", lines[:2])
	}
	if lines[10] != "backfill: 100% (done)" {
		t.Errorf("last line %q", lines[10])
	}
	if strings.Contains(buf.String(), "\r") {
		t.Error("carriage return outside a terminal")
	}
}

func TestTerminal(t *testing.T) {
	t.Parallel()
	c := newClock()
	var buf bytes.Buffer
	b := New(Options{Writer: &buf, Label: "gen", Total: 4, Terminal: true, Width: 4, Now: c.now})
	b.Set(1) // at 0s: drawn (first)
	c.advance(50 * time.Millisecond)
	b.Set(2) // too soon after the last draw: skipped
	c.advance(time.Second)
	b.Set(3)
	c.advance(time.Second)
	b.Done()
	got := buf.String()
	want := "\rgen [#...]  25%  ETA --" +
		"\rgen [###.]  75%  ETA 400ms" + // 1.05s for 3/4
		"\rgen [####] 100%  done     " + // blanks over the longer line
		"\rgen [####] 100%  done in 2.1s\n"
	if got != want {
		t.Errorf("got  %q\nwant %q", got, want)
	}
	b.Set(1) // after Done: nothing
	if buf.String() != got {
		t.Error("drawn after Done")
	}
}

func TestETA(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		elapsed time.Duration
		f       float64
		want    time.Duration
		ok      bool
	}{
		{time.Minute, 0.25, 3 * time.Minute, true},
		{time.Minute, 0, 0, false},
		{0, 0.5, 0, false},
		{time.Minute, 1, 0, true},
	} {
		got, ok := ETA(tc.elapsed, tc.f)
		if got != tc.want || ok != tc.ok {
			t.Errorf("ETA(%s, %g) = %s, %v; want %s, %v", tc.elapsed, tc.f, got, ok, tc.want, tc.ok)
		}
	}
}

// TestCount: a bar started without a total takes it from Count, and its
// lines say how many of the items are done.
func TestCount(t *testing.T) {
	t.Parallel()
	c := newClock()
	var buf bytes.Buffer
	b := New(Options{Writer: &buf, Label: "report 24h", Now: c.now})
	for i := 1; i <= 4; i++ {
		c.advance(time.Second)
		b.Count(i, 4)
	}
	b.Done()
	want := "report 24h: 25% (ETA 3s)\nreport 24h: 50% (ETA 2s)\nreport 24h: 75% (ETA 1s)\nreport 24h: 100% (done)\n"
	if buf.String() != want {
		t.Errorf("got  %q\nwant %q", buf.String(), want)
	}
	b.Count(1, 2) // after Done: nothing
	if buf.String() != want {
		t.Error("drawn after Done")
	}
}

// TestStop: a bar stopped on a terminal ends its line so an error starts
// on its own; a bar never drawn, a bar of lines and a finished bar write
// nothing more.
func TestStop(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name     string
		terminal bool
		set      bool
		done     bool
		want     string
	}{
		{"terminal", true, true, false, "\rrep [#.]  50%  ETA --\n"},
		{"terminal never drawn", true, false, false, ""},
		{"terminal done", true, true, true, "\rrep [#.]  50%  ETA --\rrep [##] 100%  done  \rrep [##] 100%  done in 0s\n"},
		{"lines", false, true, false, "rep: 50% (ETA --)\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c := newClock()
			var buf bytes.Buffer
			b := New(Options{Writer: &buf, Label: "rep", Total: 2, Terminal: tc.terminal, Width: 2, Now: c.now})
			if tc.set {
				b.Set(1)
			}
			if tc.done {
				b.Done()
			}
			b.Stop()
			b.Stop()
			b.Set(2) // after Stop: nothing
			if buf.String() != tc.want {
				t.Errorf("got  %q\nwant %q", buf.String(), tc.want)
			}
		})
	}
}

// TestTerminalEndOnce: work counted to its end and then Done draws the
// finished line once before the closing one.
func TestTerminalEndOnce(t *testing.T) {
	t.Parallel()
	c := newClock()
	var buf bytes.Buffer
	b := New(Options{Writer: &buf, Label: "gen", Terminal: true, Width: 2, Now: c.now})
	c.advance(time.Second)
	b.Count(2, 2)
	b.Done()
	want := "\rgen [##] 100%  done\rgen [##] 100%  done in 1s\n"
	if buf.String() != want {
		t.Errorf("got  %q\nwant %q", buf.String(), want)
	}
}
