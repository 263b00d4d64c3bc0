package query

import (
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/promql/promqltest"
)

// TestCacheKeepsHistograms: a range query of native histograms answered
// from the cache has its histogram points, as evaluated.
func TestCacheKeepsHistograms(t *testing.T) {
	st := promqltest.LoadedStorage(t, `
load 15s
  ttft{pod="a"} {{schema:0 sum:1 count:2 buckets:[1 1]}}x20
`)
	t.Cleanup(func() { st.Close() })
	eng := NewEngine(st, EngineOptions{Timeout: time.Minute, MaxSamples: 1e6, Registerer: prometheus.NewRegistry()})
	cq := &countingQuerier{Querier: eng}
	clk := &clock{now: time.Unix(301, 0)}
	c, err := NewCache(cq, CacheOptions{Interval: 15 * time.Second, Registerer: prometheus.NewRegistry(), Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	r := Range{Start: time.Unix(60, 0), End: time.Unix(240, 0), Step: time.Minute}
	var points []int
	for range 2 {
		res, err := c.QueryRange(t.Context(), `ttft`, r)
		if err != nil {
			t.Fatal(err)
		}
		m, ok := res.Value.(model.Matrix)
		if !ok || len(m) != 1 {
			t.Fatalf("result %v, want one series", res.Value)
		}
		points = append(points, len(m[0].Histograms))
	}
	if cq.n.Load() != 1 {
		t.Errorf("%d evaluations, want 1 (the second from the cache)", cq.n.Load())
	}
	if points[0] != 4 || points[1] != points[0] {
		t.Errorf("histogram points: evaluated %d, from the cache %d; want 4 each", points[0], points[1])
	}
}
