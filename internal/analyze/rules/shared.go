package rules

import (
	"context"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/histogram"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql"
	"github.com/prometheus/prometheus/promql/parser"
	prules "github.com/prometheus/prometheus/rules"
	"github.com/prometheus/prometheus/storage"
	"github.com/prometheus/prometheus/tsdb/chunkenc"
	"github.com/prometheus/prometheus/util/annotations"
)

// sharedReads lets the rules of one group evaluation read a selector's
// series once: the catalog reads the same raw series in a signal's rule and
// again in its range check (which follows it), and a range check with a
// minimum and a maximum reads each selector twice. PromQL engines evaluate
// every selector of every rule from the store, decoding each series' chunk
// from its start; here a read that the group's later rules (or the same
// rule) will make again is decoded once into memory — only the samples the
// selector asked for — and the later reads at the same evaluation time are
// answered from that copy, which is then dropped after its last planned
// read. The copy holds exactly what the store returned for the same
// matchers and time range, so every rule computes what it would from the
// store (as it was at the first read).
//
// The plan is static: for each rule's query, the number of reads of each
// selector (its matchers, range and offset) in that query and in the
// group's later rules. A read outside the plan — a query that is not a
// rule's, a selector under a subquery or with @ — goes to the store as it
// is. Whatever the plan says, a copy answers only a read of the same
// matchers and time range: a wrong count costs a read or keeps a copy until
// the group's next evaluation, never changes a result.
type sharedReads struct {
	q    storage.Queryable
	hits atomic.Int64 // reads answered from a copy

	mu    sync.Mutex
	plans map[string]*planRule // by a rule's query text
}

// planRule is one rule's place in its group's plan.
type planRule struct {
	group *groupReads
	index int // the rule's place in its group
	// later is, by read key (readsKey), how often the selector is read
	// after a first read in this rule: again in this rule, and in the
	// group's later rules.
	later map[string]int
}

// groupReads is the shared reads of one group's current evaluation.
type groupReads struct {
	// writers are, by read key, the places of the rules that may write
	// series the selector selects (static).
	writers map[string][]int

	mu      sync.Mutex
	t       int64 // the evaluation's timestamp (ms)
	entries map[readKey]*readEntry
}

// valid says whether a copy made at place made answers a read at place at:
// no rule in between (the maker included) wrote what the selector selects.
func (g *groupReads) valid(key string, made, at int) bool {
	for _, w := range g.writers[key] {
		if made <= w && w < at {
			return false
		}
	}
	return true
}

type readKey struct {
	matchers   string
	start, end int64
}

// readEntry is a selector's series as read once, and the reads left.
type readEntry struct {
	series []*memSeries
	left   int
	made   int // the place of the rule that made it
}

func newSharedReads(q storage.Queryable) *sharedReads {
	return &sharedReads{q: q, plans: map[string]*planRule{}}
}

// setPlan replaces the plan with one for groups (as loaded: each rule's
// query as the rule manager prints it for the query function).
//
// A rule writes what it records (or ALERTS and ALERTS_FOR_STATE) after its
// query: a copy made before a rule that writes series the selector may
// match answers no read after that rule, so a group reading what it records
// reads it from the store.
func (s *sharedReads) setPlan(groups []*prules.Group) {
	// A query twice (in two groups, or in one): which evaluation, or
	// which place, its reads belong to is unknown, so it has no plan and
	// counts in none (its writes still count).
	seen := map[string]bool{}
	ambiguous := map[string]bool{}
	for _, g := range groups {
		for _, r := range g.Rules() {
			q := r.Query().String()
			ambiguous[q] = seen[q]
			seen[q] = true
		}
	}
	plans := map[string]*planRule{}
	for _, g := range groups {
		rules := g.Rules()
		reads := make([]map[string]int, len(rules))
		gr := &groupReads{t: -1 << 63, entries: map[readKey]*readEntry{}, writers: map[string][]int{}}
		matchers := map[string][]*labels.Matcher{}
		for i, r := range rules {
			if !ambiguous[r.Query().String()] {
				reads[i] = selectorReads(r.Query(), matchers)
			}
		}
		for k, ms := range matchers {
			for i, r := range rules {
				if writesMatching(r, ms) {
					gr.writers[k] = append(gr.writers[k], i)
				}
			}
		}
		after := map[string]int{} // usable reads in the rules after the current one
		for i := len(rules) - 1; i >= 0; i-- {
			for k := range after {
				if slices.Contains(gr.writers[k], i) {
					after[k] = 0
				}
			}
			if reads[i] == nil {
				continue
			}
			later := map[string]int{}
			for k, n := range reads[i] {
				if m := n - 1 + after[k]; m > 0 {
					later[k] = m
				}
			}
			plans[rules[i].Query().String()] = &planRule{group: gr, index: i, later: later}
			for k, n := range reads[i] {
				after[k] += n
			}
		}
	}
	s.mu.Lock()
	s.plans = plans
	s.mu.Unlock()
}

// writesMatching says whether r may write a series that matchers ms select:
// by the metric name alone (any other label may match).
func writesMatching(r prules.Rule, ms []*labels.Matcher) bool {
	var names []string
	switch r := r.(type) {
	case *prules.RecordingRule:
		names = []string{r.Name()}
	case *prules.AlertingRule:
		names = []string{"ALERTS", "ALERTS_FOR_STATE"}
	default:
		return true
	}
	for _, n := range names {
		if matchesName(ms, n) {
			return true
		}
	}
	return false
}

func matchesName(ms []*labels.Matcher, name string) bool {
	for _, m := range ms {
		if m.Name == model.MetricNameLabel && !m.Matches(name) {
			return false
		}
	}
	return true
}

// selectorReads counts the selectors of e by read key (matchers, range and
// offset). Selectors under a subquery or with @ are read at times of their
// own: they are not counted (a read of theirs goes to the store unless it
// happens to be another selector's).
func selectorReads(e parser.Expr, matchers map[string][]*labels.Matcher) map[string]int {
	out := map[string]int{}
	parser.Inspect(e, func(n parser.Node, path []parser.Node) error {
		vs, ok := n.(*parser.VectorSelector)
		if !ok || vs.Timestamp != nil || vs.StartOrEnd != 0 {
			return nil
		}
		var rng time.Duration
		for i, p := range path {
			switch p := p.(type) {
			case *parser.SubqueryExpr:
				return nil
			case *parser.MatrixSelector:
				if i == len(path)-1 {
					rng = p.Range
				}
			}
		}
		k := readsKey(vs.LabelMatchers, rng.Milliseconds(), vs.OriginalOffset.Milliseconds())
		out[k]++
		matchers[k] = vs.LabelMatchers
		return nil
	})
	return out
}

// readsKey names a selector's read: matchers, range and offset (ms).
func readsKey(ms []*labels.Matcher, rng, offset int64) string {
	return matchersKey(ms) + "|" + strconv.FormatInt(rng, 10) + "|" + strconv.FormatInt(offset, 10)
}

func matchersKey(ms []*labels.Matcher) string {
	var b strings.Builder
	for i, m := range ms {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(m.String())
	}
	return b.String()
}

// readsCtx is what a query's context carries: its rule's plan and the
// evaluation time.
type readsCtx struct {
	rule *planRule
	t    int64
}

type readsCtxKey struct{}

// wrap is the query function: the rule's plan goes with the query to the
// store's Select calls.
func (s *sharedReads) wrap(next prules.QueryFunc) prules.QueryFunc {
	return func(ctx context.Context, q string, t time.Time) (promql.Vector, error) {
		s.mu.Lock()
		pr := s.plans[q]
		s.mu.Unlock()
		if pr != nil {
			ctx = context.WithValue(ctx, readsCtxKey{}, &readsCtx{rule: pr, t: t.UnixMilli()})
		}
		return next(ctx, q, t)
	}
}

// Querier implements storage.Queryable.
func (s *sharedReads) Querier(mint, maxt int64) (storage.Querier, error) {
	q, err := s.q.Querier(mint, maxt)
	if err != nil {
		return nil, err
	}
	return &sharedQuerier{Querier: q, hits: &s.hits}, nil
}

type sharedQuerier struct {
	storage.Querier
	hits *atomic.Int64
}

// Select answers a planned read from the group's copy, or reads the store
// and keeps a copy when the plan says the selector is read again.
func (q *sharedQuerier) Select(ctx context.Context, sortSeries bool, hints *storage.SelectHints, ms ...*labels.Matcher) storage.SeriesSet {
	rc, _ := ctx.Value(readsCtxKey{}).(*readsCtx)
	if rc == nil || hints == nil || sortSeries || hints.Func == "series" || hints.ShardCount > 0 || hints.DisableTrimming {
		return q.Querier.Select(ctx, sortSeries, hints, ms...)
	}
	mk := readsKey(ms, hints.Range, rc.t-hints.End)
	later := rc.rule.later[mk]
	g := rc.rule.group
	key := readKey{matchers: mk, start: hints.Start, end: hints.End}
	g.mu.Lock()
	if g.t != rc.t { // a new evaluation of the group
		g.t = rc.t
		clear(g.entries)
	}
	if e, ok := g.entries[key]; ok {
		if !g.valid(mk, e.made, rc.rule.index) {
			delete(g.entries, key)
		} else {
			if e.left--; e.left <= 0 {
				delete(g.entries, key)
			}
			g.mu.Unlock()
			q.hits.Add(1)
			return newMemSeriesSet(e.series)
		}
	}
	g.mu.Unlock()
	if later == 0 {
		return q.Querier.Select(ctx, sortSeries, hints, ms...)
	}
	series, ws, err := readAll(q.Querier.Select(ctx, sortSeries, hints, ms...))
	if err != nil {
		return storage.ErrSeriesSet(err)
	}
	if len(ws) > 0 { // the store's warnings go with its answer only
		return &memSeriesSet{series: series, i: -1, ws: ws}
	}
	g.mu.Lock()
	if g.t == rc.t {
		g.entries[key] = &readEntry{series: series, left: later, made: rc.rule.index}
	}
	g.mu.Unlock()
	return newMemSeriesSet(series)
}

// memSeries is one series' samples as the store returned them.
type memSeries struct {
	lset labels.Labels
	ts   []int64
	sts  []int64 // start timestamps, nil when all zero
	fs   []float64
	hs   []*histogram.Histogram      // per sample, nil for others
	fhs  []*histogram.FloatHistogram // per sample, nil for others
}

// readAll copies a series set into memory: the samples of all its series
// in a few shared blocks, so a copy costs few allocations.
func readAll(ss storage.SeriesSet) ([]*memSeries, annotations.Annotations, error) {
	var (
		out     []*memSeries
		it      chunkenc.Iterator
		ts, sts []int64 // the current series', reused
		fs      []float64
		hs      []*histogram.Histogram
		fhs     []*histogram.FloatHistogram
		a       arena
	)
	for ss.Next() {
		s := ss.At()
		ts, sts, fs, hs, fhs = ts[:0], sts[:0], fs[:0], hs[:0], fhs[:0]
		anySt, anyH, anyFH := false, false, false
		it = s.Iterator(it)
		for vt := it.Next(); vt != chunkenc.ValNone; vt = it.Next() {
			var (
				t  int64
				f  float64
				h  *histogram.Histogram
				fh *histogram.FloatHistogram
			)
			switch vt {
			case chunkenc.ValFloat:
				t, f = it.At()
			case chunkenc.ValHistogram:
				t, h = it.AtHistogram(nil)
				anyH = true
			case chunkenc.ValFloatHistogram:
				t, fh = it.AtFloatHistogram(nil)
				anyFH = true
			default:
				continue
			}
			st := it.AtST()
			anySt = anySt || st != 0
			ts, sts, fs, hs, fhs = append(ts, t), append(sts, st), append(fs, f), append(hs, h), append(fhs, fh)
		}
		if err := it.Err(); err != nil {
			return nil, nil, err
		}
		ms := a.series()
		ms.lset = s.Labels()
		ms.ts, ms.fs = a.ints(ts), a.floats(fs)
		if anySt {
			ms.sts = slices.Clone(sts)
		}
		if anyH {
			ms.hs = slices.Clone(hs)
		}
		if anyFH {
			ms.fhs = slices.Clone(fhs)
		}
		out = append(out, ms)
	}
	if err := ss.Err(); err != nil {
		return nil, nil, err
	}
	return out, ss.Warnings(), nil
}

// arena hands out exact-length slices cut from larger blocks.
type arena struct {
	is  []int64
	fs  []float64
	mss []memSeries
}

const arenaBlock = 4096

func (a *arena) ints(src []int64) []int64 { return carve(&a.is, src) }

func (a *arena) floats(src []float64) []float64 { return carve(&a.fs, src) }

// carve copies src into the block *buf (a new one when it is full) and
// returns the copy, capped so appending to it copies.
func carve[T any](buf *[]T, src []T) []T {
	if cap(*buf)-len(*buf) < len(src) {
		*buf = make([]T, 0, max(arenaBlock, len(src)))
	}
	n := len(*buf)
	*buf = append(*buf, src...)
	return (*buf)[n:len(*buf):len(*buf)]
}

func (a *arena) series() *memSeries {
	if len(a.mss) == cap(a.mss) {
		a.mss = make([]memSeries, 0, 256)
	}
	a.mss = a.mss[:len(a.mss)+1]
	return &a.mss[len(a.mss)-1]
}
