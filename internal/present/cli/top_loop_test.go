package cli

import (
	"context"
	"errors"
	"io"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"
)

// fakeSource serves viewRows, failing the reads listed in fail (1-based).
type fakeSource struct {
	mu    sync.Mutex
	reads []time.Time
	fail  map[int]bool
}

func (f *fakeSource) Rows(_ context.Context, at time.Time) ([]TopRow, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.reads = append(f.reads, at)
	if f.fail[len(f.reads)] {
		return nil, errors.New("backend unreachable")
	}
	return viewRows(), nil
}

func (f *fakeSource) count() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.reads)
}

// screen collects what RunTop draws.
type screen struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *screen) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

// last is the last frame drawn, as lines without escapes.
func (s *screen) last() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := s.b.String()
	frame := out[strings.LastIndex(out, escHome)+len(escHome):]
	frame = strings.NewReplacer(escEraseLine, "", escEraseDown, "", escLeave, "", "\r", "").Replace(frame)
	return strings.Split(frame, "\n")
}

func (s *screen) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// pods lists the first field of the table's rows in the frame.
func pods(frame []string) []string {
	var out []string
	for _, l := range frame {
		if f := strings.Fields(l); len(f) > 0 && strings.Contains(f[0], "/") && !strings.HasPrefix(l, "servescope") {
			out = append(out, f[0])
		}
	}
	return out
}

// TestRunTop drives the loop in fake time: it reads at once and at every
// interval, re-sorts on keys without reading, keeps the rows when a read
// fails, and leaves the screen on q.
func TestRunTop(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		src := &fakeSource{fail: map[int]bool{2: true}}
		in, keys := io.Pipe()
		out := &screen{}
		done := make(chan error, 1)
		go func() {
			done <- RunTop(t.Context(), TopLoopOptions{Source: src, Server: "s", Interval: 15 * time.Second, Window: 15 * time.Minute,
				Sort: TopSort{Column: ColDiagnosis}, In: in, Out: out, Size: func() (int, int) { return 120, 40 }})
		}()
		press := func(k string) {
			t.Helper()
			if _, err := keys.Write([]byte(k)); err != nil {
				t.Fatal(err)
			}
			synctest.Wait()
		}
		synctest.Wait()
		if !strings.HasPrefix(out.String(), escEnter) {
			t.Errorf("the screen does not start with the alternate screen: %q", out.String()[:min(20, len(out.String()))])
		}
		if got, want := pods(out.last()), []string{"search/mixtral", "chat/llama-b", "chat/llama-a", "search/new"}; !slices.Equal(got, want) {
			t.Errorf("first frame by diagnosis: %v, want %v\n%s", got, want, strings.Join(out.last(), "\n"))
		}
		tests := []struct {
			key, title string
			want       []string
		}{
			{">", "sorted by POD ascending", []string{"chat/llama-a", "chat/llama-b", "search/mixtral", "search/new"}},
			{"r", "sorted by POD descending", []string{"search/new", "search/mixtral", "chat/llama-b", "chat/llama-a"}},
			{"\x1b[C\x1b[C\x1b[C", "sorted by BUSY descending", []string{"chat/llama-b", "chat/llama-a", "search/mixtral", "search/new"}},
			{"<", "sorted by GPUS descending", []string{"chat/llama-a", "chat/llama-b", "search/mixtral", "search/new"}},
			{"\x1b[D", "sorted by MODEL ascending", []string{"chat/llama-a", "chat/llama-b", "search/mixtral", "search/new"}},
		}
		for _, tc := range tests {
			press(tc.key)
			frame := out.last()
			if !strings.Contains(frame[0], tc.title) || !slices.Equal(pods(frame), tc.want) {
				t.Errorf("after %q: %q, %v; want %q, %v", tc.key, frame[0], pods(frame), tc.title, tc.want)
			}
		}
		if n := src.count(); n != 1 {
			t.Errorf("keys made %d reads, want the first only", n)
		}

		time.Sleep(15 * time.Second) // fake time: the second read fails
		synctest.Wait()
		frame := out.last()
		if src.count() != 2 || !strings.Contains(strings.Join(frame, "\n"), "error: backend unreachable") || len(pods(frame)) != 4 {
			t.Errorf("after a failed read (%d reads): want the error and the old rows:\n%s", src.count(), strings.Join(frame, "\n"))
		}
		time.Sleep(15 * time.Second)
		synctest.Wait()
		frame = out.last()
		if src.count() != 3 || strings.Contains(strings.Join(frame, "\n"), "error:") || !strings.Contains(frame[0], "00:00:30 UTC") {
			t.Errorf("after a good read (%d reads): want no error, read at 00:00:30:\n%s", src.count(), strings.Join(frame, "\n"))
		}

		press("q")
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("RunTop: %v", err)
			}
		default:
			t.Fatal("RunTop did not return on q")
		}
		if !strings.HasSuffix(out.String(), escLeave) {
			t.Error("the screen was not left")
		}
		keys.Close()
	})
}

// TestRunTopEnds checks RunTop returns when its context ends or its input
// does.
func TestRunTopEnds(t *testing.T) {
	t.Parallel()
	for _, tc := range []string{"context", "input"} {
		t.Run(tc, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				ctx, cancel := context.WithCancel(t.Context())
				in, keys := io.Pipe()
				done := make(chan error, 1)
				go func() {
					done <- RunTop(ctx, TopLoopOptions{Source: &fakeSource{}, Interval: time.Second, In: in, Out: io.Discard})
				}()
				time.Sleep(3 * time.Second)
				synctest.Wait()
				if tc == "context" {
					cancel()
				} else {
					keys.Close()
				}
				synctest.Wait()
				select {
				case err := <-done:
					if err != nil {
						t.Errorf("RunTop: %v", err)
					}
				default:
					t.Fatal("RunTop did not return")
				}
				cancel()
				keys.Close()
			})
		})
	}
}

func TestParseKeys(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in   string
		want []topKey
	}{
		{"q", []topKey{keyQuit}},
		{"\x03", []topKey{keyQuit}},
		{"<>r", []topKey{keyPrev, keyNext, keyReverse}},
		{"\x1b[D\x1b[C\x1bOC", []topKey{keyPrev, keyNext, keyNext}},
		{"\x1b[A\x1b[B\x1bOA", []topKey{keyUp, keyDown, keyUp}},
		{"\x1b[5~\x1b[6~\x1b[H\x1b[F\x1b[1~\x1b[4~", []topKey{keyPageUp, keyPageDown, keyHome, keyEnd, keyHome, keyEnd}},
		{"jk gG/", []topKey{keyDown, keyUp, keyPageDown, keyHome, keyEnd, keyFilter}},
		{"x\x1b", []topKey{keyEscape}}, // unknown keys do nothing; a lone ESC is Escape
	} {
		if got := parseKeys([]byte(tc.in)); !slices.Equal(got, tc.want) {
			t.Errorf("parseKeys(%q) = %v, want %v", tc.in, got, tc.want)
		}
	}
}

// TestPress drives the view with keys: scrolling stays within the rows,
// the filter is typed, edited, kept with Enter and cleared with Esc, and
// q is text while typing.
func TestPress(t *testing.T) {
	t.Parallel()
	v := TopView{At: time.Unix(0, 0), Rows: viewRows(), Keys: true, Height: 7}
	press := func(keys string) {
		t.Helper()
		for _, p := range parsePresses([]byte(keys)) {
			if v.press(p) {
				t.Fatalf("quit on %q", keys)
			}
		}
	}
	room, maxOff := v.Room()
	if room != 1 || maxOff != 3 {
		t.Fatalf("Room() = %d, %d; want 1, 3 (7 lines: title, blank, header, a row, the position, blank, keys)", room, maxOff)
	}
	for _, step := range []struct {
		keys string
		off  int
	}{{"j", 1}, {"jjjj", 3}, {"k", 2}, {"\x1b[H", 0}, {"\x1b[F", 3}, {"\x1b[5~", 2}, {"\x1b[6~\x1b[6~", 3}, {"kkkkkk", 0}} {
		press(step.keys)
		if v.Offset != step.off {
			t.Errorf("after %q: offset %d, want %d", step.keys, v.Offset, step.off)
		}
	}
	press("/llamq\x7fa")
	if !v.Typing || v.Filter != "llama" {
		t.Errorf("typing: %v %q, want the filter llama being typed", v.Typing, v.Filter)
	}
	press("\r")
	if v.Typing || v.Filter != "llama" || len(v.Visible()) != 2 {
		t.Errorf("after Enter: typing %v filter %q, %d rows; want llama kept, 2 rows", v.Typing, v.Filter, len(v.Visible()))
	}
	press("/x\x1b")
	if v.Typing || v.Filter != "" {
		t.Errorf("after Esc: typing %v filter %q; want it cleared", v.Typing, v.Filter)
	}
	if !v.press(keyPress{key: keyQuit, r: 'q'}) {
		t.Error("q did not quit outside the filter")
	}
}
