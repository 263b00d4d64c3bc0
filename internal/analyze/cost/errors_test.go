package cost_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/prometheus/util/teststorage"

	"github.com/servescope/servescope/internal/analyze/cost"
	"github.com/servescope/servescope/internal/analyze/query"
)

// failingQuerier fails every query with an execution error.
type failingQuerier struct{}

func (failingQuerier) QueryRange(context.Context, string, query.Range) (query.Result, error) {
	return query.Result{}, &query.Error{Type: query.ErrExec, Err: errors.New("boom")}
}

// LabelValues finds no cluster label, so the range queries fail.
func (failingQuerier) LabelValues(context.Context, string, []string, time.Time, time.Time) ([]string, error) {
	return nil, nil
}

func TestComputeErrors(t *testing.T) {
	t.Parallel()
	calc := newCalc(t, nil)
	empty := query.NewEngine(teststorage.New(t), query.EngineOptions{Registerer: prometheus.NewRegistry(), MaxSamples: 1e6, Timeout: time.Minute})
	start := time.Unix(0, 0)
	tests := []struct {
		name string
		q    cost.Querier
		req  cost.Request
		typ  query.ErrorType
	}{
		{"query error keeps its type", failingQuerier{}, cost.Request{Start: start, End: start.Add(time.Hour)}, query.ErrExec},
		{"end before start", empty, cost.Request{Start: start, End: start}, query.ErrBadData},
		{"shorter than a step", empty, cost.Request{Start: start, End: start.Add(time.Second), Step: time.Minute}, query.ErrBadData},
		{"bad aggregate", empty, cost.Request{Start: start, End: start.Add(time.Hour), By: "pod"}, query.ErrBadData},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := calc.Compute(t.Context(), tc.q, tc.req)
			if err == nil {
				t.Fatal("no error")
			}
			if tc.typ != "" && query.TypeOf(err) != tc.typ {
				t.Errorf("error type %s, want %s (%v)", query.TypeOf(err), tc.typ, err)
			}
		})
	}
}
