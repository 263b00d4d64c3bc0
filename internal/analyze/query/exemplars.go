package query

import (
	"context"
	"fmt"
	"time"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/timestamp"
	"github.com/prometheus/prometheus/promql/parser"
	"github.com/prometheus/prometheus/storage"
)

// ExemplarSeries is one series' exemplars, as /api/v1/query_exemplars
// answers them.
type ExemplarSeries struct {
	SeriesLabels model.LabelSet `json:"seriesLabels"`
	Exemplars    []Exemplar     `json:"exemplars"`
}

// Exemplar is one exemplar: its labels (a trace ID), value and time.
type Exemplar struct {
	Labels    model.LabelSet    `json:"labels"`
	Value     model.SampleValue `json:"value"`
	Timestamp model.Time        `json:"timestamp"`
}

// Exemplars returns the exemplars of the series that the query's
// selectors select within [start, end], as /api/v1/query_exemplars
// answers them. A query that does not parse is bad data. The embedded
// store answers none unless its exemplar storage is enabled.
func (e *Engine) Exemplars(ctx context.Context, qs string, start, end time.Time) ([]ExemplarSeries, error) {
	expr, err := e.parser.ParseExpr(qs)
	if err != nil {
		return nil, badData("invalid parameter \"query\": %w", err)
	}
	out := []ExemplarSeries{}
	selectors := parser.ExtractSelectors(expr)
	eqa, ok := e.queryable.(storage.ExemplarQueryable)
	if len(selectors) == 0 || !ok {
		return out, nil
	}
	eq, err := eqa.ExemplarQuerier(ctx)
	if err != nil {
		return nil, &Error{Type: ErrExec, Err: fmt.Errorf("exemplar querier: %w", err)}
	}
	res, err := eq.Select(timestamp.FromTime(start), timestamp.FromTime(end), selectors...)
	if err != nil {
		return nil, &Error{Type: ErrExec, Err: fmt.Errorf("select exemplars: %w", err)}
	}
	for _, r := range res {
		q := ExemplarSeries{SeriesLabels: model.LabelSet(metric(r.SeriesLabels)), Exemplars: make([]Exemplar, 0, len(r.Exemplars))}
		for _, ex := range r.Exemplars {
			q.Exemplars = append(q.Exemplars, Exemplar{Labels: model.LabelSet(metric(ex.Labels)),
				Value: model.SampleValue(ex.Value), Timestamp: model.Time(ex.Ts)})
		}
		out = append(out, q)
	}
	return out, nil
}
