// Package schematest holds test helpers for the signal catalog: it parses
// exposition text with Prometheus's textparse, attaches target labels the
// way a scrape does, and evaluates PromQL with Prometheus's engine. Only
// _test.go files import it; it must not import schema or the simulator.
package schematest

import (
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/model/textparse"
	"github.com/prometheus/prometheus/promql"
	"github.com/prometheus/prometheus/storage"
)

// Sample is one parsed exposition sample.
type Sample struct {
	Labels labels.Labels
	Value  float64
	// Cumulative is set for counters and histogram or summary buckets, sums
	// and counts.
	Cumulative bool
}

// ParseExposition parses text-format exposition b.
func ParseExposition(tb testing.TB, b []byte) []Sample {
	tb.Helper()
	p, err := textparse.New(b, "text/plain; version=0.0.4", labels.NewSymbolTable(), textparse.ParserOptions{})
	if err != nil {
		tb.Fatalf("textparse: %v", err)
	}
	types := map[string]model.MetricType{}
	var out []Sample
	for {
		e, err := p.Next()
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			tb.Fatalf("parse exposition: %v", err)
		}
		switch e {
		case textparse.EntryType:
			name, typ := p.Type()
			types[string(name)] = typ
		case textparse.EntrySeries:
			var ls labels.Labels
			p.Labels(&ls)
			_, _, v := p.Series()
			out = append(out, Sample{Labels: ls, Value: v, Cumulative: cumulative(types, ls.Get(model.MetricNameLabel))})
		}
	}
}

func cumulative(types map[string]model.MetricType, name string) bool {
	if types[name] == model.MetricTypeCounter {
		return true
	}
	for _, suf := range []string{"_bucket", "_sum", "_count"} {
		if base, ok := strings.CutSuffix(name, suf); ok {
			switch types[base] {
			case model.MetricTypeHistogram, model.MetricTypeSummary:
				return true
			}
		}
	}
	return false
}

// WithTarget attaches target labels as a scrape does: with honor, the
// exposed label wins; without, a clashing exposed label is kept as
// exported_<name>.
func WithTarget(ls, target labels.Labels, honor bool) labels.Labels {
	b := labels.NewBuilder(ls)
	target.Range(func(l labels.Label) {
		if ev := ls.Get(l.Name); ev != "" {
			if honor {
				return
			}
			b.Set("exported_"+l.Name, ev)
		}
		b.Set(l.Name, l.Value)
	})
	return b.Labels()
}

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
