package main

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/prometheus/common/model"

	"github.com/servescope/servescope/internal/analyze/query"
)

// coverageQuery says whether the store had data at a step: any scrape.
const coverageQuery = `count(up)`

// coverage is the span of [start, end] in which the server has data, read
// at about 240 steps; ok is false when it has none.
func coverage(ctx context.Context, q query.Querier, start, end time.Time) (from, to time.Time, ok bool, err error) {
	step := max(end.Sub(start)/240, 15*time.Second)
	res, err := q.QueryRange(ctx, coverageQuery, query.Range{Start: start, End: end, Step: step})
	if err != nil {
		return time.Time{}, time.Time{}, false, fmt.Errorf("coverage: %w", err)
	}
	m, _ := res.Value.(model.Matrix)
	for _, s := range m {
		for _, p := range s.Values {
			t := p.Timestamp.Time().UTC()
			if !ok || t.Before(from) {
				from = t
			}
			if !ok || t.After(to) {
				to = t
			}
			ok = true
		}
	}
	return from, to, ok, nil
}

// warnCoverage writes a warning, as `cost` does, when the data covers
// less of the window [at-window, at] than all of it (a step of slack).
func warnCoverage(ctx context.Context, w io.Writer, server string, at time.Time, window time.Duration) error {
	q, err := query.NewRemote(server)
	if err != nil {
		return err
	}
	start := at.Add(-window)
	from, to, ok, err := coverage(ctx, q, start, at)
	if err != nil {
		return err
	}
	slack := max(window/240, 15*time.Second) + time.Minute
	switch {
	case !ok:
		fmt.Fprintf(w, "warning: no data in the %s window\n", window)
	case from.Sub(start) > slack || at.Sub(to) > slack:
		fmt.Fprintf(w, "warning: data covers only %s to %s (%s) of the %s window; the figures are over that span\n",
			from.Format(time.RFC3339), to.Format(time.RFC3339), to.Sub(from).Round(time.Minute), window)
	}
	return nil
}
