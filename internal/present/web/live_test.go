package web

import (
	"context"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/servescope/servescope/internal/schema"
)

// liveFakes records when the diagnosis panels read, and answers AsOf with
// a fixed earlier evaluation.
type liveFakes struct {
	asOf time.Time
	mu   sync.Mutex
	asks int
	read []time.Time
}

func (l *liveFakes) AsOf(context.Context, time.Time, time.Duration) time.Time {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.asks++
	return l.asOf
}

func (l *liveFakes) note(at time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.read = append(l.read, at)
}

func (l *liveFakes) Findings(_ context.Context, at time.Time, _ time.Duration) ([]Finding, error) {
	l.note(at)
	return []Finding{{Subject: "pod-a", State: "idle", Severity: "warning", Summary: "idle"}}, nil
}

func (l *liveFakes) TeamCosts(_ context.Context, at time.Time, _ time.Duration) ([]TeamCost, error) {
	l.note(at)
	return []TeamCost{{Team: "a", Allocated: 1}}, nil
}

// TestLivePagesReadKeptDiagnosis: a page following the clock asks Live
// once and reads every diagnosis panel at the time it gives, saying so;
// a page with an explicit end reads at that end and never asks.
func TestLivePagesReadKeptDiagnosis(t *testing.T) {
	cat, err := schema.New(schema.Options{})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 3, 2, 12, 0, 30, 0, time.UTC)
	kept := now.Add(-70 * time.Second)
	for _, tc := range []struct {
		name     string
		query    url.Values
		wantAt   time.Time
		wantAsks int
		wantAsOf bool
	}{
		{"live", nil, kept, 1, true},
		{"explicit end", url.Values{"end": {now.Format(time.RFC3339)}}, now, 0, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l := &liveFakes{asOf: kept}
			h, err := New(Options{Querier: fakeQuerier{}, Catalog: cat, Findings: l, Costs: l, Live: l, Now: func() time.Time { return now }})
			if err != nil {
				t.Fatal(err)
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, httptest.NewRequestWithContext(t.Context(), "GET", "/?"+tc.query.Encode(), nil))
			if rec.Code != 200 {
				t.Fatalf("GET /: %d", rec.Code)
			}
			if l.asks != tc.wantAsks {
				t.Errorf("Live asked %d times, want %d", l.asks, tc.wantAsks)
			}
			if len(l.read) < 2 {
				t.Fatalf("diagnosis panels read %d times, want the findings and the costs", len(l.read))
			}
			for _, at := range l.read {
				if !at.Equal(tc.wantAt) {
					t.Errorf("a diagnosis panel read at %s, want %s", at, tc.wantAt)
				}
			}
			note := "diagnosis as of " + kept.Format("15:04:05") + " UTC"
			if got := strings.Count(rec.Body.String(), note); (got > 0) != tc.wantAsOf || (tc.wantAsOf && got < 2) {
				t.Errorf("the page says %q %d times, want it on each diagnosis panel: %v", note, got, tc.wantAsOf)
			}
		})
	}
}
