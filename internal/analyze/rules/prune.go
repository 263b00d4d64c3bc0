package rules

import (
	"context"
	"fmt"
	"math"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/prometheus/promql"
	"github.com/prometheus/prometheus/promql/parser"
	prules "github.com/prometheus/prometheus/rules"
	"github.com/prometheus/prometheus/storage"
)

// pruner evaluates rules without the label_replace calls that cannot change
// anything in the store as it is: the catalog wraps every selector in one
// label_replace per label alias (pod from pod_name, from exported_pod, ...),
// and on most fleets most alias labels exist on no series the call reads
// (exported_pod is on dcgm-exporter's series, never on vLLM's). A call
// label_replace(v, dst, repl, src, regex) whose src label is on no series
// of the metric names v reads (nor set by another label_replace of the
// query) and whose regex does not match the empty string leaves every
// series as it is, so the query without it gives the same result; the
// catalog's range checks and signals spend a quarter to a half of the rule
// evaluation in these calls. Where v reads a selector without a metric
// name, the call is dropped only when no series of the store has src.
//
// The label names are read before the query and again after it: a name
// that appeared meanwhile (a new exporter's first series) makes the rule be
// evaluated again unpruned, so the result is always the unpruned one.
//
// Before that, the branches that select only metric names the store has
// never held are dropped (prune_names.go).
type pruner struct {
	next prules.QueryFunc
	q    storage.Queryable
	p    parser.Parser
	// labelsOf returns the label names of a metric name's series (at any
	// time); nil drops only calls whose source no series has.
	labelsOf func(ctx context.Context, metric string) ([]string, error)

	mu    sync.Mutex
	cache map[string]*prunable
	// names are the store's metric names, read once per evaluation time.
	names map[time.Time][]string
}

// prunable is one query's label_replace calls that may be dropped, and its
// pruned text per set of them dropped.
type prunable struct {
	expr parser.Expr // nil when nothing can be pruned (or the query does not parse)
	// calls are the droppable calls, in the order rewriteDroppable visits
	// them; srcs their source labels and metrics the metric names they
	// read, sorted and unique.
	calls   []dropCall
	srcs    []string
	metrics []string
	// texts are the pruned queries by the calls dropped (a key of '0'/'1'
	// per call).
	texts map[string]string

	// parsed is the query (nil when it does not parse), names the metric
	// names its selectors select, emptyTexts the query without its empty
	// branches by the absent names.
	parsed     parser.Expr
	names      []string
	emptyTexts map[string]emptyPruned
}

// dropCall is a droppable label_replace call: its source label and the
// metric names its argument reads (named false when a selector of it has
// no metric name).
type dropCall struct {
	src     string
	metrics []string
	named   bool
}

// maxPruneCache bounds the queries remembered (the catalog has about a
// hundred rules).
const maxPruneCache = 4096

func newPruner(next prules.QueryFunc, q storage.Queryable, p parser.Parser, labelsOf func(context.Context, string) ([]string, error)) *pruner {
	return &pruner{next: next, q: q, p: p, labelsOf: labelsOf, cache: map[string]*prunable{}, names: map[time.Time][]string{}}
}

// QueryFunc is the rule manager's query function.
func (pr *pruner) QueryFunc(ctx context.Context, q string, t time.Time) (promql.Vector, error) {
	e := pr.lookup(q)
	if len(e.names) == 0 {
		return pr.withoutAbsentLabels(ctx, e, q, t)
	}
	absent, err := pr.absentNames(ctx, t, e.names)
	if err != nil || len(absent) == 0 {
		return pr.withoutAbsentLabels(ctx, e, q, t)
	}
	nq, empty, same := pr.withoutEmpty(e, absent)
	if same {
		return pr.withoutAbsentLabels(ctx, e, q, t)
	}
	var v promql.Vector
	if !empty {
		if v, err = pr.withoutAbsentLabels(ctx, pr.lookup(nq), nq, t); err != nil {
			return v, err
		}
	}
	// A name that appeared during the query: evaluate it as written.
	if still, err := pr.stillAbsent(ctx, absent); err != nil || !still {
		return pr.withoutAbsentLabels(ctx, e, q, t)
	}
	return v, nil
}

// withoutAbsentLabels evaluates q (looked up as e) without the
// label_replace calls whose source label no series they read has.
func (pr *pruner) withoutAbsentLabels(ctx context.Context, e *prunable, q string, t time.Time) (promql.Vector, error) {
	if e.expr == nil {
		return pr.next(ctx, q, t)
	}
	before, err := pr.dropped(ctx, e)
	if err != nil || !strings.Contains(before, "1") {
		return pr.next(ctx, q, t)
	}
	v, err := pr.next(ctx, pr.text(e, before), t)
	if err != nil {
		return v, err
	}
	// A label that appeared during the query: evaluate it as written.
	if after, err := pr.dropped(ctx, e); err != nil || after != before {
		return pr.next(ctx, q, t)
	}
	return v, nil
}

// dropped returns, for each droppable call of e, '1' when no series it
// reads has its source label and '0' otherwise.
func (pr *pruner) dropped(ctx context.Context, e *prunable) (string, error) {
	global := pr.labelsOf == nil
	for _, c := range e.calls {
		global = global || !c.named
	}
	var present string
	if global {
		var err error
		if present, err = pr.present(ctx, e.srcs); err != nil {
			return "", err
		}
	}
	var of map[string][]string
	if pr.labelsOf != nil {
		of = make(map[string][]string, len(e.metrics))
		for _, m := range e.metrics {
			names, err := pr.labelsOf(ctx, m)
			if err != nil {
				return "", fmt.Errorf("label names of %s: %w", m, err)
			}
			of[m] = names
		}
	}
	b := make([]byte, len(e.calls))
	for i, c := range e.calls {
		b[i] = '0'
		if pr.labelsOf != nil && c.named {
			if !hasLabel(of, c.metrics, c.src) {
				b[i] = '1'
			}
			continue
		}
		if j, _ := slices.BinarySearch(e.srcs, c.src); present[j] == '0' {
			b[i] = '1'
		}
	}
	return string(b), nil
}

// hasLabel says whether a series of one of metrics has label (of holds
// the label names of each metric's series).
func hasLabel(of map[string][]string, metrics []string, label string) bool {
	for _, m := range metrics {
		if _, ok := slices.BinarySearch(of[m], label); ok {
			return true
		}
	}
	return false
}

// present returns, for each label of srcs, '1' when some series of the
// store (at any time) has it and '0' otherwise.
func (pr *pruner) present(ctx context.Context, srcs []string) (string, error) {
	qr, err := pr.q.Querier(math.MinInt64, math.MaxInt64)
	if err != nil {
		return "", fmt.Errorf("label names: %w", err)
	}
	defer qr.Close()
	names, _, err := qr.LabelNames(ctx, nil)
	if err != nil {
		return "", fmt.Errorf("label names: %w", err)
	}
	b := make([]byte, len(srcs))
	for i, s := range srcs {
		b[i] = '0'
		if _, ok := slices.BinarySearch(names, s); ok {
			b[i] = '1'
		}
	}
	return string(b), nil
}

func (pr *pruner) lookup(q string) *prunable {
	pr.mu.Lock()
	defer pr.mu.Unlock()
	if e, ok := pr.cache[q]; ok {
		return e
	}
	if len(pr.cache) >= maxPruneCache { // rule files reloaded many times over
		clear(pr.cache)
	}
	e := &prunable{texts: map[string]string{}, emptyTexts: map[string]emptyPruned{}}
	if expr, err := pr.p.ParseExpr(q); err == nil {
		e.parsed, e.names = expr, selectedNames(expr)
		if calls := droppableCalls(expr); len(calls) > 0 {
			e.expr, e.calls = expr, calls
			for _, c := range calls {
				e.srcs = append(e.srcs, c.src)
				e.metrics = append(e.metrics, c.metrics...)
			}
			slices.Sort(e.srcs)
			e.srcs = slices.Compact(e.srcs)
			slices.Sort(e.metrics)
			e.metrics = slices.Compact(e.metrics)
		}
	}
	pr.cache[q] = e
	return e
}

// text is e's query without the label_replace calls dropped says ('1').
func (pr *pruner) text(e *prunable, dropped string) string {
	pr.mu.Lock()
	defer pr.mu.Unlock()
	if t, ok := e.texts[dropped]; ok {
		return t
	}
	out, err := pr.p.ParseExpr(e.expr.String()) // a deep copy
	if err != nil {
		return e.expr.String()
	}
	i := 0
	t := rewriteDroppable(out, func(*parser.Call, string) bool {
		i++
		return dropped[i-1] == '1'
	}).String()
	e.texts[dropped] = t
	return t
}

// droppableCalls lists the label_replace calls of e that could be dropped
// were their source label absent from the series they read, in the order
// rewriteDroppable visits them: sources no label_replace or label_join of e
// sets, regexes that do not match the empty string, over arguments that
// cannot hold two series of the same labels nor make labels of their own.
func droppableCalls(e parser.Expr) []dropCall {
	var out []dropCall
	rewriteDroppable(e, func(c *parser.Call, src string) bool {
		named := true
		parser.Inspect(c.Args[0], func(n parser.Node, _ []parser.Node) error {
			if vs, ok := n.(*parser.VectorSelector); ok && selectorName(vs) == "" {
				named = false
			}
			return nil
		})
		out = append(out, dropCall{src: src, metrics: selectedNames(c.Args[0]), named: named})
		return false
	})
	return out
}

// setLabels are the labels a label_replace or label_join of e sets.
func setLabels(e parser.Expr) map[string]bool {
	set := map[string]bool{}
	parser.Inspect(e, func(n parser.Node, _ []parser.Node) error {
		if c, ok := n.(*parser.Call); ok && (c.Func.Name == "label_replace" || c.Func.Name == "label_join") {
			if s, ok := c.Args[1].(*parser.StringLiteral); ok {
				set[s.Val] = true
			}
		}
		return nil
	})
	return set
}

// droppable reports whether n is a label_replace call that leaves every
// series unchanged when its source label src is on no series.
func droppable(n parser.Node, set map[string]bool) (src string, ok bool) {
	c, isCall := n.(*parser.Call)
	if !isCall || c.Func.Name != "label_replace" || len(c.Args) != 5 {
		return "", false
	}
	s, ok1 := c.Args[3].(*parser.StringLiteral)
	re, ok2 := c.Args[4].(*parser.StringLiteral)
	if !ok1 || !ok2 || s.Val == "" || s.Val == "__name__" || set[s.Val] {
		return "", false
	}
	r, err := regexp.Compile("^(?s:" + re.Val + ")$")
	if err != nil || r.MatchString("") {
		return "", false // an absent label's empty value would match
	}
	if makesLabels(c.Args[0]) {
		return "", false
	}
	// label_replace also merges series that end up with the same labels; a
	// call that changes nothing has nothing to merge unless its argument
	// already holds such series, which only a function or operator that
	// drops the metric name of a selector of several names can produce.
	base := c.Args[0]
	for {
		in, ok := base.(*parser.Call)
		if !ok || in.Func.Name != "label_replace" {
			break
		}
		base = in.Args[0]
	}
	for p, ok := base.(*parser.ParenExpr); ok; p, ok = base.(*parser.ParenExpr) {
		base = p.Expr
	}
	switch b := base.(type) {
	case *parser.VectorSelector:
		return s.Val, true
	case *parser.AggregateExpr:
		// An aggregation's groups have distinct labels; the ones that keep
		// their input's labels (topk, limitk, ...) are judged by their input.
		switch b.Op {
		case parser.TOPK, parser.BOTTOMK, parser.LIMITK, parser.LIMIT_RATIO:
		default:
			return s.Val, true
		}
	}
	named := true
	parser.Inspect(base, func(n parser.Node, _ []parser.Node) error {
		if vs, ok := n.(*parser.VectorSelector); ok && vs.Name == "" {
			named = false
		}
		return nil
	})
	return s.Val, named
}

// rewriteDroppable visits the droppable label_replace calls of e, outer
// before inner and left before right, and replaces those drop says so by
// their argument. It changes e in place only where a call is dropped.
func rewriteDroppable(e parser.Expr, drop func(c *parser.Call, src string) bool) parser.Expr {
	set := setLabels(e)
	var rec func(parser.Expr) parser.Expr
	rec = func(x parser.Expr) parser.Expr {
		if src, ok := droppable(x, set); ok && drop(x.(*parser.Call), src) {
			return rec(x.(*parser.Call).Args[0])
		}
		rewriteOperands(x, rec)
		return x
	}
	return rec(e)
}

// rewriteOperands replaces each operand of x (in place, left before
// right) by what rec makes of it, writing it only when it changed.
func rewriteOperands(x parser.Expr, rec func(parser.Expr) parser.Expr) {
	in := func(p *parser.Expr) {
		if y := rec(*p); y != *p {
			*p = y
		}
	}
	switch n := x.(type) {
	case *parser.Call:
		for i := range n.Args {
			in(&n.Args[i])
		}
	case *parser.AggregateExpr:
		in(&n.Expr)
		if n.Param != nil {
			in(&n.Param)
		}
	case *parser.BinaryExpr:
		in(&n.LHS)
		in(&n.RHS)
	case *parser.ParenExpr:
		in(&n.Expr)
	case *parser.UnaryExpr:
		in(&n.Expr)
	case *parser.SubqueryExpr:
		in(&n.Expr)
	case *parser.StepInvariantExpr:
		in(&n.Expr)
	}
}

// makesLabels says whether e holds something that gives its series labels
// no stored series has: absent and absent_over_time (the equality matchers
// of their selector), info (the labels of info metrics it reads without a
// selector) and count_values (a label of its own).
func makesLabels(e parser.Expr) bool {
	found := false
	parser.Inspect(e, func(n parser.Node, _ []parser.Node) error {
		switch n := n.(type) {
		case *parser.Call:
			switch n.Func.Name {
			case "absent", "absent_over_time", "info":
				found = true
			}
		case *parser.AggregateExpr:
			if n.Op == parser.COUNT_VALUES {
				found = true
			}
		}
		return nil
	})
	return found
}
