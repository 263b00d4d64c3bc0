package cli

import (
	"bytes"
	"context"
	"io"
	"strings"
	"sync"
	"time"
	"unicode/utf8"
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
	// Filter is the initial filter (namespace, pod or model).
	Filter string
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
	keyUp
	keyDown
	keyPageUp
	keyPageDown
	keyHome
	keyEnd
	keyFilter // start typing a filter
	keyEnter
	keyEscape
	keyBackspace
)

// keyPress is one key: what it asks for outside the filter, and the
// character typed (0 for control sequences) for the filter.
type keyPress struct {
	key topKey
	r   rune
}

// sequences are the terminal's multi-byte keys (xterm and VT forms).
var sequences = []struct {
	seq string
	key topKey
}{
	{"\x1b[C", keyNext}, {"\x1bOC", keyNext}, {"\x1b[D", keyPrev}, {"\x1bOD", keyPrev},
	{"\x1b[A", keyUp}, {"\x1bOA", keyUp}, {"\x1b[B", keyDown}, {"\x1bOB", keyDown},
	{"\x1b[5~", keyPageUp}, {"\x1b[6~", keyPageDown},
	{"\x1b[H", keyHome}, {"\x1bOH", keyHome}, {"\x1b[1~", keyHome}, {"\x1b[7~", keyHome},
	{"\x1b[F", keyEnd}, {"\x1bOF", keyEnd}, {"\x1b[4~", keyEnd}, {"\x1b[8~", keyEnd},
}

// parsePresses turns one read from a raw terminal into key presses.
func parsePresses(b []byte) []keyPress {
	var out []keyPress
next:
	for len(b) > 0 {
		for _, s := range sequences {
			if bytes.HasPrefix(b, []byte(s.seq)) {
				out, b = append(out, keyPress{key: s.key}), b[len(s.seq):]
				continue next
			}
		}
		r, size := utf8.DecodeRune(b)
		b = b[size:]
		k := keyNone
		switch r {
		case 'q', 'Q', 0x03, 0x04: // Ctrl-C and Ctrl-D too: raw mode turns off signals
			k = keyQuit
		case '>', '.':
			k = keyNext
		case '<', ',':
			k = keyPrev
		case 'r', 'R':
			k = keyReverse
		case 'k':
			k = keyUp
		case 'j':
			k = keyDown
		case ' ':
			k = keyPageDown
		case 'b':
			k = keyPageUp
		case 'g':
			k = keyHome
		case 'G':
			k = keyEnd
		case '/':
			k = keyFilter
		case '\r', '\n':
			k = keyEnter
		case 0x1b:
			k = keyEscape
		case 0x7f, 0x08:
			k = keyBackspace
		}
		out = append(out, keyPress{key: k, r: r})
	}
	return out
}

// parseKeys is the keys of parsePresses, as read outside the filter.
func parseKeys(b []byte) []topKey {
	var out []topKey
	for _, p := range parsePresses(b) {
		if p.key != keyNone {
			out = append(out, p.key)
		}
	}
	return out
}

// press applies one key press to the view; it reports whether to quit.
func (v *TopView) press(p keyPress) (quit bool) {
	if v.Typing {
		switch {
		case p.key == keyEnter:
			v.Typing = false
		case p.key == keyEscape:
			v.Filter, v.Typing = "", false
		case p.key == keyBackspace:
			if r := []rune(v.Filter); len(r) > 0 {
				v.Filter = string(r[:len(r)-1])
			}
		case p.r >= ' ' && p.r != 0x7f:
			v.Filter += string(p.r)
		}
		v.Offset = 0
		return false
	}
	room, maxOff := v.Room()
	page := max(room, 1)
	switch p.key {
	case keyQuit:
		return true
	case keyPrev:
		v.Sort = v.Sort.Next(-1)
	case keyNext:
		v.Sort = v.Sort.Next(1)
	case keyReverse:
		v.Sort.Reverse = !v.Sort.Reverse
	case keyUp:
		v.Offset--
	case keyDown:
		v.Offset++
	case keyPageUp:
		v.Offset -= page
	case keyPageDown:
		v.Offset += page
	case keyHome:
		v.Offset = 0
	case keyEnd:
		v.Offset = maxOff
	case keyFilter:
		v.Typing = true
	case keyEscape:
		v.Filter = ""
	}
	v.Offset = min(max(v.Offset, 0), maxOff)
	return false
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
	v := TopView{Server: o.Server, Interval: o.Interval, Window: o.Window, Sort: o.Sort, Filter: o.Filter, Keys: true}
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
			v.Width, v.Height = o.Size()
			for _, p := range parsePresses(b) {
				if v.press(p) {
					return nil
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
				if q, ok := o.Source.(interface{ QueueLine() string }); ok {
					v.Queues = q.QueueLine()
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
