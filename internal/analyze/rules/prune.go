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
// and on most fleets most alias labels exist on no series at all. A call
// label_replace(v, dst, repl, src, regex) whose src label is on no series
// of the store (nor set by another label_replace of the query) and whose
// regex does not match the empty string leaves every series as it is, so
// the query without it gives the same result; the catalog's range checks
// and signals spend a quarter of the rule evaluation in these calls.
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

	mu    sync.Mutex
	cache map[string]*prunable
	// names are the store's metric names, read once per evaluation time.
	names map[time.Time][]string
}

// prunable is one query's label_replace calls that may be dropped, and its
// pruned text per set of their source labels present.
type prunable struct {
	expr parser.Expr // nil when nothing can be pruned (or the query does not parse)
	// srcs are the source labels of the droppable calls.
	srcs []string
	// texts are the pruned queries by the present subset of srcs (a key of
	// '0'/'1' per source).
	texts map[string]string

	// parsed is the query (nil when it does not parse), names the metric
	// names its selectors select, emptyTexts the query without its empty
	// branches by the absent names.
	parsed     parser.Expr
	names      []string
	emptyTexts map[string]emptyPruned
}

// maxPruneCache bounds the queries remembered (the catalog has about a
// hundred rules).
const maxPruneCache = 4096

func newPruner(next prules.QueryFunc, q storage.Queryable, p parser.Parser) *pruner {
	return &pruner{next: next, q: q, p: p, cache: map[string]*prunable{}, names: map[time.Time][]string{}}
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
// label_replace calls whose source label no series has.
func (pr *pruner) withoutAbsentLabels(ctx context.Context, e *prunable, q string, t time.Time) (promql.Vector, error) {
	if e.expr == nil {
		return pr.next(ctx, q, t)
	}
	before, err := pr.present(ctx, e.srcs)
	if err != nil || !strings.Contains(before, "0") {
		return pr.next(ctx, q, t)
	}
	v, err := pr.next(ctx, pr.text(e, before), t)
	if err != nil {
		return v, err
	}
	// A label that appeared during the query: evaluate it as written.
	if after, err := pr.present(ctx, e.srcs); err != nil || after != before {
		return pr.next(ctx, q, t)
	}
	return v, nil
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
		if srcs := droppableSources(expr); len(srcs) > 0 {
			e.expr, e.srcs = expr, srcs
		}
	}
	pr.cache[q] = e
	return e
}

// text is e's query without the label_replace calls whose source is absent
// (present holds '0' for those).
func (pr *pruner) text(e *prunable, present string) string {
	pr.mu.Lock()
	defer pr.mu.Unlock()
	if t, ok := e.texts[present]; ok {
		return t
	}
	absent := map[string]bool{}
	for i, s := range e.srcs {
		if present[i] == '0' {
			absent[s] = true
		}
	}
	t := pruneExpr(pr.p, e.expr, absent).String()
	e.texts[present] = t
	return t
}

// droppableSources lists the source labels of the label_replace calls of e
// that could be dropped were the label absent from the store: sources no
// label_replace or label_join of e sets, regexes that do not match the empty
// string, over arguments that cannot hold two series of the same labels.
func droppableSources(e parser.Expr) []string {
	set := map[string]bool{}
	parser.Inspect(e, func(n parser.Node, _ []parser.Node) error {
		if c, ok := n.(*parser.Call); ok && (c.Func.Name == "label_replace" || c.Func.Name == "label_join") {
			if s, ok := c.Args[1].(*parser.StringLiteral); ok {
				set[s.Val] = true
			}
		}
		return nil
	})
	var out []string
	parser.Inspect(e, func(n parser.Node, _ []parser.Node) error {
		if src, ok := droppable(n, set); ok && !slices.Contains(out, src) {
			out = append(out, src)
		}
		return nil
	})
	slices.Sort(out)
	return out
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

// pruneExpr returns a copy of e without the droppable label_replace calls
// whose source is absent.
func pruneExpr(p parser.Parser, e parser.Expr, absent map[string]bool) parser.Expr {
	set := map[string]bool{}
	parser.Inspect(e, func(n parser.Node, _ []parser.Node) error {
		if c, ok := n.(*parser.Call); ok && (c.Func.Name == "label_replace" || c.Func.Name == "label_join") {
			if s, ok := c.Args[1].(*parser.StringLiteral); ok {
				set[s.Val] = true
			}
		}
		return nil
	})
	out, err := p.ParseExpr(e.String()) // a deep copy
	if err != nil {
		return e
	}
	var rec func(parser.Expr) parser.Expr
	rec = func(x parser.Expr) parser.Expr {
		if src, ok := droppable(x, set); ok && absent[src] {
			return rec(x.(*parser.Call).Args[0])
		}
		switch n := x.(type) {
		case *parser.Call:
			for i, a := range n.Args {
				n.Args[i] = rec(a)
			}
		case *parser.AggregateExpr:
			n.Expr = rec(n.Expr)
			if n.Param != nil {
				n.Param = rec(n.Param)
			}
		case *parser.BinaryExpr:
			n.LHS, n.RHS = rec(n.LHS), rec(n.RHS)
		case *parser.ParenExpr:
			n.Expr = rec(n.Expr)
		case *parser.UnaryExpr:
			n.Expr = rec(n.Expr)
		case *parser.SubqueryExpr:
			n.Expr = rec(n.Expr)
		case *parser.StepInvariantExpr:
			n.Expr = rec(n.Expr)
		}
		return x
	}
	return rec(out)
}
