package query

import (
	"context"
	"errors"
	"fmt"
	"math"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/prometheus/promql/parser"
)

// Admission defaults.
const (
	// DefaultQueueTimeout is how long a query waits for a slot.
	DefaultQueueTimeout = 10 * time.Second
	// DefaultMaxSubqueryPoints bounds the points one subquery evaluates
	// per series: count_over_time(vector(1)[365d:1s]) (31.5 M) is refused,
	// max_over_time(x[30d:1m]) (43,200) is not.
	DefaultMaxSubqueryPoints = 1_000_000
	// noStepSubqueryInterval is the step of a subquery that gives none:
	// the engine's default (promql.EngineOpts.NoStepSubqueryIntervalFn).
	noStepSubqueryInterval = time.Minute
	// budgetShare is the part of GOMEMLIMIT used as the default memory
	// budget: the rest is the store's and the scrapers'.
	budgetShare = 0.8
	// queuePerSlot is the default queue length per query slot: a cost request alone runs 10 queries at once.
	queuePerSlot = 16
	// watchEvery is how often a running query checks the heap.
	watchEvery = 50 * time.Millisecond
)

// heapMetric is the bytes of the heap objects the last garbage collection
// found live. Not the heap's current size: under GOMEMLIMIT the collector
// lets garbage grow until the process nears the limit, so the heap's
// objects (live and not yet swept) reach the budget, a share of that limit,
// at the end of every cycle while what is live is far below it (at 10,000
// GPUs in a 4 GiB container: 547 dashboard queries refused in 6 minutes, a
// live heap of 2.5 GiB against a budget of 2.9 GiB). A query that holds
// more and more is seen at the next collection, which the limit (or
// GOGC) brings about as the heap grows.
const heapMetric = "/gc/heap/live:bytes"

// admission is the gate in front of the API's queries (the rule manager's
// evaluations do not pass it): at most max at once, a bounded wait for a
// slot, refusal while the heap is over the memory budget, and a watchdog
// that stops the running queries when the heap crosses it.
type admission struct {
	slots chan struct{}
	// background holds a token per background query admitted or waiting
	// for a slot: all slots but one (one when there is one), so a
	// background refresh never holds every slot while a person waits.
	background chan struct{}
	// queue holds a token per waiting query: a full queue refuses at
	// once, so an overloaded server answers some queries fast and refuses
	// the rest instead of making every one wait.
	queue   chan struct{}
	wait    time.Duration
	budget  int64 // bytes; 0 means none
	queued  prometheus.Gauge
	refused *prometheus.CounterVec
}

func newAdmission(opts EngineOptions, reg prometheus.Registerer) *admission {
	n := opts.MaxConcurrency
	if n <= 0 {
		n = runtime.GOMAXPROCS(0)
	}
	q := opts.MaxQueue
	if q <= 0 {
		q = queuePerSlot * n
	}
	a := &admission{
		slots:      make(chan struct{}, n),
		background: make(chan struct{}, max(1, n-1)),
		queue:      make(chan struct{}, q),
		wait:       opts.QueueTimeout,
		budget:     MemoryBudget(opts.MemoryBudget),
		queued: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "servescope_queries_queued",
			Help: "API queries waiting for a query slot (--query.max-concurrency).",
		}),
		refused: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "servescope_queries_refused_total",
			Help: "API queries refused before or stopped during evaluation, by reason (queue_full, queue_timeout, points, memory).",
		}, []string{"reason"}),
	}
	if a.wait <= 0 {
		a.wait = DefaultQueueTimeout
	}
	reg.MustRegister(a.queued, a.refused)
	return a
}

// MemoryBudget is the heap budget of queries: configured when > 0, none
// when < 0, and by default budgetShare of GOMEMLIMIT when that is set.
func MemoryBudget(configured int64) int64 {
	switch {
	case configured > 0:
		return configured
	case configured < 0:
		return 0
	}
	if limit := debug.SetMemoryLimit(-1); limit != math.MaxInt64 {
		return int64(float64(limit) * budgetShare)
	}
	return 0
}

func heapBytes() int64 {
	s := []metrics.Sample{{Name: heapMetric}}
	metrics.Read(s)
	if s[0].Value.Kind() != metrics.KindUint64 {
		return 0
	}
	return int64(min(s[0].Value.Uint64(), math.MaxInt64))
}

// errOverBudget is the cause a watchdog cancels a query with.
var errOverBudget = errors.New("memory budget exceeded")

type backgroundKey struct{}

// Background marks the queries made with ctx as background work, which
// nobody waits for (the dashboard's refresh of its diagnosis): they hold
// at most all query slots but one, take no place in the queue and wait
// for a slot as long as ctx lets them, so a person's queries find a free
// slot, or wait only behind each other, while a refresh runs.
func Background(ctx context.Context) context.Context {
	return context.WithValue(ctx, backgroundKey{}, true)
}

// IsBackground says whether ctx was marked by Background.
func IsBackground(ctx context.Context) bool {
	b, _ := ctx.Value(backgroundKey{}).(bool)
	return b
}

// admit waits for a slot and returns a context that the memory watchdog
// cancels, and the release to call when the query is done.
func (a *admission) admit(ctx context.Context) (context.Context, func(), error) {
	if a.budget > 0 {
		if h := heapBytes(); h > a.budget {
			a.refused.WithLabelValues("memory").Inc()
			return nil, nil, &Error{Type: ErrTimeout, Err: fmt.Errorf("server busy: the live heap (%d MiB) is over the query memory budget of %d MiB; retry later", h>>20, a.budget>>20)}
		}
	}
	if IsBackground(ctx) {
		return a.admitBackground(ctx)
	}
	select {
	case a.slots <- struct{}{}: // a free slot: no queueing
	default:
		select {
		case a.queue <- struct{}{}:
		default:
			a.refused.WithLabelValues("queue_full").Inc()
			return nil, nil, &Error{Type: ErrTimeout, Err: fmt.Errorf("server busy: %d queries already wait for %d query slots (--query.max-queue, --query.max-concurrency); retry later", cap(a.queue), cap(a.slots))}
		}
		a.queued.Inc()
		timer := time.NewTimer(a.wait)
		defer timer.Stop()
		dequeue := func() {
			a.queued.Dec()
			<-a.queue
		}
		select {
		case a.slots <- struct{}{}:
			dequeue()
		case <-timer.C:
			dequeue()
			a.refused.WithLabelValues("queue_timeout").Inc()
			return nil, nil, &Error{Type: ErrTimeout, Err: fmt.Errorf("server busy: no query slot free within %s (%d queries run at once, --query.max-concurrency)", a.wait, cap(a.slots))}
		case <-ctx.Done():
			dequeue()
			return nil, nil, &Error{Type: ErrCanceled, Err: ctx.Err()}
		}
	}
	return a.watch(ctx, func() { <-a.slots })
}

// admitBackground admits a background query (see Background).
func (a *admission) admitBackground(ctx context.Context) (context.Context, func(), error) {
	select {
	case a.background <- struct{}{}:
	case <-ctx.Done():
		return nil, nil, &Error{Type: ErrCanceled, Err: context.Cause(ctx)}
	}
	select {
	case a.slots <- struct{}{}:
	case <-ctx.Done():
		<-a.background
		return nil, nil, &Error{Type: ErrCanceled, Err: context.Cause(ctx)}
	}
	return a.watch(ctx, func() {
		<-a.slots
		<-a.background
	})
}

// watch runs an admitted query's memory watchdog: it returns the query's
// context, which the watchdog cancels when the heap crosses the budget,
// and the release that stops it and then frees what admit took.
func (a *admission) watch(ctx context.Context, free func()) (context.Context, func(), error) {
	qctx, cancel := context.WithCancelCause(ctx)
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		if a.budget <= 0 {
			<-stop
			return
		}
		tick := time.NewTicker(watchEvery)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
				if heapBytes() > a.budget {
					a.refused.WithLabelValues("memory").Inc()
					cancel(errOverBudget)
					return
				}
			}
		}
	}()
	release := func() {
		close(stop)
		<-done
		cancel(nil)
		free()
	}
	return qctx, release, nil
}

// overBudget turns the error of a query the watchdog stopped into one
// that says so.
func (a *admission) overBudget(ctx context.Context, err error) error {
	if err != nil && errors.Is(context.Cause(ctx), errOverBudget) {
		return &Error{Type: ErrCostLimit, Err: fmt.Errorf("query stopped: the process's live heap crossed the query memory budget of %d MiB; narrow the query (fewer series, a shorter range or a larger step)", a.budget>>20)}
	}
	return err
}

// checkPoints refuses, before evaluation, a query whose subqueries would
// evaluate more than max points per series. span is the query's own range
// (0 for an instant query); a subquery evaluates its inner expression over
// its range plus the span it is evaluated over, at its step.
func checkPoints(expr parser.Expr, span time.Duration, max int64) error {
	if max <= 0 {
		return nil
	}
	var err error
	parser.Inspect(expr, func(node parser.Node, path []parser.Node) error {
		sq, ok := node.(*parser.SubqueryExpr)
		if !ok || err != nil {
			return nil
		}
		outer := span
		for _, p := range path {
			if o, ok := p.(*parser.SubqueryExpr); ok && o != sq {
				outer += o.Range
			}
		}
		step := sq.Step
		if step <= 0 {
			step = noStepSubqueryInterval
		}
		points := float64(outer+sq.Range) / float64(step)
		if points > float64(max) {
			err = &Error{Type: ErrCostLimit, Err: fmt.Errorf("subquery %s would evaluate %.0f points per series, over the limit of %d (--query.max-subquery-points); use a larger step or a shorter range", sq, points, max)}
		}
		return nil
	})
	return err
}
