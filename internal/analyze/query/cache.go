package query

import (
	"cmp"
	"container/list"
	"context"
	"errors"
	"fmt"
	"slices"
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
	// MaxPoints bounds the samples the cached results hold together; zero
	// means 10 million (about 160 MB of samples). The oldest entries go
	// first past it; a single larger result is not kept.
	MaxPoints int
	// Settle is how long after a time every sample at or before it has
	// arrived, so a range query's points that old are final and reused by
	// later ranges over them; zero means two intervals, at least a
	// minute. Raise it for a backend that receives samples late.
	Settle time.Duration
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
// A range query's final points (older than Settle when evaluated) are
// also kept, per query and step, for the range a page following the clock
// asks for next (the same span, a few steps later): it evaluates only the
// points after them and joins the two (an extent; points are evaluated
// independently, so the answer is the same), unless the query reads its
// range's bounds (`@ start()`, `@ end()`).
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
	used    int                      // the entries' points
}

type cacheEntry struct {
	key     string
	res     Result
	expires time.Time
	// points is what the entry counts against MaxPoints.
	points int
	// x is set on an extent's entry (key from extentKey).
	x *extent
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
	opts.MaxPoints = cmp.Or(opts.MaxPoints, 10_000_000)
	opts.Settle = cmp.Or(opts.Settle, max(2*opts.Interval, time.Minute))
	if opts.Now == nil {
		opts.Now = time.Now
	}
	c := &Cache{
		Querier: next,
		opts:    opts,
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "servescope_query_cache_requests_total",
			Help: "Dashboard queries by how the result cache answered them: hit (a kept result), coalesced (waited for an identical query in flight), partial (a range's final points kept, the later ones evaluated), miss (evaluated).",
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
	return c.get(ctx, key, func(ctx context.Context) (Result, string, error) {
		res, err := c.Querier.Query(ctx, q, at)
		return res, "miss", err
	})
}

// QueryRange implements Querier: q over r with start and end aligned down
// to the step.
func (c *Cache) QueryRange(ctx context.Context, q string, r Range) (Result, error) {
	if r.Step > 0 {
		r.Start, r.End = r.Start.Truncate(r.Step), r.End.Truncate(r.Step)
	}
	key := "r\x00" + strconv.FormatInt(r.Start.UnixMilli(), 10) + "\x00" + strconv.FormatInt(r.End.UnixMilli(), 10) +
		"\x00" + strconv.FormatInt(r.Step.Milliseconds(), 10) + "\x00" + q
	if r.Step <= 0 || r.End.Before(r.Start) {
		return c.get(ctx, key, func(ctx context.Context) (Result, string, error) {
			res, err := c.Querier.QueryRange(ctx, q, r)
			return res, "miss", err
		})
	}
	return c.get(ctx, key, func(ctx context.Context) (Result, string, error) { return c.evalRange(ctx, q, r) })
}

// evalRange evaluates q over r (aligned), from the final points of q's
// extent at r's step where it starts at or before r and its final points
// reach r's start, then keeps the result as q's extent. how says how the
// cache answered (hit, partial, miss).
func (c *Cache) evalRange(ctx context.Context, q string, r Range) (res Result, how string, err error) {
	xk := extentKey(q, r.Step, r.Start)
	now := c.opts.Now()
	x := c.extent(xk)
	switch {
	case x != nil && !x.start.After(r.Start) && !x.final.Before(r.End):
		res, how = x.slice(r.Start, r.End), "hit"
	case x != nil && !x.start.After(r.Start) && !x.final.Before(r.Start):
		how = "partial"
		tail, err := c.Querier.QueryRange(ctx, q, Range{Start: x.final.Add(r.Step), End: r.End, Step: r.Step})
		if err != nil {
			return Result{}, how, err
		}
		if _, ok := tail.Value.(model.Matrix); !ok {
			return Result{}, how, fmt.Errorf("range query %q: got %s, want a matrix", q, tail.Value.Type())
		}
		res = joinRanges(x.slice(r.Start, x.final), tail)
	default:
		how = "miss"
		if res, err = c.Querier.QueryRange(ctx, q, r); err != nil {
			return Result{}, how, err
		}
	}
	// The points no later than now - Settle are final.
	final := now.Add(-c.opts.Settle)
	if final.After(r.End) {
		final = r.End
	}
	if _, ok := res.Value.(model.Matrix); ok && !final.Before(r.Start) && incremental(q) {
		final = r.Start.Add(final.Sub(r.Start) / r.Step * r.Step)
		c.keep(xk, nil, &extent{start: r.Start, end: r.End, final: final, res: res}, now.Add(extentTTL))
	}
	return res, how, nil
}

// readOnlyKey marks a context whose query results are only read.
type readOnlyKey struct{}

// ReadOnly marks ctx's queries as read only: the caller, and whatever it
// hands a result to, never modifies the result's samples, labels, slices
// or annotations (appending to a slice is allowed: a kept result's slices
// are capped, so an append copies). The Cache then answers them with its
// kept result itself instead of a copy: a dashboard page at 10,000 GPUs
// otherwise copies every pod's points of every panel at every load.
func ReadOnly(ctx context.Context) context.Context {
	return context.WithValue(ctx, readOnlyKey{}, true)
}

func readOnly(ctx context.Context) bool {
	ro, _ := ctx.Value(readOnlyKey{}).(bool)
	return ro
}

// get answers from a fresh entry, or joins or starts the one evaluation
// of key. The evaluation outlives a caller that gives up (it is bounded by
// the engine's own timeout), so the others still get its result.
func (c *Cache) get(ctx context.Context, key string, eval func(context.Context) (Result, string, error)) (Result, error) {
	shared := readOnly(ctx)
	if res, ok := c.lookup(key, shared); ok {
		c.requests.WithLabelValues("hit").Inc()
		return res, nil
	}
	leader := false // set when this call's eval runs; read after it ends
	ch := c.flight.DoChan(key, func() (any, error) {
		leader = true
		res, how, err := eval(context.WithoutCancel(ctx))
		c.requests.WithLabelValues(how).Inc()
		if err == nil {
			res = capResult(res)
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
		if shared {
			return r.Val.(Result), nil
		}
		return CloneResult(r.Val.(Result)), nil
	}
}

// lookup returns key's result if it is younger than an interval: the kept
// result itself when shared, else a copy, made outside the lock (a kept
// result is never modified), so the panels of a page copy theirs side by
// side.
func (c *Cache) lookup(key string, shared bool) (Result, bool) {
	c.mu.Lock()
	el, ok := c.entries[key]
	if !ok {
		c.mu.Unlock()
		return Result{}, false
	}
	e := el.Value.(*cacheEntry)
	if !c.opts.Now().Before(e.expires) {
		c.order.Remove(el)
		c.used -= e.points
		delete(c.entries, key)
		c.mu.Unlock()
		return Result{}, false
	}
	res := e.res
	c.mu.Unlock()
	if shared {
		return res, true
	}
	return CloneResult(res), true
}

// capResult is res with its slices capped (the value's, each series'
// samples, the annotations), so that a reader appending to one copies it
// instead of writing into what the cache keeps. The samples and labels are
// shared; res itself is not changed (an extent may hold its series).
func capResult(r Result) Result {
	switch v := r.Value.(type) {
	case model.Vector:
		r.Value = slices.Clip(v)
	case model.Matrix:
		out := make(model.Matrix, len(v))
		for i, s := range v {
			out[i] = &model.SampleStream{Metric: s.Metric, Values: slices.Clip(s.Values), Histograms: slices.Clip(s.Histograms)}
		}
		r.Value = out
	}
	r.Warnings, r.Infos = slices.Clip(r.Warnings), slices.Clip(r.Infos)
	return r
}

// store keeps res for one interval from now.
func (c *Cache) store(key string, res Result) {
	c.keep(key, &res, nil, c.opts.Now().Add(c.opts.Interval))
}

// extentTTL is how long an extent is kept unused: its final points never
// change, but a store can still be backfilled under them.
const extentTTL = 10 * time.Minute

// keep stores a result (res) or an extent (x) under key until expires,
// dropping the oldest entries beyond MaxEntries or MaxPoints.
func (c *Cache) keep(key string, res *Result, x *extent, expires time.Time) {
	e := &cacheEntry{key: key, expires: expires, x: x}
	if res != nil {
		e.res = *res
		e.points = points(res.Value)
	} else {
		e.points = points(x.res.Value)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.entries[key]; ok {
		c.order.Remove(el)
		c.used -= el.Value.(*cacheEntry).points
		delete(c.entries, key)
	}
	if e.points > c.opts.MaxPoints {
		return
	}
	c.entries[key] = c.order.PushBack(e)
	c.used += e.points
	for c.order.Len() > c.opts.MaxEntries || c.used > c.opts.MaxPoints {
		oldest := c.order.Front()
		c.order.Remove(oldest)
		c.used -= oldest.Value.(*cacheEntry).points
		delete(c.entries, oldest.Value.(*cacheEntry).key)
	}
}

// extent returns key's extent unless it expired; it is never modified.
func (c *Cache) extent(key string) *extent {
	c.mu.Lock()
	defer c.mu.Unlock()
	el, ok := c.entries[key]
	if !ok {
		return nil
	}
	e := el.Value.(*cacheEntry)
	if !c.opts.Now().Before(e.expires) {
		c.order.Remove(el)
		c.used -= e.points
		delete(c.entries, key)
		return nil
	}
	return e.x
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
