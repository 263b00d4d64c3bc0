package query

import (
	"cmp"
	"container/list"
	"context"
	"errors"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/model"
	"golang.org/x/sync/singleflight"
)

// CacheOptions configure a Cache.
type CacheOptions struct {
	// Interval is the scrape interval: instant queries are evaluated at
	// their time aligned down to it, and no result is served once it is
	// older than Interval (counted from its evaluation). Must be positive.
	Interval time.Duration
	// MaxEntries bounds the cached results; zero means 512. The oldest
	// entry goes first when full.
	MaxEntries int
	// Registerer receives the cache's request counter. It must not be nil.
	Registerer prometheus.Registerer
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Cache is a Querier that answers identical queries from many dashboard
// viewers once per step: an instant query is evaluated at its time
// aligned down to the scrape interval, a range query over its start and
// end aligned down to its step, and the result is kept, keyed on the
// query and the aligned times, for at most one scrape interval after its
// evaluation. Concurrent identical queries wait for one evaluation. Errors
// are never kept. Series and label calls pass through.
//
// Every caller gets its own copy of a result, so callers may modify it.
type Cache struct {
	Querier
	opts     CacheOptions
	requests *prometheus.CounterVec
	flight   singleflight.Group

	mu      sync.Mutex
	entries map[string]*list.Element // of *cacheEntry
	order   *list.List               // oldest first
}

type cacheEntry struct {
	key     string
	res     Result
	expires time.Time
}

// NewCache wraps next with a result cache.
func NewCache(next Querier, opts CacheOptions) (*Cache, error) {
	if opts.Interval <= 0 {
		return nil, errors.New("query cache: interval must be positive")
	}
	if opts.Registerer == nil {
		return nil, errors.New("query cache: nil registerer")
	}
	opts.MaxEntries = cmp.Or(opts.MaxEntries, 512)
	if opts.Now == nil {
		opts.Now = time.Now
	}
	c := &Cache{
		Querier: next,
		opts:    opts,
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "servescope_query_cache_requests_total",
			Help: "Dashboard queries by how the result cache answered them: hit (a kept result), coalesced (waited for an identical query in flight), miss (evaluated).",
		}, []string{"result"}),
		entries: map[string]*list.Element{},
		order:   list.New(),
	}
	opts.Registerer.MustRegister(c.requests)
	return c, nil
}

// Query implements Querier: q evaluated at t aligned down to the interval.
func (c *Cache) Query(ctx context.Context, q string, t time.Time) (Result, error) {
	at := t.Truncate(c.opts.Interval)
	key := "i\x00" + strconv.FormatInt(at.UnixMilli(), 10) + "\x00" + q
	return c.get(ctx, key, func(ctx context.Context) (Result, error) { return c.Querier.Query(ctx, q, at) })
}

// QueryRange implements Querier: q over r with start and end aligned down
// to the step.
func (c *Cache) QueryRange(ctx context.Context, q string, r Range) (Result, error) {
	if r.Step > 0 {
		r.Start, r.End = r.Start.Truncate(r.Step), r.End.Truncate(r.Step)
	}
	key := "r\x00" + strconv.FormatInt(r.Start.UnixMilli(), 10) + "\x00" + strconv.FormatInt(r.End.UnixMilli(), 10) +
		"\x00" + strconv.FormatInt(r.Step.Milliseconds(), 10) + "\x00" + q
	return c.get(ctx, key, func(ctx context.Context) (Result, error) { return c.Querier.QueryRange(ctx, q, r) })
}

// get answers from a fresh entry, or joins or starts the one evaluation
// of key. The evaluation outlives a caller that gives up (it is bounded by
// the engine's own timeout), so the others still get its result.
func (c *Cache) get(ctx context.Context, key string, eval func(context.Context) (Result, error)) (Result, error) {
	if res, ok := c.lookup(key); ok {
		c.requests.WithLabelValues("hit").Inc()
		return res, nil
	}
	leader := false // set when this call's eval runs; read after it ends
	ch := c.flight.DoChan(key, func() (any, error) {
		leader = true
		c.requests.WithLabelValues("miss").Inc()
		res, err := eval(context.WithoutCancel(ctx))
		if err == nil {
			c.store(key, res)
		}
		return res, err
	})
	select {
	case <-ctx.Done():
		return Result{}, classify(ctx.Err())
	case r := <-ch:
		if !leader {
			c.requests.WithLabelValues("coalesced").Inc()
		}
		if r.Err != nil {
			return Result{}, r.Err
		}
		return CloneResult(r.Val.(Result)), nil
	}
}

// lookup returns a copy of key's result if it is younger than an interval.
func (c *Cache) lookup(key string) (Result, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	el, ok := c.entries[key]
	if !ok {
		return Result{}, false
	}
	e := el.Value.(*cacheEntry)
	if !c.opts.Now().Before(e.expires) {
		c.order.Remove(el)
		delete(c.entries, key)
		return Result{}, false
	}
	return CloneResult(e.res), true
}

// store keeps res for one interval from now, dropping the oldest entries
// beyond MaxEntries.
func (c *Cache) store(key string, res Result) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.entries[key]; ok {
		c.order.Remove(el)
	}
	c.entries[key] = c.order.PushBack(&cacheEntry{key: key, res: res, expires: c.opts.Now().Add(c.opts.Interval)})
	for c.order.Len() > c.opts.MaxEntries {
		oldest := c.order.Front()
		c.order.Remove(oldest)
		delete(c.entries, oldest.Value.(*cacheEntry).key)
	}
}

// Len is the number of kept results, fresh or not yet dropped.
func (c *Cache) Len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.order.Len()
}

// CloneResult copies a result's value, so no two callers share samples.
func CloneResult(r Result) Result {
	switch v := r.Value.(type) {
	case model.Vector:
		out := make(model.Vector, len(v))
		for i, s := range v {
			cp := *s
			cp.Metric = s.Metric.Clone()
			out[i] = &cp
		}
		r.Value = out
	case model.Matrix:
		out := make(model.Matrix, len(v))
		for i, s := range v {
			out[i] = &model.SampleStream{Metric: s.Metric.Clone(), Values: append([]model.SamplePair(nil), s.Values...),
				Histograms: append([]model.SampleHistogramPair(nil), s.Histograms...)}
		}
		r.Value = out
	case *model.Scalar:
		cp := *v
		r.Value = &cp
	case *model.String:
		cp := *v
		r.Value = &cp
	}
	return r
}
