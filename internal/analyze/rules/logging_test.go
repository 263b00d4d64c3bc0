package rules

import (
	"bytes"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/prometheus/model/rulefmt"
	"github.com/prometheus/prometheus/promql/promqltest"
)

// syncBuffer is a log destination safe for the manager's goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestFailureLoggedOnce evaluates a rule that fails (two series become one
// label set once renamed) four times, then once its input has gone stale:
// the failure is logged once, with the rule's name and not its expression,
// and the recovery once.
func TestFailureLoggedOnce(t *testing.T) {
	t.Parallel()
	st := promqltest.LoadedStorage(t, "load 1m\n  m1 1+0x20\n  m2 1+0x5\n")
	eng := promqltest.NewTestEngine(t, false, 5*time.Minute, 1e6)
	var logs syncBuffer
	m, err := New(Options{Appendable: st, Queryable: st, Engine: eng, Interval: 30 * time.Second,
		Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	set := Builtin{Name: "t", Groups: rulefmt.RuleGroups{Groups: []rulefmt.RuleGroup{{Name: "g", Rules: []rulefmt.Rule{
		{Record: "ok:m1", Expr: "m1"},
		{Record: "failing:both", Expr: `{__name__=~"m1|m2"} * 1`},
	}}}}}
	if err := m.ApplyConfig(nil, set); err != nil {
		t.Fatal(err)
	}
	for _, min := range []int{1, 2, 3, 4, 15, 16} {
		m.EvalAt(t.Context(), time.Unix(0, 0).Add(time.Duration(min)*time.Minute))
		if min == 4 {
			if h := m.Health(); h[1].Err == nil {
				t.Fatalf("rule %s did not fail at 4m: the test shows nothing", h[1].Rule)
			}
		}
	}
	out := logs.String()
	if n := strings.Count(out, "Evaluating rule failed"); n != 1 {
		t.Errorf("failure logged %d times, want once:\n%s", n, out)
	}
	if n := strings.Count(out, "Rule evaluation recovered"); n != 1 {
		t.Errorf("recovery logged %d times, want once:\n%s", n, out)
	}
	if !strings.Contains(out, "name=failing:both") {
		t.Errorf("logs do not name the rule:\n%s", out)
	}
	if strings.Contains(out, "m1|m2") {
		t.Errorf("logs carry the rule's expression:\n%s", out)
	}
	if h := m.Health(); h[1].Err != nil {
		t.Errorf("rule still failing at 16m: %v", h[1].Err)
	}
}

// TestFailureChangeLogged: a new error for the same rule is logged again.
func TestFailureChangeLogged(t *testing.T) {
	t.Parallel()
	var logs syncBuffer
	f := newFailures(slog.New(slog.NewTextHandler(&logs, nil)))
	h := (&handler{next: slog.NewTextHandler(&logs, nil), f: f}).WithAttrs([]slog.Attr{slog.String("file", "f"), slog.String("group", "g")}).
		WithAttrs([]slog.Attr{slog.String("name", "r"), slog.Int("index", 0)})
	l := slog.New(h)
	for _, e := range []string{"a", "a", "b", "b", "a"} {
		l.Warn("Evaluating rule failed", "rule", "expr text", "err", e)
	}
	l.Warn("something else", "x", 1)
	out := logs.String()
	if n := strings.Count(out, "Evaluating rule failed"); n != 3 {
		t.Errorf("logged %d failures, want 3 (a, b, a):\n%s", n, out)
	}
	if strings.Contains(out, "expr text") || !strings.Contains(out, "something else") {
		t.Errorf("logs:\n%s", out)
	}
}
