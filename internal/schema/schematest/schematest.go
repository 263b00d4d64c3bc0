// Package schematest holds test helpers for the signal catalog: it
// evaluates PromQL with Prometheus's engine. Only _test.go files import it;
// it must not import schema or the simulator. Exposition is parsed in
// tests by internal/testutil/expo, through the product's parser (which
// this package, in the schema layer, may not import).
package schematest

import (
	"testing"
	"time"

	"github.com/prometheus/prometheus/promql"
	"github.com/prometheus/prometheus/storage"
)

// NewEngine returns a PromQL engine with Prometheus's defaults.
func NewEngine() *promql.Engine {
	return promql.NewEngine(promql.EngineOpts{MaxSamples: 5e6, Timeout: time.Minute, LookbackDelta: 5 * time.Minute})
}

// Instant evaluates q at ts, failing tb on error.
func Instant(tb testing.TB, eng *promql.Engine, st storage.Queryable, q string, ts time.Time) promql.Vector {
	tb.Helper()
	ctx := tb.Context()
	qry, err := eng.NewInstantQuery(ctx, st, nil, q, ts)
	if err != nil {
		tb.Fatalf("query %q: %v", q, err)
	}
	defer qry.Close()
	res := qry.Exec(ctx)
	if res.Err != nil {
		tb.Fatalf("exec %q: %v", q, res.Err)
	}
	v, err := res.Vector()
	if err != nil {
		tb.Fatalf("result of %q: %v", q, err)
	}
	return v
}

// Select keeps the series whose labels match; an empty value matches an
// absent label.
func Select(v promql.Vector, match map[string]string) promql.Vector {
	var out promql.Vector
	for _, s := range v {
		ok := true
		for k, val := range match {
			if s.Metric.Get(k) != val {
				ok = false
				break
			}
		}
		if ok {
			out = append(out, s)
		}
	}
	return out
}
