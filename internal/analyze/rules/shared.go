package rules

import (
	"context"
	"math"
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
	q storage.Queryable
	// lookback is the engine's lookback delta in ms (0: unknown): a copy
	// of an instant selector keeps, of the samples up to its evaluation
	// time, only the newest — the only one the engine reads.
	lookback int64
	hits     atomic.Int64 // reads answered from a copy
	grouped  atomic.Int64 // reads answered with a series per group (selectGroup)

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
	// interval is the group's evaluation interval.
	interval time.Duration
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

func newSharedReads(q storage.Queryable, lookback time.Duration) *sharedReads {
	return &sharedReads{q: q, lookback: lookback.Milliseconds(), plans: map[string]*planRule{}}
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
		gr := &groupReads{interval: g.Interval(), t: -1 << 63, entries: map[readKey]*readEntry{}, writers: map[string][]int{}}
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
// own, smoothed and anchored ones over a wider window: they are not counted
// (their reads go to the store, see sharedQuerier.plain).
func selectorReads(e parser.Expr, matchers map[string][]*labels.Matcher) map[string]int {
	out := map[string]int{}
	parser.Inspect(e, func(n parser.Node, path []parser.Node) error {
		vs, ok := n.(*parser.VectorSelector)
		if !ok || vs.Timestamp != nil || vs.StartOrEnd != 0 || vs.Smoothed || vs.Anchored {
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
	return &sharedQuerier{Querier: q, hits: &s.hits, grouped: &s.grouped, lookback: s.lookback}, nil
}

type sharedQuerier struct {
	storage.Querier
	hits     *atomic.Int64
	grouped  *atomic.Int64
	lookback int64
}

// plain says whether a read is a plain selector's, as the plan counts
// them: not under a subquery (a step), not smoothed or anchored (a window
// wider than the range or, for an instant selector, the lookback).
func (q *sharedQuerier) plain(h *storage.SelectHints) bool {
	if h.Step != 0 {
		return false
	}
	width := h.End - h.Start + 1
	if h.Range > 0 {
		return width == h.Range
	}
	return q.lookback <= 0 || width == q.lookback
}

// cut is the time up to which a copy of the read keeps only the newest
// sample: an instant selector outside a subquery (no range, no step)
// reads, of the samples up to its evaluation time, only the newest in the
// lookback window (a smoothed one also the samples after it). The engine
// asks for [T-lookback+1, T] (smoothed: to T+lookback) at evaluation time
// T, so T is the start plus the lookback; a lookback configured smaller
// than the engine's keeps more samples, never fewer. Other reads keep
// every sample (math.MinInt64: none is cut).
func (q *sharedQuerier) cut(h *storage.SelectHints) int64 {
	if q.lookback <= 0 || h.Range != 0 || h.Step != 0 {
		return math.MinInt64
	}
	return h.Start + q.lookback - 1
}

// Select answers a planned read from the group's copy, or reads the store
// and keeps a copy when the plan says the selector is read again.
func (q *sharedQuerier) Select(ctx context.Context, sortSeries bool, hints *storage.SelectHints, ms ...*labels.Matcher) storage.SeriesSet {
	rc, _ := ctx.Value(readsCtxKey{}).(*readsCtx)
	if rc == nil || hints == nil || sortSeries || hints.Func == "series" || hints.ShardCount > 0 || hints.DisableTrimming || !q.plain(hints) {
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
		if q.groupRead(hints) {
			return q.selectGroup(ctx, hints, ms)
		}
		return q.Querier.Select(ctx, sortSeries, hints, ms...)
	}
	series, ws, err := readAll(q.Querier.Select(ctx, sortSeries, hints, ms...), q.cut(hints))
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
// in a few shared blocks, so a copy costs few allocations. Of the samples
// at or before cut only the newest is kept (see sharedQuerier.cut); the
// older ones are decoded, as the engine decodes them, but not copied.
func readAll(ss storage.SeriesSet, cut int64) ([]*memSeries, annotations.Annotations, error) {
	var (
		out []*memSeries
		it  chunkenc.Iterator
		b   seriesBuf
		a   arena
	)
	for ss.Next() {
		var ms *memSeries
		var err error
		if ms, it, err = b.read(ss.At(), it, &a, cut); err != nil {
			return nil, nil, err
		}
		out = append(out, ms)
	}
	if err := ss.Err(); err != nil {
		return nil, nil, err
	}
	return out, ss.Warnings(), nil
}

// read copies s's samples into a memSeries cut from a (see readAll), with
// it as the iterator to reuse; it returns the iterator for the next.
func (b *seriesBuf) read(s storage.Series, it chunkenc.Iterator, a *arena, cut int64) (*memSeries, chunkenc.Iterator, error) {
	b.reset()
	it = s.Iterator(it)
	for vt := it.Next(); vt != chunkenc.ValNone; vt = it.Next() {
		if it.AtT() <= cut {
			b.hold(it, vt)
			continue
		}
		b.flush()
		switch vt {
		case chunkenc.ValFloat:
			t, f := it.At()
			b.add(t, it.AtST(), f, nil, nil)
		case chunkenc.ValHistogram:
			t, h := it.AtHistogram(nil)
			b.add(t, it.AtST(), 0, h, nil)
		case chunkenc.ValFloatHistogram:
			t, fh := it.AtFloatHistogram(nil)
			b.add(t, it.AtST(), 0, nil, fh)
		}
	}
	b.flush()
	if err := it.Err(); err != nil {
		return nil, it, err
	}
	ms := a.series()
	ms.lset = s.Labels()
	ms.ts, ms.fs = a.ints(b.ts), a.floats(b.fs)
	if b.anySt {
		ms.sts = slices.Clone(b.sts)
	}
	if b.anyH {
		ms.hs = slices.Clone(b.hs)
	}
	if b.anyFH {
		ms.fhs = slices.Clone(b.fhs)
	}
	return ms, it, nil
}

// seriesBuf collects one series' samples for readAll; its slices are
// reused from series to series.
type seriesBuf struct {
	ts, sts            []int64
	fs                 []float64
	hs                 []*histogram.Histogram
	fhs                []*histogram.FloatHistogram
	anySt, anyH, anyFH bool
	// A sample at or before the cut is held (its histogram decoded into
	// the reused hBuf or fhBuf) until a newer one replaces it, or a
	// sample after the cut or the series' end keeps it.
	held          chunkenc.ValueType // ValNone: none held
	heldT, heldST int64
	heldF         float64
	hBuf          histogram.Histogram
	fhBuf         histogram.FloatHistogram
}

func (b *seriesBuf) reset() {
	b.ts, b.sts, b.fs, b.hs, b.fhs = b.ts[:0], b.sts[:0], b.fs[:0], b.hs[:0], b.fhs[:0]
	b.anySt, b.anyH, b.anyFH = false, false, false
	b.held = chunkenc.ValNone
}

func (b *seriesBuf) add(t, st int64, f float64, h *histogram.Histogram, fh *histogram.FloatHistogram) {
	b.anySt, b.anyH, b.anyFH = b.anySt || st != 0, b.anyH || h != nil, b.anyFH || fh != nil
	b.ts, b.sts, b.fs, b.hs, b.fhs = append(b.ts, t), append(b.sts, st), append(b.fs, f), append(b.hs, h), append(b.fhs, fh)
}

// hold takes the iterator's sample in place of the one held.
func (b *seriesBuf) hold(it chunkenc.Iterator, vt chunkenc.ValueType) {
	b.held, b.heldST, b.heldF = vt, it.AtST(), 0
	switch vt {
	case chunkenc.ValFloat:
		b.heldT, b.heldF = it.At()
	// A chunk's iterator answers a staleness marker with a histogram of
	// its own, not written into the one it is given.
	case chunkenc.ValHistogram:
		var h *histogram.Histogram
		if b.heldT, h = it.AtHistogram(&b.hBuf); h != &b.hBuf {
			h.CopyTo(&b.hBuf)
		}
	case chunkenc.ValFloatHistogram:
		var fh *histogram.FloatHistogram
		if b.heldT, fh = it.AtFloatHistogram(&b.fhBuf); fh != &b.fhBuf {
			fh.CopyTo(&b.fhBuf)
		}
	default:
		b.held = chunkenc.ValNone
	}
}

// flush keeps the sample held, if any.
func (b *seriesBuf) flush() {
	switch b.held {
	case chunkenc.ValFloat:
		b.add(b.heldT, b.heldST, b.heldF, nil, nil)
	case chunkenc.ValHistogram:
		b.add(b.heldT, b.heldST, 0, b.hBuf.Copy(), nil)
	case chunkenc.ValFloatHistogram:
		b.add(b.heldT, b.heldST, 0, nil, b.fhBuf.Copy())
	}
	b.held = chunkenc.ValNone
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
