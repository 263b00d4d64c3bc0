package schema

import (
	"slices"

	"github.com/prometheus/prometheus/promql/parser"
)

// The catalog wraps every selector in label_replace calls (aliases, the
// exporter's own pod), and PromQL's label_replace rebuilds the labels of
// every series it is given. The two rewrites here give the same series and
// values with fewer series reaching those calls; both are exact.

// aliasChain splits e into its outer label_replace calls (outermost first)
// and the expression they wrap, looking through parentheses.
func aliasChain(e parser.Expr) (chain []*parser.Call, base parser.Expr) {
	for {
		switch n := e.(type) {
		case *parser.ParenExpr:
			e = n.Expr
			continue
		case *parser.Call:
			if n.Func.Name == "label_replace" && len(n.Args) == 5 {
				chain = append(chain, n)
				e = n.Args[0]
				continue
			}
		}
		return chain, e
	}
}

// rewrap puts base back inside copies of chain's calls.
func rewrap(chain []*parser.Call, base parser.Expr) parser.Expr {
	out := base
	for i := len(chain) - 1; i >= 0; i-- {
		c := *chain[i]
		c.Args = append(parser.Expressions{out}, c.Args[1:]...)
		out = &c
	}
	return out
}

// compareInside is `e op val` (a filtering comparison, no bool) with the
// comparison moved inside e's label_replace calls: label_replace changes
// labels, never values, and a filtering comparison keeps labels and values
// (and the metric name), so label_replace(x) < 0 and label_replace(x < 0)
// are the same series, and only the series that fail the comparison — in a
// range check, usually none — pay for the relabelling.
func compareInside(e parser.Expr, op parser.ItemType, val float64) parser.Expr {
	chain, base := aliasChain(e)
	return rewrap(chain, binary(op, base, &parser.NumberLiteral{Val: val}, nil))
}

// preGroup is group by (by) (e) for an e of label_replace calls over a
// selector, with the selector's series first grouped by the labels the
// result keeps and the calls read: group ignores values, and a
// label_replace call sets its destination from its source label alone, so
// the calls see one series per distinct subject instead of one per metric
// (a GPU's topology is read from every dcgm-exporter family it exports).
func preGroup(e parser.Expr, by []string) parser.Expr {
	chain, base := aliasChain(e)
	if len(chain) == 0 {
		return aggregate(parser.GROUP, e, by)
	}
	keep := slices.Clone(by)
	for i := len(chain) - 1; i >= 0; i-- { // innermost first
		if s, ok := chain[i].Args[3].(*parser.StringLiteral); ok && s.Val != "" && !slices.Contains(keep, s.Val) {
			keep = append(keep, s.Val)
		}
	}
	return aggregate(parser.GROUP, rewrap(chain, aggregate(parser.GROUP, base, keep)), by)
}
