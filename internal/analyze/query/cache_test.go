package query

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql/promqltest"
)

// countingQuerier counts the evaluations that reach the engine and, when
// gate is set, holds each until gate closes.
type countingQuerier struct {
	Querier
	n    atomic.Int64
	gate chan struct{}
}

func (c *countingQuerier) Query(ctx context.Context, q string, t time.Time) (Result, error) {
	c.n.Add(1)
	if c.gate != nil {
		<-c.gate
	}
	return c.Querier.Query(ctx, q, t)
}

func (c *countingQuerier) QueryRange(ctx context.Context, q string, r Range) (Result, error) {
	c.n.Add(1)
	return c.Querier.QueryRange(ctx, q, r)
}

// clock is a settable time source.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time  { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *clock) Set(t time.Time) { c.mu.Lock(); defer c.mu.Unlock(); c.now = t }

const cacheLoad = `
load 15s
  vllm:num_requests_running{pod="a"} 1+1x20
`

// TestCache: a table of queries through one cache, in order, each with
// the wall clock at that moment, whether the engine evaluates it and the
// value the viewer sees.
func TestCache(t *testing.T) {
	st := promqltest.LoadedStorage(t, cacheLoad)
	t.Cleanup(func() { st.Close() })
	eng := NewEngine(st, EngineOptions{Timeout: time.Minute, MaxSamples: 1e6, Registerer: prometheus.NewRegistry()})
	cq := &countingQuerier{Querier: eng}
	clk := &clock{}
	reg := prometheus.NewRegistry()
	c, err := NewCache(cq, CacheOptions{Interval: 15 * time.Second, MaxEntries: 4, Registerer: reg, Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	const q = `vllm:num_requests_running`
	sec := func(s float64) time.Time { return time.UnixMilli(int64(s * 1000)) }
	for _, tc := range []struct {
		name   string
		wall   float64 // seconds
		q      string
		at     float64
		append *float64 // a sample appended before the query, at wall
		eval   bool
		want   float64
		wantTS float64
	}{
		{name: "first viewer evaluates at the aligned time", wall: 301, q: q, at: 301, eval: true, want: 21, wantTS: 300},
		{name: "a second viewer later in the step is answered from the cache", wall: 305, q: q, at: 305, eval: false, want: 21, wantTS: 300},
		{name: "another query is its own entry", wall: 305, q: q + ` * 2`, at: 305, eval: true, want: 42, wantTS: 300},
		{name: "a new sample within the interval of the evaluation is not yet seen", wall: 310, q: q, at: 310, append: ptr(100.0), eval: false, want: 21, wantTS: 300},
		{name: "a new sample after the step is seen", wall: 316, q: q, at: 316, eval: true, want: 100, wantTS: 315},
		{name: "the old aligned time, after an interval, is evaluated again", wall: 317, q: q, at: 303, eval: true, want: 21, wantTS: 300},
	} {
		clk.Set(sec(tc.wall))
		if tc.append != nil {
			app := st.Appender(t.Context())
			if _, err := app.Append(0, labels.FromStrings("__name__", "vllm:num_requests_running", "pod", "a"), sec(tc.wall-1).UnixMilli(), *tc.append); err != nil {
				t.Fatal(err)
			}
			if err := app.Commit(); err != nil {
				t.Fatal(err)
			}
		}
		before := cq.n.Load()
		res, err := c.Query(t.Context(), tc.q, sec(tc.at))
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if got := cq.n.Load() > before; got != tc.eval {
			t.Errorf("%s: evaluated %v, want %v", tc.name, got, tc.eval)
		}
		v := res.Value.(model.Vector)
		if len(v) != 1 || float64(v[0].Value) != tc.want || v[0].Timestamp != model.TimeFromUnixNano(sec(tc.wantTS).UnixNano()) {
			t.Errorf("%s: got %v, want %g at %g", tc.name, v, tc.want, tc.wantTS)
		}
		// Each viewer has its own copy.
		v[0].Value = -1
		v[0].Metric["pod"] = "changed"
	}
	if got := testutil.ToFloat64(c.requests.WithLabelValues("hit")); got != 2 {
		t.Errorf("hits %g, want 2", got)
	}
	if got := testutil.ToFloat64(c.requests.WithLabelValues("miss")); got != 4 {
		t.Errorf("misses %g, want 4", got)
	}
}

func ptr[T any](v T) *T { return &v }

// TestCacheRange: range queries are aligned to their step and kept.
func TestCacheRange(t *testing.T) {
	st := promqltest.LoadedStorage(t, cacheLoad)
	t.Cleanup(func() { st.Close() })
	eng := NewEngine(st, EngineOptions{Timeout: time.Minute, MaxSamples: 1e6, Registerer: prometheus.NewRegistry()})
	cq := &countingQuerier{Querier: eng}
	clk := &clock{now: time.Unix(400, 0)}
	c, err := NewCache(cq, CacheOptions{Interval: 15 * time.Second, Registerer: prometheus.NewRegistry(), Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range []Range{
		{Start: time.Unix(61, 0), End: time.Unix(301, 0), Step: 30 * time.Second},
		{Start: time.Unix(89, 0), End: time.Unix(329, 0), Step: 30 * time.Second}, // same aligned range
	} {
		res, err := c.QueryRange(t.Context(), `vllm:num_requests_running`, r)
		if err != nil {
			t.Fatal(err)
		}
		m := res.Value.(model.Matrix)
		if len(m) != 1 || len(m[0].Values) != 9 || m[0].Values[0].Timestamp != model.TimeFromUnix(60) || m[0].Values[8].Timestamp != model.TimeFromUnix(300) {
			t.Errorf("range %d: %v", i, m)
		}
	}
	if n := cq.n.Load(); n != 1 {
		t.Errorf("%d evaluations of one aligned range, want 1", n)
	}
}

// TestCacheBounded: the oldest entries go when the cache is full, and
// errors are never kept.
func TestCacheBounded(t *testing.T) {
	st := promqltest.LoadedStorage(t, cacheLoad)
	t.Cleanup(func() { st.Close() })
	eng := NewEngine(st, EngineOptions{Timeout: time.Minute, MaxSamples: 1e6, Registerer: prometheus.NewRegistry()})
	cq := &countingQuerier{Querier: eng}
	c, err := NewCache(cq, CacheOptions{Interval: time.Minute, MaxEntries: 3, Registerer: prometheus.NewRegistry(), Now: func() time.Time { return time.Unix(400, 0) }})
	if err != nil {
		t.Fatal(err)
	}
	for _, at := range []int64{60, 120, 180, 240, 60} {
		if _, err := c.Query(t.Context(), `vllm:num_requests_running`, time.Unix(at, 0)); err != nil {
			t.Fatal(err)
		}
	}
	if c.Len() != 3 {
		t.Errorf("%d entries, want 3", c.Len())
	}
	if n := cq.n.Load(); n != 5 {
		t.Errorf("%d evaluations, want 5 (the first time evicted by the fourth)", n)
	}
	for range 2 {
		if _, err := c.Query(t.Context(), `sum(`, time.Unix(60, 0)); err == nil {
			t.Fatal("a bad query answered")
		}
	}
	if n := cq.n.Load(); n != 7 {
		t.Errorf("%d evaluations, want 7: an error is not kept", n)
	}
	if _, err := NewCache(eng, CacheOptions{Registerer: prometheus.NewRegistry()}); err == nil {
		t.Error("zero interval accepted")
	}
}

// TestCacheCoalesces: identical queries arriving while one is evaluated
// wait for it; the engine evaluates once.
func TestCacheCoalesces(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		st := promqltest.LoadedStorage(t, cacheLoad)
		t.Cleanup(func() { st.Close() })
		eng := NewEngine(st, EngineOptions{Timeout: time.Minute, MaxSamples: 1e6, Registerer: prometheus.NewRegistry()})
		cq := &countingQuerier{Querier: eng, gate: make(chan struct{})}
		reg := prometheus.NewRegistry()
		c, err := NewCache(cq, CacheOptions{Interval: 15 * time.Second, Registerer: reg})
		if err != nil {
			t.Fatal(err)
		}
		const viewers = 8
		at := time.Unix(300, 0)
		var wg sync.WaitGroup
		vals := make([]model.SampleValue, viewers)
		for i := range viewers {
			wg.Go(func() {
				res, err := c.Query(t.Context(), `vllm:num_requests_running`, at.Add(time.Duration(i)*time.Second))
				if err != nil {
					t.Error(err)
					return
				}
				vals[i] = res.Value.(model.Vector)[0].Value
			})
		}
		synctest.Wait() // every viewer is waiting on the one evaluation
		close(cq.gate)
		wg.Wait()
		if n := cq.n.Load(); n != 1 {
			t.Errorf("%d evaluations for %d identical viewers, want 1", n, viewers)
		}
		for i, v := range vals {
			if v != 21 {
				t.Errorf("viewer %d: %v, want 21", i, v)
			}
		}
		if got := testutil.ToFloat64(c.requests.WithLabelValues("coalesced")); got != viewers-1 {
			t.Errorf("coalesced %g, want %d", got, viewers-1)
		}
	})
}

// TestCacheReadOnly: a read-only caller (ReadOnly) gets the kept result
// itself, with capped slices, so that appending to it leaves what the next
// reader gets as it was; any other caller gets its own copy.
func TestCacheReadOnly(t *testing.T) {
	st := promqltest.LoadedStorage(t, cacheLoad)
	t.Cleanup(func() { st.Close() })
	eng := NewEngine(st, EngineOptions{Timeout: time.Minute, MaxSamples: 1e6, Registerer: prometheus.NewRegistry()})
	clk := &clock{}
	clk.Set(time.Unix(400, 0))
	c, err := NewCache(eng, CacheOptions{Interval: 15 * time.Second, Registerer: prometheus.NewRegistry(), Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	r := Range{Start: time.Unix(0, 0), End: time.Unix(300, 0), Step: 15 * time.Second}
	ro := ReadOnly(t.Context())
	get := func(ctx context.Context) *model.SampleStream {
		t.Helper()
		res, err := c.QueryRange(ctx, `vllm:num_requests_running`, r)
		if err != nil {
			t.Fatal(err)
		}
		m := res.Value.(model.Matrix)
		if len(m) != 1 || len(m[0].Values) != 21 || m[0].Values[20].Value != 21 {
			t.Fatalf("got %v", m)
		}
		return m[0]
	}
	first := get(ro) // evaluated
	if cap(first.Values) != len(first.Values) {
		t.Errorf("a shared result's samples are not capped: len %d, cap %d", len(first.Values), cap(first.Values))
	}
	_ = append(first.Values, model.SamplePair{Timestamp: 1, Value: -1})
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			s := get(ro)
			_ = append(s.Values, model.SamplePair{Timestamp: 2, Value: -2})
		})
	}
	wg.Wait()
	again := get(ro)
	if &again.Values[0] != &first.Values[0] {
		t.Error("a read-only hit was copied")
	}
	own := get(t.Context())
	if &own.Values[0] == &first.Values[0] {
		t.Error("a caller that may modify its result shares the kept one")
	}
	own.Values[0].Value = -3
	if again := get(ro); again.Values[0].Value == -3 {
		t.Error("a caller's own copy changed the kept result")
	}
}
