package query

import (
	"context"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql/promqltest"
)

// rangeRecorder records the ranges that reach the engine, per query.
type rangeRecorder struct {
	Querier
	mu     sync.Mutex
	ranges map[string][]Range
}

func (r *rangeRecorder) QueryRange(ctx context.Context, q string, rg Range) (Result, error) {
	r.mu.Lock()
	r.ranges[q] = append(r.ranges[q], rg)
	r.mu.Unlock()
	return r.Querier.QueryRange(ctx, q, rg)
}

// TestCacheExtents: a page following the clock asks for the last ten
// minutes every 20 s; through the cache each answer equals the engine's
// own over the same aligned range (counters, aggregations, native
// histograms, a series that starts late, one that ends, a sample that
// arrives after an answer), while the engine evaluates only the points
// after the kept final ones, except for a query reading its range's end.
func TestCacheExtents(t *testing.T) {
	st := promqltest.LoadedStorage(t, `
load 15s
  reqs_total{pod="a"} 0+10x120
  reqs_total{pod="b"} 0+3x40
  running{pod="a"} 1+1x120
  running{pod="c"} _x60 5+1x60
  ttft{pod="a"} {{schema:0 sum:1 count:2 buckets:[1 1]}}+{{schema:0 sum:1 count:2 buckets:[1 1]}}x120
`)
	t.Cleanup(func() { st.Close() })
	eng := NewEngine(st, EngineOptions{Timeout: time.Minute, MaxSamples: 1e6, Registerer: prometheus.NewRegistry()})
	rec := &rangeRecorder{Querier: eng, ranges: map[string][]Range{}}
	clk := &clock{}
	reg := prometheus.NewRegistry()
	const settle = time.Minute
	c, err := NewCache(rec, CacheOptions{Interval: 15 * time.Second, Settle: settle, Registerer: reg, Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	queries := []string{`rate(reqs_total[1m])`, `sum by (pod) (running)`, `running`, `ttft`, `histogram_quantile(0.9, rate(ttft[1m]))`, `running @ end()`}
	const step = 15 * time.Second
	for k := range 30 {
		now := time.Unix(900, 0).Add(time.Duration(k) * 20 * time.Second)
		clk.Set(now)
		if k == 15 { // a late sample, inside the points not yet final
			app := st.Appender(t.Context())
			if _, err := app.Append(0, labels.FromStrings("__name__", "running", "pod", "late"), now.Add(-50*time.Second).UnixMilli(), 7); err != nil {
				t.Fatal(err)
			}
			if err := app.Commit(); err != nil {
				t.Fatal(err)
			}
		}
		r := Range{Start: now.Add(-10 * time.Minute), End: now, Step: step}
		aligned := Range{Start: r.Start.Truncate(step), End: r.End.Truncate(step), Step: step}
		for _, q := range queries {
			got, err := c.QueryRange(t.Context(), q, r)
			if err != nil {
				t.Fatal(err)
			}
			want, err := eng.QueryRange(t.Context(), q, aligned)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(normal(got.Value), normal(want.Value)) {
				t.Fatalf("at %s, %s: cached\n%v\nwant\n%v", now.UTC().Format(time.TimeOnly), q, got.Value, want.Value)
			}
		}
	}
	for _, q := range queries {
		rs := rec.ranges[q]
		if len(rs) != 30 {
			t.Errorf("%s: %d evaluations, want one per refresh (30)", q, len(rs))
			continue
		}
		for i, rg := range rs[1:] {
			full := rg.End.Sub(rg.Start) >= 10*time.Minute-step
			if want := q == `running @ end()`; full != want {
				t.Errorf("%s, refresh %d: evaluated %s..%s, a full range: %v, want %v", q, i+1, rg.Start.Format(time.TimeOnly), rg.End.Format(time.TimeOnly), full, want)
			}
			if !full && rg.End.Sub(rg.Start) > settle+20*time.Second+step {
				t.Errorf("%s, refresh %d: evaluated %s, want only the points after the final ones", q, i+1, rg.End.Sub(rg.Start))
			}
		}
	}
	if n := testutil.ToFloat64(c.requests.WithLabelValues("partial")); n != 5*29 {
		t.Errorf("partial answers counted %v, want %d", n, 5*29)
	}
}

// normal is a matrix with empty point lists as nil, for comparison.
func normal(v model.Value) model.Value {
	m, ok := v.(model.Matrix)
	if !ok {
		return v
	}
	out := make(model.Matrix, len(m))
	for i, s := range m {
		c := *s
		if len(c.Values) == 0 {
			c.Values = nil
		}
		if len(c.Histograms) == 0 {
			c.Histograms = nil
		}
		out[i] = &c
	}
	return out
}

// TestCacheMaxPoints: the cached results hold at most MaxPoints samples
// together; a larger result is answered but not kept.
func TestCacheMaxPoints(t *testing.T) {
	st := promqltest.LoadedStorage(t, cacheLoad)
	t.Cleanup(func() { st.Close() })
	eng := NewEngine(st, EngineOptions{Timeout: time.Minute, MaxSamples: 1e6, Registerer: prometheus.NewRegistry()})
	cq := &countingQuerier{Querier: eng}
	clk := &clock{now: time.Unix(400, 0)}
	c, err := NewCache(cq, CacheOptions{Interval: 15 * time.Second, MaxPoints: 20, Registerer: prometheus.NewRegistry(), Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	small := Range{Start: time.Unix(0, 0), End: time.Unix(60, 0), Step: 15 * time.Second}  // 5 points
	large := Range{Start: time.Unix(0, 0), End: time.Unix(300, 0), Step: 15 * time.Second} // 21 points
	for _, r := range []Range{small, small, large, large} {
		if _, err := c.QueryRange(t.Context(), `vllm:num_requests_running`, r); err != nil {
			t.Fatal(err)
		}
	}
	// small: once (then kept as a result and an extent, 10 points); large: twice, never kept.
	if n := cq.n.Load(); n != 3 {
		t.Errorf("%d evaluations, want 3", n)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.used > 20 {
		t.Errorf("%d points kept, bound 20", c.used)
	}
}
