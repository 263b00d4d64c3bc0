package script

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/prometheus/common/model"

	"github.com/servescope/servescope/internal/analyze/query"
)

// countingQuerier answers every query with one series and counts the
// evaluations; the query "bad" fails.
type countingQuerier struct {
	query.Querier
	n int
}

func (c *countingQuerier) QueryRange(_ context.Context, q string, r query.Range) (query.Result, error) {
	c.n++
	if q == "bad" {
		return query.Result{}, errors.New("bad query")
	}
	return query.Result{Value: model.Matrix{{Metric: model.Metric{"q": model.LabelValue(q)},
		Values: []model.SamplePair{{Timestamp: model.TimeFromUnix(r.Start.Unix()), Value: 1}}}}}, nil
}

func (c *countingQuerier) Query(_ context.Context, q string, t time.Time) (query.Result, error) {
	c.n++
	return query.Result{Value: model.Vector{{Metric: model.Metric{"q": model.LabelValue(q)}, Timestamp: model.TimeFromUnix(t.Unix()), Value: 1}}}, nil
}

func TestMemo(t *testing.T) {
	c := &countingQuerier{}
	m := NewMemo(c)
	ctx := t.Context()
	r := query.Range{Start: time.Unix(0, 0), End: time.Unix(60, 0), Step: time.Minute}
	first, err := m.QueryRange(ctx, "up", r)
	if err != nil {
		t.Fatal(err)
	}
	// A caller's changes reach no other caller.
	first.Value.(model.Matrix)[0].Values[0].Value = 7
	first.Value.(model.Matrix)[0].Metric["q"] = "changed"
	again, err := m.QueryRange(ctx, "up", r)
	if err != nil {
		t.Fatal(err)
	}
	if s := again.Value.(model.Matrix)[0]; c.n != 1 || s.Values[0].Value != 1 || s.Metric["q"] != "up" {
		t.Errorf("second identical range query: %d evaluations, answer %v", c.n, s)
	}
	// Another range, another step, another text, an instant query: each
	// evaluated.
	r2 := r
	r2.Step = 30 * time.Second
	for _, q := range []func() error{
		func() error {
			_, err := m.QueryRange(ctx, "up", query.Range{Start: r.Start, End: r.End.Add(time.Minute), Step: r.Step})
			return err
		},
		func() error { _, err := m.QueryRange(ctx, "up", r2); return err },
		func() error { _, err := m.QueryRange(ctx, "down", r); return err },
		func() error { _, err := m.Query(ctx, "up", r.Start); return err },
		func() error { _, err := m.Query(ctx, "up", r.End); return err },
		func() error { _, err := m.Query(ctx, "up", r.End); return err },
	} {
		if err := q(); err != nil {
			t.Fatal(err)
		}
	}
	if c.n != 6 {
		t.Errorf("%d evaluations, want 6", c.n)
	}
	// Errors are not kept.
	for range 2 {
		if _, err := m.QueryRange(ctx, "bad", r); err == nil {
			t.Error("bad query: no error")
		}
	}
	if c.n != 8 {
		t.Errorf("a failed query answered from the memo (%d evaluations, want 8)", c.n)
	}
}
