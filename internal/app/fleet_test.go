package app

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/prometheus/util/teststorage"

	"github.com/servescope/servescope/internal/analyze/diagnose"
	"github.com/servescope/servescope/internal/analyze/query"
	"github.com/servescope/servescope/internal/schema"
)

// countingQuerier counts the queries that reach it (and those marked
// background) and fails them while fail is set.
type countingQuerier struct {
	query.Querier
	n, bg atomic.Int64
	fail  atomic.Bool
}

func (c *countingQuerier) count(ctx context.Context) {
	c.n.Add(1)
	if query.IsBackground(ctx) {
		c.bg.Add(1)
	}
}

func (c *countingQuerier) Query(ctx context.Context, q string, t time.Time) (query.Result, error) {
	c.count(ctx)
	if c.fail.Load() {
		return query.Result{}, errors.New("backend down")
	}
	return c.Querier.Query(ctx, q, t)
}

func (c *countingQuerier) QueryRange(ctx context.Context, q string, r query.Range) (query.Result, error) {
	c.count(ctx)
	if c.fail.Load() {
		return query.Result{}, errors.New("backend down")
	}
	return c.Querier.QueryRange(ctx, q, r)
}

func newCountedView(t *testing.T) (*fleetView, *countingQuerier) {
	t.Helper()
	eng := query.NewEngine(teststorage.New(t), query.EngineOptions{Timeout: time.Minute, MaxSamples: 1_000_000, Registerer: prometheus.NewRegistry()})
	cq := &countingQuerier{Querier: eng}
	cat, err := schema.New(schema.Options{})
	if err != nil {
		t.Fatal(err)
	}
	calc, err := NewCostCalculator(CostOptions{Catalog: cat})
	if err != nil {
		t.Fatal(err)
	}
	v, err := newFleetView(cq, cat, calc, diagnose.DefaultThresholds(), false, nil)
	if err != nil {
		t.Fatal(err)
	}
	return v, cq
}

// TestFleetViewSharesEvaluations: the panels and viewers asking for one
// (time, window) at once share one evaluation; a page following the clock
// reads the newest kept evaluation while it is young, has it evaluated
// again in the background once it is older than liveRefresh, and
// evaluates anew past liveMaxAge; a failure answers its time briefly only.
func TestFleetViewSharesEvaluations(t *testing.T) {
	v, cq := newCountedView(t)
	ctx := t.Context()
	t0 := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC) // the windows cross no midnight (a split)
	const window = time.Hour

	// Concurrent callers of one key: one evaluation.
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			if _, err := v.diagnose(ctx, t0, window); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	diagnosis := cq.n.Load()
	if diagnosis == 0 {
		t.Fatal("the evaluation issued no query")
	}
	for range 4 {
		wg.Go(func() {
			if _, err := v.Findings(ctx, t0, window); err != nil {
				t.Error(err)
			}
			if _, err := v.Fleet(ctx, t0, window); err != nil {
				t.Error(err)
			}
			if _, err := v.TeamCosts(ctx, t0, window); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	one := cq.n.Load() // the diagnosis and the fleet summary's
	a, err := v.Fleet(ctx, t0, window)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := v.Fleet(ctx, t0, window)
	if a != b {
		t.Error("the fleet summary was built twice for one evaluation")
	}
	if got := cq.n.Load(); got != one {
		t.Fatalf("one key evaluated more than once: %d queries, one evaluation issues %d", got, one)
	}

	// A page following the clock, 30 s later: the kept evaluation, no query.
	if at := v.AsOf(ctx, t0.Add(30*time.Second), window); !at.Equal(t0) {
		t.Errorf("AsOf 30s later = %s, want the kept %s", at, t0)
	}
	if got := cq.n.Load(); got != one {
		t.Errorf("a young kept evaluation was evaluated again (%d queries)", got-one)
	}
	// Another window is never answered by this one.
	if at := v.AsOf(ctx, t0.Add(30*time.Second), 2*window); !at.Equal(t0.Add(30 * time.Second)) {
		t.Errorf("AsOf of another window = %s, want now", at)
	}

	// Older than liveRefresh: still the kept one, and a fresh one in the
	// background, which later pages read.
	t1 := t0.Add(liveRefresh + time.Second)
	if at := v.AsOf(ctx, t1, window); !at.Equal(t0) {
		t.Errorf("AsOf past the refresh age = %s, want the kept %s while refreshing", at, t0)
	}
	if _, err := v.diagnose(ctx, t1, window); err != nil { // waits for the background evaluation
		t.Fatal(err)
	}
	if got := cq.n.Load(); got != one+diagnosis {
		t.Errorf("the background refresh issued %d queries, want one evaluation's %d", got-one, diagnosis)
	}
	// Its queries, and only its, leave a query slot to the pages'.
	if bg := cq.bg.Load(); bg != diagnosis {
		t.Errorf("%d queries marked background, want the refresh's %d", bg, diagnosis)
	}
	if at := v.AsOf(ctx, t1.Add(time.Second), window); !at.Equal(t1) {
		t.Errorf("AsOf after the refresh = %s, want %s", at, t1)
	}

	// Past liveMaxAge: nothing kept is young enough; the page evaluates now.
	t2 := t1.Add(liveMaxAge + time.Second)
	if at := v.AsOf(ctx, t2, window); !at.Equal(t2) {
		t.Errorf("AsOf past the maximum age = %s, want now %s", at, t2)
	}

	// A failure answers its own time while young, is retried after.
	cq.fail.Store(true)
	if _, err := v.Findings(ctx, t2, window); err == nil {
		t.Fatal("no error from a failing backend")
	}
	cq.fail.Store(false)
	if _, err := v.Findings(ctx, t2, window); err == nil {
		t.Error("a failed evaluation was not kept for the page's other panels")
	}
	if at := v.AsOf(ctx, t2.Add(time.Second), window); !at.Equal(t1) && !at.Equal(t2.Add(time.Second)) {
		t.Errorf("AsOf read a failed evaluation: %s", at)
	}
}

// TestFleetViewFailedRetried: a failed evaluation is evaluated again once
// failedTTL has passed on the clock.
func TestFleetViewFailedRetried(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		v, cq := newCountedView(t)
		ctx := t.Context()
		t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
		cq.fail.Store(true)
		if _, err := v.Findings(ctx, t0, time.Hour); err == nil {
			t.Fatal("no error from a failing backend")
		}
		cq.fail.Store(false)
		time.Sleep(failedTTL + time.Second)
		if _, err := v.Findings(ctx, t0, time.Hour); err != nil {
			t.Errorf("a failed evaluation was not retried after %s: %v", failedTTL, err)
		}
	})
}

// TestFleetViewBounded: at most maxEvals finished evaluations are kept,
// the newest.
func TestFleetViewBounded(t *testing.T) {
	v, _ := newCountedView(t)
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := range maxEvals + 3 {
		if _, err := v.Findings(t.Context(), t0.Add(time.Duration(i)*time.Minute), time.Hour); err != nil {
			t.Fatal(err)
		}
	}
	// The last one started evicts before it finishes: maxEvals+1 at most.
	if n := len(v.evals); n > maxEvals+1 {
		t.Errorf("%d evaluations kept, want at most %d", n, maxEvals+1)
	}
	if _, ok := v.evals[evalKey{t0, time.Hour}]; ok {
		t.Error("the oldest evaluation was kept")
	}
}
