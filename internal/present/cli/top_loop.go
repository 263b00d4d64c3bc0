package cli

import (
	"bytes"
	"context"
	"io"
	"strings"
	"sync"
	"time"
)

// TopSource reads the rows at a time; *Top is one.
type TopSource interface {
	Rows(ctx context.Context, at time.Time) ([]TopRow, error)
}

// TopLoopOptions configure the interactive `servescope top`.
type TopLoopOptions struct {
	Source TopSource
	// Server, Interval and Window are shown in the title.
	Server string
	// Interval is the refresh interval.
	Interval time.Duration
	Window   time.Duration
	// Sort is the initial order.
	Sort TopSort
	// In delivers the keys: a terminal in raw mode. RunTop returns when it
	// ends (EOF or an error).
	In io.Reader
	// Out is the terminal the screens are drawn on, with ANSI escapes.
	Out io.Writer
	// Size returns the terminal's width and height; nil or zeros mean
	// unbounded.
	Size func() (width, height int)
	// Now is the clock the reads are made at; nil means time.Now.
	Now func() time.Time
}

// Terminal control sequences: the alternate screen with the cursor hidden,
// cursor home, erase to the end of the line and of the screen.
const (
	escEnter     = "\x1b[?1049h\x1b[?25l"
	escLeave     = "\x1b[?25h\x1b[?1049l"
	escHome      = "\x1b[H"
	escEraseLine = "\x1b[K"
	escEraseDown = "\x1b[J"
)

// topKey is what a key press asks for.
type topKey int

const (
	keyNone topKey = iota
	keyQuit
	keyPrev
	keyNext
	keyReverse
)

// parseKeys turns one read from a raw terminal into key presses; arrow
// keys arrive as ESC [ C and ESC [ D.
func parseKeys(b []byte) []topKey {
	var out []topKey
	for len(b) > 0 {
		switch {
		case bytes.HasPrefix(b, []byte("\x1b[C")), bytes.HasPrefix(b, []byte("\x1bOC")):
			out, b = append(out, keyNext), b[3:]
			continue
		case bytes.HasPrefix(b, []byte("\x1b[D")), bytes.HasPrefix(b, []byte("\x1bOD")):
			out, b = append(out, keyPrev), b[3:]
			continue
		}
		switch b[0] {
		case 'q', 'Q', 0x03, 0x04: // Ctrl-C and Ctrl-D too: raw mode turns off signals
			out = append(out, keyQuit)
		case '>', '.':
			out = append(out, keyNext)
		case '<', ',':
			out = append(out, keyPrev)
		case 'r', 'R':
			out = append(out, keyReverse)
		}
		b = b[1:]
	}
	return out
}

// topRead is one read's outcome.
type topRead struct {
	at   time.Time
	rows []TopRow
	err  error
}

// RunTop draws the table on o.Out every o.Interval until ctx is done, a
// quit key arrives or o.In ends. It reads on a goroutine of its own, one
// read at a time, so keys re-sort the last rows at once. The goroutine
// reading o.In stops at the first read after RunTop returns.
func RunTop(ctx context.Context, o TopLoopOptions) (err error) {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Size == nil {
		o.Size = func() (int, int) { return 0, 0 }
	}
	var wg sync.WaitGroup
	defer wg.Wait()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	// keys: sent by the reader goroutine, closed by it when In ends;
	// unbuffered, the reader gives up when done is closed.
	keys := make(chan []byte)
	done := make(chan struct{})
	defer close(done)
	go func() {
		defer close(keys)
		buf := make([]byte, 64)
		for {
			n, err := o.In.Read(buf)
			if n > 0 {
				select {
				case keys <- bytes.Clone(buf[:n]):
				case <-done:
					return
				}
			}
			if err != nil {
				return
			}
		}
	}()

	// reads: at most one read is in flight, so a buffer of one never blocks.
	reads := make(chan topRead, 1)
	inflight := false
	read := func() {
		inflight = true
		at := o.Now()
		wg.Go(func() {
			rows, err := o.Source.Rows(ctx, at)
			reads <- topRead{at: at, rows: rows, err: err}
		})
	}
	v := TopView{Server: o.Server, Interval: o.Interval, Window: o.Window, Sort: o.Sort, Keys: true}
	draw := func() error {
		v.Width, v.Height = o.Size()
		var b strings.Builder
		if err := RenderTop(&b, v); err != nil {
			return err
		}
		screen := strings.TrimSuffix(b.String(), "\n")
		_, err := io.WriteString(o.Out, escHome+strings.ReplaceAll(screen, "\n", escEraseLine+"\r\n")+escEraseLine+escEraseDown)
		return err
	}

	if _, err := io.WriteString(o.Out, escEnter); err != nil {
		return err
	}
	defer func() {
		if _, werr := io.WriteString(o.Out, escLeave); err == nil {
			err = werr
		}
	}()
	ticker := time.NewTicker(o.Interval)
	defer ticker.Stop()
	read()
	if err := draw(); err != nil {
		return err
	}
	for {
		select {
		case <-ctx.Done():
			return nil
		case b, ok := <-keys:
			if !ok {
				return nil
			}
			for _, k := range parseKeys(b) {
				switch k {
				case keyQuit:
					return nil
				case keyPrev:
					v.Sort = v.Sort.Next(-1)
				case keyNext:
					v.Sort = v.Sort.Next(1)
				case keyReverse:
					v.Sort.Reverse = !v.Sort.Reverse
				}
			}
		case r := <-reads:
			inflight = false
			if r.err != nil {
				if ctx.Err() != nil {
					return nil
				}
				v.Err = r.err
			} else {
				v.At, v.Rows, v.Err = r.at, r.rows, nil
				if f, ok := o.Source.(interface{ FleetLine() string }); ok {
					v.Fleet = f.FleetLine()
				}
			}
		case <-ticker.C:
			if !inflight {
				read()
			}
			continue
		}
		if err := draw(); err != nil {
			return err
		}
	}
}
