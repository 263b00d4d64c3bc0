package web

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/servescope/servescope/internal/analyze/query"
	"github.com/servescope/servescope/internal/schema"
)

// gatedQuerier holds the queue panels' range queries until the diagnosis has started
// (started is closed), as the query panels of a cold page wait for the
// engine while the diagnosis is evaluated.
type gatedQuerier struct {
	fakeQuerier
	started chan struct{}
	mu      sync.Mutex
	starved bool
}

func (g *gatedQuerier) QueryRange(ctx context.Context, q string, r query.Range) (query.Result, error) {
	if !strings.Contains(q, "queue") { // the page's own reads (selectors) pass
		return g.fakeQuerier.QueryRange(ctx, q, r)
	}
	select {
	case <-g.started:
	case <-ctx.Done():
		return query.Result{}, ctx.Err()
	case <-time.After(10 * time.Second): // the diagnosis never started: do not hang the test
		g.mu.Lock()
		g.starved = true
		g.mu.Unlock()
	}
	return g.fakeQuerier.QueryRange(ctx, q, r)
}

// startedCosts closes started when the page asks for the team costs
// (the diagnosis).
type startedCosts struct {
	once    sync.Once
	started chan struct{}
}

func (s *startedCosts) TeamCosts(ctx context.Context, at time.Time, w time.Duration) ([]TeamCost, error) {
	s.once.Do(func() { close(s.started) })
	return fakeCosts{}.TeamCosts(ctx, at, w)
}

// TestDiagnosisPanelsHoldNoQuerySlot: the Queues page's five query panels
// fill its query slots and wait for the engine; the team-cost panel (the
// diagnosis) starts beside them instead of after them.
func TestDiagnosisPanelsHoldNoQuerySlot(t *testing.T) {
	t.Parallel()
	cat, err := schema.New(schema.Options{})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 3, 2, 12, 0, 0, 0, time.UTC)
	started := make(chan struct{})
	q := &gatedQuerier{fakeQuerier: fakeQuerier{end: now}, started: started}
	h, err := New(Options{Querier: q, Catalog: cat, Costs: &startedCosts{started: started}, Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequestWithContext(t.Context(), http.MethodGet, "/queues", nil))
	if rec.Code != http.StatusOK {
		t.Fatalf("status %d", rec.Code)
	}
	body := rec.Body.String()
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.starved {
		t.Error("the query panels waited for a diagnosis that started only after them")
	}
	if strings.Contains(body, `data-state="error"`) {
		t.Errorf("a panel failed: %s", body)
	}
}
