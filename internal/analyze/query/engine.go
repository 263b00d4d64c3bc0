package query

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql"
	"github.com/prometheus/prometheus/promql/parser"
	"github.com/prometheus/prometheus/storage"
	"github.com/prometheus/prometheus/util/annotations"
)

// EngineOptions configure the embedded PromQL engine.
type EngineOptions struct {
	// Timeout bounds one query's evaluation.
	Timeout time.Duration
	// MaxSamples bounds the samples one query may hold in memory.
	MaxSamples int
	// LookbackDelta is how far back an instant selector looks; zero means
	// Prometheus's 5m.
	LookbackDelta time.Duration
	Logger        *slog.Logger
	// Registerer receives the engine's metrics and servescope's query
	// duration histogram. It must not be nil.
	Registerer prometheus.Registerer
	// MaxConcurrency is how many queries the Querier methods run at once
	// (the rule manager's evaluations through Promql do not count); zero
	// means GOMAXPROCS. QueueTimeout is how long a query waits for a slot
	// before it is refused; zero means DefaultQueueTimeout.
	MaxConcurrency int
	QueueTimeout   time.Duration
	// MaxQueue is how many queries may wait for a slot; more are refused
	// at once. Zero means 16 per slot.
	MaxQueue int
	// MaxSubqueryPoints bounds the points one subquery evaluates per
	// series, checked before evaluation; zero means
	// DefaultMaxSubqueryPoints, negative no bound.
	MaxSubqueryPoints int64
	// MemoryBudget is the heap, in bytes, over which queries are refused
	// and running ones stopped; see MemoryBudget for zero and negative.
	MemoryBudget int64
}

// Engine is the embedded Querier: Prometheus's PromQL engine over a local
// storage.Queryable.
type Engine struct {
	engine    *promql.Engine
	queryable storage.Queryable
	parser    parser.Parser
	duration  *prometheus.HistogramVec
	admission *admission
	maxPoints int64
	lookback  time.Duration
}

// NewEngine builds the embedded engine over q.
func NewEngine(q storage.Queryable, opts EngineOptions) *Engine {
	logger := opts.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	lookback := opts.LookbackDelta
	if lookback == 0 {
		lookback = 5 * time.Minute
	}
	p := newParseCache(parser.NewParser(parser.Options{}))
	e := &Engine{
		engine: promql.NewEngine(promql.EngineOpts{
			Logger:               logger.With("component", "promql"),
			Reg:                  opts.Registerer,
			MaxSamples:           opts.MaxSamples,
			Timeout:              opts.Timeout,
			LookbackDelta:        lookback,
			EnableAtModifier:     true,
			EnableNegativeOffset: true,
			Parser:               p,
		}),
		queryable: q,
		parser:    p,
		lookback:  lookback,
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "servescope_query_duration_seconds",
			Help:    "Time to evaluate PromQL queries in the embedded engine, by kind.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 4, 9),
		}, []string{"kind"}),
		admission: newAdmission(opts, opts.Registerer),
		maxPoints: opts.MaxSubqueryPoints,
	}
	if e.maxPoints == 0 {
		e.maxPoints = DefaultMaxSubqueryPoints
	}
	opts.Registerer.MustRegister(e.duration)
	return e
}

// admit waits for a query slot; see admission.
func (e *Engine) admit(ctx context.Context) (context.Context, func(), error) {
	return e.admission.admit(ctx)
}

// run parses a query once (newQuery), checks its subqueries against the
// points limit before evaluation, waits for a query slot, then evaluates
// it within the memory budget.
func (e *Engine) run(ctx context.Context, span time.Duration, newQuery func() (promql.Query, error)) (Result, error) {
	q, err := newQuery()
	if err != nil {
		return Result{}, classify(err)
	}
	if st, ok := q.Statement().(*parser.EvalStmt); ok {
		if err := checkPoints(st.Expr, span, e.maxPoints); err != nil {
			q.Close()
			e.admission.refused.WithLabelValues("points").Inc()
			return Result{}, err
		}
	}
	ctx, release, err := e.admit(ctx)
	if err != nil {
		q.Close()
		return Result{}, err
	}
	defer release()
	res, err := e.exec(ctx, q)
	return res, e.admission.overBudget(ctx, err)
}

// maxResolution is Prometheus's own limit on a range query: at most
// 11,000 points per series.
const maxResolution = 11000

// Promql returns the underlying engine, for the rule manager.
func (e *Engine) Promql() *promql.Engine { return e.engine }

// LookbackDelta is how far back the engine's instant selectors look.
func (e *Engine) LookbackDelta() time.Duration { return e.lookback }

// Query implements Querier.
func (e *Engine) Query(ctx context.Context, qs string, t time.Time) (Result, error) {
	defer e.observe("instant", time.Now())
	return e.run(ctx, 0, func() (promql.Query, error) {
		return e.engine.NewInstantQuery(ctx, e.queryable, nil, qs, t)
	})
}

// QueryRange implements Querier.
func (e *Engine) QueryRange(ctx context.Context, qs string, r Range) (Result, error) {
	defer e.observe("range", time.Now())
	if r.Step <= 0 {
		return Result{}, badData("zero or negative query resolution step widths are not accepted. Try a positive integer")
	}
	if r.End.Before(r.Start) {
		return Result{}, badData("end timestamp must not be before start time")
	}
	if r.End.Sub(r.Start)/r.Step > maxResolution {
		return Result{}, badData("exceeded maximum resolution of 11,000 points per timeseries. Try decreasing the query resolution (?step=XX)")
	}
	return e.run(ctx, r.End.Sub(r.Start), func() (promql.Query, error) {
		return e.engine.NewRangeQuery(ctx, e.queryable, nil, qs, r.Start, r.End, r.Step)
	})
}

func (e *Engine) observe(kind string, start time.Time) {
	e.duration.WithLabelValues(kind).Observe(time.Since(start).Seconds())
}

func (e *Engine) exec(ctx context.Context, q promql.Query) (Result, error) {
	defer q.Close()
	res := q.Exec(ctx)
	if res.Err != nil {
		return Result{}, classify(res.Err)
	}
	warnings, infos := res.Warnings.AsStrings("", 10, 10)
	out := Result{Warnings: warnings, Infos: infos}
	switch v := res.Value.(type) {
	case promql.Vector:
		vec := make(model.Vector, 0, len(v))
		for _, s := range v {
			if s.H != nil {
				vec = append(vec, &model.Sample{Metric: metric(s.Metric), Timestamp: model.Time(s.T), Histogram: sampleHistogram(s.H)})
				continue
			}
			vec = append(vec, &model.Sample{Metric: metric(s.Metric), Timestamp: model.Time(s.T), Value: model.SampleValue(s.F)})
		}
		out.Value = vec
	case promql.Matrix:
		mat := make(model.Matrix, 0, len(v))
		for _, s := range v {
			if len(s.Floats) == 0 && len(s.Histograms) == 0 {
				continue
			}
			ss := &model.SampleStream{Metric: metric(s.Metric)}
			if len(s.Floats) > 0 {
				ss.Values = make([]model.SamplePair, len(s.Floats))
				for i, p := range s.Floats {
					ss.Values[i] = model.SamplePair{Timestamp: model.Time(p.T), Value: model.SampleValue(p.F)}
				}
			}
			if len(s.Histograms) > 0 {
				ss.Histograms = histogramPairs(s.Histograms)
			}
			mat = append(mat, ss)
		}
		out.Value = mat
	case promql.Scalar:
		out.Value = &model.Scalar{Timestamp: model.Time(v.T), Value: model.SampleValue(v.V)}
	case promql.String:
		out.Value = &model.String{Timestamp: model.Time(v.T), Value: v.V}
	default:
		return Result{}, &Error{Type: ErrInternal, Err: fmt.Errorf("unexpected result type %T", res.Value)}
	}
	return out, nil
}

// classify maps engine errors to API error types as Prometheus's API does.
func classify(err error) error {
	var (
		pe   parser.ParseErrors
		pe1  *parser.ParseErr
		eqc  promql.ErrQueryCanceled
		eqt  promql.ErrQueryTimeout
		es   promql.ErrStorage
		etms promql.ErrTooManySamples
	)
	switch {
	case errors.As(err, &pe), errors.As(err, &pe1):
		return &Error{Type: ErrBadData, Err: err}
	case errors.As(err, &eqc), errors.Is(err, context.Canceled):
		return &Error{Type: ErrCanceled, Err: err}
	case errors.As(err, &eqt):
		return &Error{Type: ErrTimeout, Err: err}
	case errors.As(err, &etms):
		return &Error{Type: ErrExec, Err: err}
	case errors.As(err, &es):
		return &Error{Type: ErrInternal, Err: err}
	}
	return &Error{Type: ErrExec, Err: err}
}

// matcherSets parses series selectors.
func (e *Engine) matcherSets(matchers []string) ([][]*labels.Matcher, error) {
	sets := make([][]*labels.Matcher, 0, len(matchers))
	for _, m := range matchers {
		ms, err := e.parser.ParseMetricSelector(m)
		if err != nil {
			return nil, badData("invalid parameter \"match[]\": %w", err)
		}
		sets = append(sets, ms)
	}
	return sets, nil
}

// Series implements Querier.
func (e *Engine) Series(ctx context.Context, matchers []string, start, end time.Time) ([]model.LabelSet, error) {
	if len(matchers) == 0 {
		return nil, badData("no match[] parameter provided")
	}
	sets, err := e.matcherSets(matchers)
	if err != nil {
		return nil, err
	}
	ctx, release, err := e.admit(ctx)
	if err != nil {
		return nil, err
	}
	defer release()
	q, err := e.queryable.Querier(start.UnixMilli(), end.UnixMilli())
	if err != nil {
		return nil, &Error{Type: ErrInternal, Err: fmt.Errorf("open querier: %w", err)}
	}
	defer q.Close()
	hints := &storage.SelectHints{Start: start.UnixMilli(), End: end.UnixMilli(), Func: "series"}
	var sets2 []storage.SeriesSet
	for _, ms := range sets {
		sets2 = append(sets2, q.Select(ctx, len(sets) > 1, hints, ms...))
	}
	set := sets2[0]
	if len(sets2) > 1 {
		set = storage.NewMergeSeriesSet(sets2, 0, storage.ChainedSeriesMerge)
	}
	out := []model.LabelSet{}
	for set.Next() {
		out = append(out, model.LabelSet(metric(set.At().Labels())))
	}
	if err := set.Err(); err != nil {
		return nil, &Error{Type: ErrInternal, Err: fmt.Errorf("select series: %w", err)}
	}
	return out, nil
}

// LabelNames implements Querier.
func (e *Engine) LabelNames(ctx context.Context, matchers []string, start, end time.Time) ([]string, error) {
	return e.labels(ctx, matchers, start, end, func(q storage.Querier, hints *storage.LabelHints, ms ...*labels.Matcher) ([]string, annotations.Annotations, error) {
		return q.LabelNames(ctx, hints, ms...)
	})
}

// LabelValues implements Querier.
func (e *Engine) LabelValues(ctx context.Context, name string, matchers []string, start, end time.Time) ([]string, error) {
	if !model.UTF8Validation.IsValidLabelName(name) {
		return nil, badData("invalid label name: %q", name)
	}
	return e.labels(ctx, matchers, start, end, func(q storage.Querier, hints *storage.LabelHints, ms ...*labels.Matcher) ([]string, annotations.Annotations, error) {
		return q.LabelValues(ctx, name, hints, ms...)
	})
}

type labelFunc func(q storage.Querier, hints *storage.LabelHints, ms ...*labels.Matcher) ([]string, annotations.Annotations, error)

func (e *Engine) labels(ctx context.Context, matchers []string, start, end time.Time, fn labelFunc) ([]string, error) {
	sets, err := e.matcherSets(matchers)
	if err != nil {
		return nil, err
	}
	_, release, err := e.admit(ctx)
	if err != nil {
		return nil, err
	}
	defer release()
	q, err := e.queryable.Querier(start.UnixMilli(), end.UnixMilli())
	if err != nil {
		return nil, &Error{Type: ErrInternal, Err: fmt.Errorf("open querier: %w", err)}
	}
	defer q.Close()
	hints := &storage.LabelHints{}
	if len(sets) == 0 {
		sets = [][]*labels.Matcher{nil}
	}
	seen := map[string]struct{}{}
	for _, ms := range sets {
		vals, _, err := fn(q, hints, ms...)
		if err != nil {
			return nil, &Error{Type: ErrInternal, Err: fmt.Errorf("read labels: %w", err)}
		}
		for _, v := range vals {
			seen[v] = struct{}{}
		}
	}
	out := make([]string, 0, len(seen))
	for v := range seen {
		out = append(out, v)
	}
	slices.Sort(out)
	return out, nil
}
