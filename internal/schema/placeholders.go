package schema

import (
	"fmt"
	"slices"
	"time"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql/parser"
)

// Placeholders substitutes the placeholders of PromQL text written over
// names (the diagnosis's alerts, the latency objectives' queries and
// rules) as a syntax tree, so that no query is ever formatted from
// strings: the one substitution every such text goes through.
type Placeholders struct {
	// Vars maps each placeholder to what a selector of that name stands
	// for: a selector or a number.
	Vars map[string]parser.Expr
	// Raw are the metrics the text may read as they are; any other
	// selector that is no placeholder is an error, so a misspelt
	// placeholder cannot pass as a metric name.
	Raw map[string]bool
	// Range, when positive, becomes the range of every range selector.
	Range time.Duration
	// By, when set, becomes the grouping of every sum.
	By []string
	// Text names the text in errors ("alert text", "objective text").
	Text string
}

// Substitute returns e with its placeholders replaced. A placeholder
// selector standing for a selector becomes that selector with the text's
// own matchers added (its metric name replaced) and the text's offset, if
// any, else the placeholder's; one standing for a number becomes the
// number and may carry no matchers or offset. -number and scalar(number)
// fold to the number.
func (p Placeholders) Substitute(e parser.Expr) (parser.Expr, error) {
	var err error
	sub := func(x parser.Expr) parser.Expr {
		if err != nil || x == nil {
			return x
		}
		var out parser.Expr
		out, err = p.Substitute(x)
		return out
	}
	switch n := e.(type) {
	case *parser.VectorSelector:
		v, ok := p.Vars[n.Name]
		if !ok {
			if p.Raw[n.Name] {
				return n, nil
			}
			return nil, fmt.Errorf("%s: %q is neither a placeholder nor a metric it may read", p.Text, n.Name)
		}
		switch v := v.(type) {
		case *parser.VectorSelector:
			out := *v
			out.LabelMatchers = slices.Clone(v.LabelMatchers)
			if len(out.LabelMatchers) == 0 && v.Name != "" {
				out.LabelMatchers = []*labels.Matcher{labels.MustNewMatcher(labels.MatchEqual, model.MetricNameLabel, v.Name)}
			}
			for _, m := range n.LabelMatchers {
				if m.Name != model.MetricNameLabel {
					out.LabelMatchers = append(out.LabelMatchers, m)
				}
			}
			if n.OriginalOffset != 0 {
				out.OriginalOffset = n.OriginalOffset
			}
			if n.Timestamp != nil || n.StartOrEnd != 0 {
				out.Timestamp, out.StartOrEnd = n.Timestamp, n.StartOrEnd
			}
			return &out, nil
		default:
			if len(n.LabelMatchers) > 1 || n.OriginalOffset != 0 {
				return nil, fmt.Errorf("%s: number placeholder %q with matchers or offset", p.Text, n.Name)
			}
			return v, nil
		}
	case *parser.MatrixSelector:
		out := *n
		vs, ok := sub(n.VectorSelector).(*parser.VectorSelector)
		if err == nil && !ok {
			return nil, fmt.Errorf("%s: a range of a number placeholder", p.Text)
		}
		out.VectorSelector = vs
		if p.Range > 0 {
			out.Range = p.Range
		}
		return &out, err
	case *parser.BinaryExpr:
		out := *n
		out.LHS, out.RHS = sub(n.LHS), sub(n.RHS)
		// Between two scalars there is no vector matching to print.
		if _, lnum := out.LHS.(*parser.NumberLiteral); lnum {
			if _, rnum := out.RHS.(*parser.NumberLiteral); rnum {
				out.VectorMatching = nil
			}
		}
		return &out, err
	case *parser.ParenExpr:
		out := *n
		out.Expr = sub(n.Expr)
		return &out, err
	case *parser.UnaryExpr:
		out := *n
		out.Expr = sub(n.Expr)
		if num, ok := out.Expr.(*parser.NumberLiteral); ok && n.Op == parser.SUB {
			return &parser.NumberLiteral{Val: -num.Val}, err
		}
		return &out, err
	case *parser.AggregateExpr:
		out := *n
		out.Expr = sub(n.Expr)
		out.Param = sub(n.Param)
		if n.Op == parser.SUM && p.By != nil {
			out.Grouping = slices.Clone(p.By)
		}
		return &out, err
	case *parser.Call:
		out := *n
		out.Args = make(parser.Expressions, len(n.Args))
		for i, a := range n.Args {
			out.Args[i] = sub(a)
		}
		// scalar(number placeholder) is how a text passes a number where a
		// function wants a scalar: it stands for the number.
		if len(out.Args) == 1 && n.Func.Name == "scalar" {
			if num, ok := out.Args[0].(*parser.NumberLiteral); ok {
				return num, err
			}
		}
		return &out, err
	case *parser.NumberLiteral, *parser.StringLiteral:
		return n, nil
	}
	return nil, fmt.Errorf("%s: %T is not supported by the placeholder substitution", p.Text, e)
}
