package script

import (
	"context"
	"sync"
	"time"

	"github.com/servescope/servescope/internal/analyze/query"
)

// Memo is a Querier that evaluates each distinct query once: an instant
// query by its text and time, a range query by its text, start, end and
// step. A test that reads the same store twice (a diagnosis and then its
// snapshot, a report cut into chunks of several sizes) so checks every
// figure without evaluating the same query again; the engine is
// deterministic over a store that no longer changes, so the answers are
// those it would give. Errors are never kept; Series and label calls pass
// through. Every caller gets its own copy of a result.
type Memo struct {
	query.Querier

	mu sync.Mutex
	m  map[memoKey]query.Result
}

type memoKey struct {
	q                string
	start, end, step int64
	instant          bool
}

// NewMemo wraps q, which must read a store no longer written.
func NewMemo(q query.Querier) *Memo {
	return &Memo{Querier: q, m: map[memoKey]query.Result{}}
}

// Query evaluates q at t once.
func (m *Memo) Query(ctx context.Context, q string, t time.Time) (query.Result, error) {
	return m.get(memoKey{q: q, start: t.UnixNano(), instant: true}, func() (query.Result, error) { return m.Querier.Query(ctx, q, t) })
}

// QueryRange evaluates q over r once.
func (m *Memo) QueryRange(ctx context.Context, q string, r query.Range) (query.Result, error) {
	return m.get(memoKey{q: q, start: r.Start.UnixNano(), end: r.End.UnixNano(), step: int64(r.Step)}, func() (query.Result, error) {
		return m.Querier.QueryRange(ctx, q, r)
	})
}

func (m *Memo) get(k memoKey, eval func() (query.Result, error)) (query.Result, error) {
	m.mu.Lock()
	res, ok := m.m[k]
	m.mu.Unlock()
	if ok {
		return query.CloneResult(res), nil
	}
	res, err := eval()
	if err != nil {
		return res, err
	}
	m.mu.Lock()
	m.m[k] = query.CloneResult(res)
	m.mu.Unlock()
	return res, nil
}
