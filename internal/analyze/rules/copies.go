package rules

import (
	"context"
	"regexp"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql"
	"github.com/prometheus/prometheus/promql/parser"
	prules "github.com/prometheus/prometheus/rules"
	"github.com/prometheus/prometheus/storage"
	"github.com/prometheus/prometheus/util/annotations"
)

// folder evaluates the label_replace calls that apply directly to a
// selector as the selector's series are read, not in the engine: the
// catalog copies the label of each alias (uuid from UUID, hostname from
// Hostname) into every dcgm-exporter series it reads, and the engine does it
// call by call, building each series' labels once per call per rule (a
// tenth of the rule evaluation's allocations at 10,000 GPUs). Here a chain
// label_replace(…label_replace(s, …)…, …) over a selector s is evaluated
// once per series read, all calls at once.
//
// The query is evaluated with each such chain replaced by its selector and
// a matcher on markerLabel naming the chain; the folder's Queryable strips
// the matcher, reads the selector and gives each series the labels the
// chain would have given it. A label_replace call also fails (or merges)
// series that end up with the same labels; the selector's series cannot,
// unless the chain makes two of them equal: then, as when the folded query
// fails, the query is evaluated again as written, so every result and
// error is the engine's own.
type folder struct {
	next prules.QueryFunc
	p    parser.Parser

	mu    sync.Mutex
	cache map[string]*foldedQuery

	folded    atomic.Int64 // queries evaluated folded
	fallbacks atomic.Int64 // folded queries evaluated again as written
}

// markerLabel is the label of the matcher that marks a folded selector;
// its value names the chain among the query's.
const markerLabel = "__servescope_label_replace__"

// foldedQuery is a query with its chains folded into their selectors.
type foldedQuery struct {
	text  string                 // "" when nothing folds
	steps map[string][]labelStep // by marker value
}

// labelStep is one label_replace call: dst set to repl expanded with the
// matches of re against src's value, when it matches.
type labelStep struct {
	dst, repl, src string
	re             *regexp.Regexp
	// copy is set for the catalog's form, regex "(.+)" and replacement
	// "$1": dst takes src's value when it is not empty.
	copy bool
}

// newFolder evaluates queries with eng over q, which folded selectors are
// read from.
func newFolder(eng promql.QueryEngine, q storage.Queryable, p parser.Parser) *folder {
	return &folder{next: prules.EngineQueryFunc(eng, foldQueryable{q}), p: p, cache: map[string]*foldedQuery{}}
}

// foldCtx is what a folded query's context carries to the Queryable.
type foldCtx struct {
	steps    map[string][]labelStep
	collided atomic.Bool
}

type foldCtxKey struct{}

// QueryFunc is the rule manager's query function.
func (f *folder) QueryFunc(ctx context.Context, q string, t time.Time) (promql.Vector, error) {
	fq := f.lookup(q)
	if fq.text == "" {
		return f.next(ctx, q, t)
	}
	fc := &foldCtx{steps: fq.steps}
	v, err := f.next(context.WithValue(ctx, foldCtxKey{}, fc), fq.text, t)
	if err != nil || fc.collided.Load() {
		f.fallbacks.Add(1)
		return f.next(ctx, q, t)
	}
	f.folded.Add(1)
	return v, nil
}

func (f *folder) lookup(q string) *foldedQuery {
	f.mu.Lock()
	defer f.mu.Unlock()
	if fq, ok := f.cache[q]; ok {
		return fq
	}
	if len(f.cache) >= maxPruneCache {
		clear(f.cache)
	}
	fq := &foldedQuery{}
	if e, err := f.p.ParseExpr(q); err == nil {
		fq.steps = map[string][]labelStep{}
		if out := foldChains(e, fq.steps); len(fq.steps) > 0 {
			fq.text = out.String()
		}
	}
	f.cache[q] = fq
	return fq
}

// foldChains replaces in e (in place) each chain of label_replace calls
// over a selector by the selector with a marker matcher, recording the
// chain's steps, innermost first, under the marker's value. A call is
// folded only when its arguments are string literals the engine accepts,
// its destination is not the metric name (which would change whether the
// engine drops it) and its selector has no marker matcher of its own.
func foldChains(e parser.Expr, steps map[string][]labelStep) parser.Expr {
	var rec func(parser.Expr) parser.Expr
	rec = func(x parser.Expr) parser.Expr {
		if vs, chain := foldable(x); vs != nil {
			id := strconv.Itoa(len(steps))
			steps[id] = chain
			vs.LabelMatchers = append(vs.LabelMatchers, labels.MustNewMatcher(labels.MatchEqual, markerLabel, id))
			return vs
		}
		rewriteOperands(x, rec)
		return x
	}
	return rec(e)
}

// foldable returns, when x is a chain of foldable label_replace calls
// (parentheses between them allowed) over a selector, that selector and
// the chain's steps, innermost first.
func foldable(x parser.Expr) (*parser.VectorSelector, []labelStep) {
	var chain []labelStep
	for {
		for p, ok := x.(*parser.ParenExpr); ok; p, ok = x.(*parser.ParenExpr) {
			x = p.Expr
		}
		switch n := x.(type) {
		case *parser.VectorSelector:
			if len(chain) == 0 || slices.ContainsFunc(n.LabelMatchers, func(m *labels.Matcher) bool { return m.Name == markerLabel }) {
				return nil, nil
			}
			slices.Reverse(chain)
			return n, chain
		case *parser.Call:
			st, ok := replaceStep(n)
			if !ok {
				return nil, nil
			}
			chain = append(chain, st)
			x = n.Args[0]
		default:
			return nil, nil
		}
	}
}

// replaceStep reads a label_replace call's arguments as the engine does.
func replaceStep(c *parser.Call) (labelStep, bool) {
	if c.Func.Name != "label_replace" || len(c.Args) != 5 {
		return labelStep{}, false
	}
	var s [4]string
	for i := range s {
		lit, ok := c.Args[i+1].(*parser.StringLiteral)
		if !ok {
			return labelStep{}, false
		}
		s[i] = lit.Val
	}
	dst, repl, src, reStr := s[0], s[1], s[2], s[3]
	if dst == model.MetricNameLabel || !model.UTF8Validation.IsValidLabelName(dst) {
		return labelStep{}, false
	}
	re, err := regexp.Compile("^(?s:" + reStr + ")$")
	if err != nil {
		return labelStep{}, false
	}
	return labelStep{dst: dst, repl: repl, src: src, re: re, copy: reStr == "(.+)" && repl == "$1"}, true
}

// foldQueryable gives the series of folded selectors the labels their
// chain gives them; every other read goes to q as it is.
type foldQueryable struct{ q storage.Queryable }

func (f foldQueryable) Querier(mint, maxt int64) (storage.Querier, error) {
	q, err := f.q.Querier(mint, maxt)
	if err != nil {
		return nil, err
	}
	return foldQuerier{q}, nil
}

type foldQuerier struct{ storage.Querier }

// Select strips a marker matcher of the query's folded chains and applies
// the chain to the series read. The grouping hints are dropped: they name
// labels as the chain leaves them, not as stored.
func (q foldQuerier) Select(ctx context.Context, sortSeries bool, hints *storage.SelectHints, ms ...*labels.Matcher) storage.SeriesSet {
	fc, _ := ctx.Value(foldCtxKey{}).(*foldCtx)
	i := -1
	if fc != nil {
		i = slices.IndexFunc(ms, func(m *labels.Matcher) bool { return m.Name == markerLabel && m.Type == labels.MatchEqual })
	}
	if i < 0 {
		return q.Querier.Select(ctx, sortSeries, hints, ms...)
	}
	steps, ok := fc.steps[ms[i].Value]
	if !ok {
		return q.Querier.Select(ctx, sortSeries, hints, ms...)
	}
	ms = slices.Delete(slices.Clone(ms), i, i+1)
	if hints != nil {
		h := *hints
		h.Func, h.Grouping, h.By = "", nil, false
		hints = &h
	}
	ss := &relabeledSet{in: q.Querier.Select(ctx, false, hints, ms...), steps: steps, collided: &fc.collided, seen: map[uint64]struct{}{}}
	if !sortSeries {
		return ss
	}
	var all []storage.Series
	for ss.Next() {
		all = append(all, ss.At())
	}
	if err := ss.Err(); err != nil {
		return storage.ErrSeriesSet(err)
	}
	slices.SortFunc(all, func(a, b storage.Series) int { return labels.Compare(a.Labels(), b.Labels()) })
	return &listSeriesSet{series: all, i: -1, ws: ss.Warnings()}
}

// relabeledSet is a selector's series with their chain applied; it
// records in collided when two of them end up with the same labels.
type relabeledSet struct {
	in       storage.SeriesSet
	steps    []labelStep
	collided *atomic.Bool
	seen     map[uint64]struct{}
	lb       labels.Builder
	cur      storage.Series
}

func (s *relabeledSet) Next() bool {
	if !s.in.Next() {
		return false
	}
	in := s.in.At()
	lset := applySteps(&s.lb, in.Labels(), s.steps)
	h := lset.Hash()
	if _, dup := s.seen[h]; dup {
		s.collided.Store(true)
	}
	s.seen[h] = struct{}{}
	s.cur = relabeledSeries{Series: in, lset: lset}
	return true
}

func (s *relabeledSet) At() storage.Series                { return s.cur }
func (s *relabeledSet) Err() error                        { return s.in.Err() }
func (s *relabeledSet) Warnings() annotations.Annotations { return s.in.Warnings() }

// applySteps gives lset the labels the chain's calls give it in turn.
func applySteps(lb *labels.Builder, lset labels.Labels, steps []labelStep) labels.Labels {
	changed := false
	for _, st := range steps {
		v := lset.Get(st.src)
		if changed {
			v = lb.Get(st.src)
		}
		var res string
		switch {
		case st.copy && v == "":
			continue
		case st.copy:
			res = v
		default:
			idx := st.re.FindStringSubmatchIndex(v)
			if idx == nil {
				continue
			}
			res = string(st.re.ExpandString(nil, st.repl, v, idx))
		}
		if !changed {
			lb.Reset(lset)
			changed = true
		}
		lb.Set(st.dst, res)
	}
	if !changed {
		return lset
	}
	return lb.Labels()
}

type relabeledSeries struct {
	storage.Series
	lset labels.Labels
}

func (s relabeledSeries) Labels() labels.Labels { return s.lset }

// listSeriesSet is a series set over a slice.
type listSeriesSet struct {
	series []storage.Series
	i      int
	ws     annotations.Annotations
}

func (s *listSeriesSet) Next() bool                        { s.i++; return s.i < len(s.series) }
func (s *listSeriesSet) At() storage.Series                { return s.series[s.i] }
func (s *listSeriesSet) Err() error                        { return nil }
func (s *listSeriesSet) Warnings() annotations.Annotations { return s.ws }
