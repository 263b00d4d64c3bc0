package rules

import (
	"context"
	"fmt"
	"math"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql/parser"
)

// The catalog reads every engine and exporter it knows (vLLM, SGLang, TGI,
// llama.cpp, Dynamo, the gateways, Kueue, ...) with one rule per signal: a
// branch per source, joined by `or`, and range checks over each. A fleet
// runs one or two of them, so most branches select metric names that no
// series of the store has, at any time. Such a branch is empty at every
// evaluation, and so is every expression that only transforms it, so the
// rule gives the same result without it: `A or B` is B when A is certainly
// empty, `A unless B` is A when B is, `A and B`, `A / B`, `sum(A)`,
// `rate(A[5m])`, `label_replace(A, ...)` are empty when A is; a rule left
// with nothing is not evaluated at all. Functions that make series from
// nothing (absent, vector, time, ...) are never taken for empty.
//
// As for the label pruning, the absent names are read before the query and
// checked again after it: a name that appeared meanwhile (a new exporter's
// first scrape) makes the rule be evaluated as written. The names are read
// once per evaluation time (every rule of a group iteration shares it); the
// check after reads only the absent names of the rule.

// emptyInputFuncs are the functions whose result is empty when a vector
// or range argument is: they transform their input series one by one.
var emptyInputFuncs = map[string]bool{
	"rate": true, "irate": true, "increase": true, "delta": true, "idelta": true, "deriv": true,
	"resets": true, "changes": true, "predict_linear": true,
	"avg_over_time": true, "min_over_time": true, "max_over_time": true, "sum_over_time": true,
	"count_over_time": true, "last_over_time": true, "quantile_over_time": true, "stddev_over_time": true,
	"stdvar_over_time": true, "present_over_time": true, "mad_over_time": true,
	"label_replace": true, "label_join": true,
	"histogram_quantile": true, "histogram_sum": true, "histogram_count": true, "histogram_avg": true,
	"histogram_fraction": true, "histogram_stddev": true, "histogram_stdvar": true,
	"abs": true, "ceil": true, "floor": true, "round": true, "sqrt": true, "exp": true, "ln": true,
	"log2": true, "log10": true, "clamp": true, "clamp_min": true, "clamp_max": true, "sgn": true,
	"timestamp": true, "sort": true, "sort_desc": true,
}

// selectedNames returns the metric names e's selectors select by equality,
// sorted and unique.
func selectedNames(e parser.Expr) []string {
	var out []string
	parser.Inspect(e, func(n parser.Node, _ []parser.Node) error {
		if name := selectorName(n); name != "" && !slices.Contains(out, name) {
			out = append(out, name)
		}
		return nil
	})
	slices.Sort(out)
	return out
}

// selectorName is the metric name a vector selector selects by equality,
// "" for any other node.
func selectorName(n parser.Node) string {
	vs, ok := n.(*parser.VectorSelector)
	if !ok {
		return ""
	}
	for _, m := range vs.LabelMatchers {
		if m.Name == model.MetricNameLabel && m.Type == labels.MatchEqual {
			return m.Value
		}
	}
	return ""
}

// pruneEmpty returns a copy of e without the branches that are certainly
// empty when the names in absent select nothing, and whether all of e is.
func pruneEmpty(p parser.Parser, e parser.Expr, absent map[string]bool) (parser.Expr, bool) {
	out, err := p.ParseExpr(e.String()) // a deep copy
	if err != nil {
		return e, false
	}
	var rec func(parser.Expr) (parser.Expr, bool)
	// inner prunes the operand at p in place and says whether it is empty.
	inner := func(p *parser.Expr) bool {
		var empty bool
		*p, empty = rec(*p)
		return empty
	}
	rec = func(x parser.Expr) (parser.Expr, bool) {
		switch n := x.(type) {
		case *parser.VectorSelector:
			return n, absent[selectorName(n)]
		case *parser.MatrixSelector:
			_, empty := rec(n.VectorSelector)
			return n, empty
		case *parser.ParenExpr:
			return n, inner(&n.Expr)
		case *parser.UnaryExpr:
			return n, inner(&n.Expr)
		case *parser.SubqueryExpr:
			return n, inner(&n.Expr)
		case *parser.StepInvariantExpr:
			return n, inner(&n.Expr)
		case *parser.AggregateExpr:
			empty := inner(&n.Expr)
			if n.Param != nil {
				inner(&n.Param)
			}
			return n, empty
		case *parser.Call:
			anyEmpty := false
			for i, a := range n.Args {
				var empty bool
				n.Args[i], empty = rec(a)
				if empty && (a.Type() == parser.ValueTypeVector || a.Type() == parser.ValueTypeMatrix) {
					anyEmpty = true
				}
			}
			return n, anyEmpty && emptyInputFuncs[n.Func.Name]
		case *parser.BinaryExpr:
			lhs, lEmpty := rec(n.LHS)
			rhs, rEmpty := rec(n.RHS)
			n.LHS, n.RHS = lhs, rhs
			vectors := n.LHS.Type() == parser.ValueTypeVector && n.RHS.Type() == parser.ValueTypeVector
			switch {
			case n.Op == parser.LOR && vectors:
				switch {
				case lEmpty && rEmpty:
					return n, true
				case lEmpty:
					return rhs, false
				case rEmpty:
					return lhs, false
				}
			case n.Op == parser.LUNLESS && vectors:
				if lEmpty {
					return n, true
				}
				if rEmpty {
					return lhs, false
				}
			default:
				// and, arithmetic and comparisons: a vector side that is
				// empty matches nothing, or has no sample to compute on.
				if (lEmpty && n.LHS.Type() == parser.ValueTypeVector) || (rEmpty && n.RHS.Type() == parser.ValueTypeVector) {
					return n, true
				}
			}
			return n, false
		}
		return x, false
	}
	return rec(out)
}

// absentNames returns which of names no series of the store has, from the
// names read once per evaluation time t.
func (pr *pruner) absentNames(ctx context.Context, t time.Time, names []string) ([]string, error) {
	pr.mu.Lock()
	have, ok := pr.names[t]
	pr.mu.Unlock()
	if !ok {
		qr, err := pr.q.Querier(math.MinInt64, math.MaxInt64)
		if err != nil {
			return nil, fmt.Errorf("metric names: %w", err)
		}
		have, _, err = qr.LabelValues(ctx, model.MetricNameLabel, nil)
		qr.Close()
		if err != nil {
			return nil, fmt.Errorf("metric names: %w", err)
		}
		pr.mu.Lock()
		if len(pr.names) >= 8 { // a few groups evaluate at their own times
			clear(pr.names)
		}
		pr.names[t] = have
		pr.mu.Unlock()
	}
	var absent []string
	for _, n := range names {
		if _, found := slices.BinarySearch(have, n); !found {
			absent = append(absent, n)
		}
	}
	return absent, nil
}

// stillAbsent says whether no series of the store has any of names now.
func (pr *pruner) stillAbsent(ctx context.Context, names []string) (bool, error) {
	qr, err := pr.q.Querier(math.MinInt64, math.MaxInt64)
	if err != nil {
		return false, fmt.Errorf("metric names: %w", err)
	}
	defer qr.Close()
	quoted := make([]string, len(names))
	for i, n := range names {
		quoted[i] = regexp.QuoteMeta(n)
	}
	m, err := labels.NewMatcher(labels.MatchRegexp, model.MetricNameLabel, strings.Join(quoted, "|"))
	if err != nil {
		return false, fmt.Errorf("metric names: %w", err)
	}
	found, _, err := qr.LabelValues(ctx, model.MetricNameLabel, nil, m)
	if err != nil {
		return false, fmt.Errorf("metric names: %w", err)
	}
	return len(found) == 0, nil
}

// withoutEmpty is q (parsed as e) without its certainly empty branches
// when the names absent select nothing, whether nothing is left, and
// whether nothing was dropped.
func (pr *pruner) withoutEmpty(e *prunable, absent []string) (text string, empty, same bool) {
	key := strings.Join(absent, "\x00")
	pr.mu.Lock()
	defer pr.mu.Unlock()
	if r, ok := e.emptyTexts[key]; ok {
		return r.text, r.empty, r.same
	}
	set := make(map[string]bool, len(absent))
	for _, n := range absent {
		set[n] = true
	}
	x, empty := pruneEmpty(pr.p, e.parsed, set)
	r := emptyPruned{text: x.String(), empty: empty}
	r.same = !empty && r.text == e.parsed.String()
	e.emptyTexts[key] = r
	return r.text, r.empty, r.same
}

// emptyPruned is a query without its empty branches.
type emptyPruned struct {
	text        string
	empty, same bool
}
