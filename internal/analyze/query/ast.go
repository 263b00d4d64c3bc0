package query

import (
	"strconv"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql/parser"
)

// Format parses q and returns it pretty-printed, as
// /api/v1/format_query answers; a query that does not parse is bad data.
func Format(q string) (string, error) {
	expr, err := parser.NewParser(parser.Options{}).ParseExpr(q)
	if err != nil {
		return "", badData("invalid parameter \"query\": %w", err)
	}
	return expr.Pretty(0), nil
}

// Tree parses q and returns its syntax tree in the JSON form of
// Prometheus 3's /api/v1/parse_query (the tree view of its query page);
// a query that does not parse is bad data.
func Tree(q string) (any, error) {
	expr, err := parser.NewParser(parser.Options{}).ParseExpr(q)
	if err != nil {
		return nil, badData("invalid parameter \"query\": %w", err)
	}
	return node(expr), nil
}

// The nodes of the tree, one struct per node type; the keys are
// Prometheus's.
type (
	aggregationNode struct {
		Type     string   `json:"type"`
		Op       string   `json:"op"`
		Expr     any      `json:"expr"`
		Param    any      `json:"param"`
		Grouping []string `json:"grouping"`
		Without  bool     `json:"without"`
	}
	binaryNode struct {
		Type     string        `json:"type"`
		Op       string        `json:"op"`
		LHS      any           `json:"lhs"`
		RHS      any           `json:"rhs"`
		Matching *matchingNode `json:"matching"`
		Bool     bool          `json:"bool"`
	}
	matchingNode struct {
		Card       string              `json:"card"`
		Labels     []string            `json:"labels"`
		On         bool                `json:"on"`
		Include    []string            `json:"include"`
		FillValues map[string]*float64 `json:"fillValues"`
	}
	callNode struct {
		Type string   `json:"type"`
		Func funcNode `json:"func"`
		Args []any    `json:"args"`
	}
	funcNode struct {
		Name       string             `json:"name"`
		ArgTypes   []parser.ValueType `json:"argTypes"`
		Variadic   int                `json:"variadic"`
		ReturnType parser.ValueType   `json:"returnType"`
	}
	selectorNode struct {
		Type       string        `json:"type"`
		Name       string        `json:"name"`
		Range      *int64        `json:"range,omitempty"`
		RangeExpr  any           `json:"rangeExpr,omitempty"`
		Offset     int64         `json:"offset"`
		OffsetExpr any           `json:"offsetExpr"`
		Matchers   []matcherNode `json:"matchers"`
		Timestamp  *int64        `json:"timestamp"`
		StartOrEnd *string       `json:"startOrEnd"`
		Anchored   bool          `json:"anchored"`
		Smoothed   bool          `json:"smoothed"`
	}
	matcherNode struct {
		Name  string `json:"name"`
		Value string `json:"value"`
		Type  string `json:"type"`
	}
	subqueryNode struct {
		Type       string  `json:"type"`
		Expr       any     `json:"expr"`
		Range      int64   `json:"range"`
		RangeExpr  any     `json:"rangeExpr"`
		Offset     int64   `json:"offset"`
		OffsetExpr any     `json:"offsetExpr"`
		Step       int64   `json:"step"`
		StepExpr   any     `json:"stepExpr"`
		Timestamp  *int64  `json:"timestamp"`
		StartOrEnd *string `json:"startOrEnd"`
	}
	durationNode struct {
		Type    string `json:"type"`
		Op      string `json:"op"`
		LHS     any    `json:"lhs"`
		RHS     any    `json:"rhs"`
		Wrapped bool   `json:"wrapped"`
	}
	literalNode struct {
		Type     string `json:"type"`
		Val      string `json:"val"`
		Duration *bool  `json:"duration,omitempty"`
	}
	wrapNode struct {
		Type string `json:"type"`
		Op   string `json:"op,omitempty"`
		Expr any    `json:"expr"`
	}
)

// node translates one expression; nil stays nil (JSON null).
func node(e parser.Expr) any {
	switch n := e.(type) {
	case nil:
		return nil
	case *parser.AggregateExpr:
		return aggregationNode{Type: "aggregation", Op: n.Op.String(), Expr: node(n.Expr), Param: node(n.Param),
			Grouping: nonNil(n.Grouping), Without: n.Without}
	case *parser.BinaryExpr:
		b := binaryNode{Type: "binaryExpr", Op: n.Op.String(), LHS: node(n.LHS), RHS: node(n.RHS), Bool: n.ReturnBool}
		if m := n.VectorMatching; m != nil {
			b.Matching = &matchingNode{Card: m.Card.String(), Labels: nonNil(m.MatchingLabels), On: m.On, Include: nonNil(m.Include),
				FillValues: map[string]*float64{"lhs": m.FillValues.LHS, "rhs": m.FillValues.RHS}}
		}
		return b
	case *parser.Call:
		c := callNode{Type: "call", Func: funcNode{Name: n.Func.Name, ArgTypes: n.Func.ArgTypes, Variadic: n.Func.Variadic,
			ReturnType: n.Func.ReturnType}, Args: make([]any, 0, len(n.Args))}
		for _, a := range n.Args {
			c.Args = append(c.Args, node(a))
		}
		return c
	case *parser.MatrixSelector:
		vs, ok := n.VectorSelector.(*parser.VectorSelector)
		if !ok {
			return nil
		}
		s := selector(vs)
		s.Type = "matrixSelector"
		r := n.Range.Milliseconds()
		s.Range, s.RangeExpr = &r, duration(n.RangeExpr)
		if s.RangeExpr == nil {
			s.RangeExpr = null{}
		}
		return s
	case *parser.SubqueryExpr:
		return subqueryNode{Type: "subquery", Expr: node(n.Expr), Range: n.Range.Milliseconds(), RangeExpr: duration(n.RangeExpr),
			Offset: n.OriginalOffset.Milliseconds(), OffsetExpr: duration(n.OriginalOffsetExpr), Step: n.Step.Milliseconds(),
			StepExpr: duration(n.StepExpr), Timestamp: n.Timestamp, StartOrEnd: startOrEnd(n.StartOrEnd)}
	case *parser.DurationExpr:
		return duration(n)
	case *parser.NumberLiteral:
		return literalNode{Type: "numberLiteral", Val: strconv.FormatFloat(n.Val, 'f', -1, 64)}
	case *parser.ParenExpr:
		return wrapNode{Type: "parenExpr", Expr: node(n.Expr)}
	case *parser.StringLiteral:
		return literalNode{Type: "stringLiteral", Val: n.Val}
	case *parser.UnaryExpr:
		return wrapNode{Type: "unaryExpr", Op: n.Op.String(), Expr: node(n.Expr)}
	case *parser.VectorSelector:
		return selector(n)
	}
	return nil
}

// null marshals as JSON null where a field with omitempty must still be
// present.
type null struct{}

func (null) MarshalJSON() ([]byte, error) { return []byte("null"), nil }

func selector(vs *parser.VectorSelector) selectorNode {
	return selectorNode{Type: "vectorSelector", Name: vs.Name, Offset: vs.OriginalOffset.Milliseconds(),
		OffsetExpr: duration(vs.OriginalOffsetExpr), Matchers: matchers(vs.LabelMatchers), Timestamp: vs.Timestamp,
		StartOrEnd: startOrEnd(vs.StartOrEnd), Anchored: vs.Anchored, Smoothed: vs.Smoothed}
}

// duration translates a duration expression (a step, range or offset
// given as arithmetic); nil stays nil.
func duration(e parser.Expr) any {
	switch n := e.(type) {
	case nil:
		return nil
	case *parser.DurationExpr:
		if n == nil {
			return nil
		}
		return durationNode{Type: "durationExpr", Op: n.Op.String(), LHS: duration(n.LHS), RHS: duration(n.RHS), Wrapped: n.Wrapped}
	case *parser.NumberLiteral:
		if n == nil {
			return nil
		}
		d := n.Duration
		return literalNode{Type: "numberLiteral", Val: strconv.FormatFloat(n.Val, 'f', -1, 64), Duration: &d}
	}
	return node(e)
}

func matchers(ms []*labels.Matcher) []matcherNode {
	out := make([]matcherNode, 0, len(ms))
	for _, m := range ms {
		out = append(out, matcherNode{Name: m.Name, Value: m.Value, Type: m.Type.String()})
	}
	return out
}

func startOrEnd(t parser.ItemType) *string {
	if t == 0 {
		return nil
	}
	s := t.String()
	return &s
}

func nonNil(l []string) []string {
	if l == nil {
		return []string{}
	}
	return l
}
