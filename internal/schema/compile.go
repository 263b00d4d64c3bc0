package schema

import (
	"errors"
	"fmt"
	"slices"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql/parser"
)

// compiler turns catalog data into PromQL syntax trees. It never formats
// query text: source expressions are parsed, rewritten as trees, and printed
// by the Prometheus printer.
type compiler struct {
	p       parser.Parser
	aliases []Alias
	// unallocated matches the pod label of a dcgm-exporter's own pod: GPU
	// series carrying it belong to no workload (honorLabels on, idle GPU, or
	// honorLabels off without exported_pod).
	unallocated string
	// dropRole is the replica_role value whose series are dropped everywhere.
	dropRole string
	// cluster is the external label every grouping and join keeps.
	cluster string
}

// parse parses q, naming it in the error.
func (c *compiler) parse(what, q string) (parser.Expr, error) {
	e, err := c.p.ParseExpr(q)
	if err != nil {
		return nil, fmt.Errorf("parse %s %q: %w", what, q, err)
	}
	return e, nil
}

// scope is what a source expression is normalised for: the signal's level,
// the source's own relabelling, and the labels the query reads (grouping,
// matching), which are the only ones worth aliasing.
type scope struct {
	level   Level
	relabel []Alias
	needed  map[string]bool
}

// normalize parses a source expression and rewrites it: every selector drops
// follower series, and every leaf instant vector (a selector, or a call over a
// range such as rate) is wrapped in the alias label_replace chain for the
// labels the signal keeps (by) or the expression itself joins on.
func (c *compiler) normalize(what, q string, level Level, relabel []Alias, by []string) (parser.Expr, error) {
	return c.normalizeForm(what, q, false, level, relabel, by)
}

// normalizeForm is normalize over the classic reading of q, or with native
// over its native histogram reading (nativeForm).
func (c *compiler) normalizeForm(what, q string, native bool, level Level, relabel []Alias, by []string) (parser.Expr, error) {
	e, err := c.parse(what, q)
	if err != nil {
		return nil, err
	}
	if native {
		e = nativeForm(e)
		what += " (native histogram)"
	}
	sc := scope{level: level, relabel: relabel, needed: map[string]bool{}}
	for _, l := range by {
		sc.needed[l] = true
	}
	for _, l := range referencedLabels(e) {
		sc.needed[l] = true
	}
	out, err := c.rewrite(e, sc)
	if err != nil {
		return nil, fmt.Errorf("rewrite %s %q: %w", what, e, err)
	}
	return out, nil
}

// referencedLabels lists the labels an expression groups or matches on.
func referencedLabels(e parser.Expr) []string {
	var out []string
	parser.Inspect(e, func(n parser.Node, _ []parser.Node) error {
		switch n := n.(type) {
		case *parser.AggregateExpr:
			out = append(out, n.Grouping...)
		case *parser.BinaryExpr:
			if vm := n.VectorMatching; vm != nil {
				out = append(out, vm.MatchingLabels...)
				out = append(out, vm.Include...)
			}
		}
		return nil
	})
	return out
}

var errUnsupportedNode = errors.New("unsupported expression node")

func (c *compiler) rewrite(e parser.Expr, sc scope) (parser.Expr, error) {
	switch n := e.(type) {
	case *parser.VectorSelector:
		if err := c.dropFollowers(n); err != nil {
			return nil, err
		}
		return c.wrap(n, sc), nil
	case *parser.Call:
		if takesRange(n) {
			if err := c.dropFollowersIn(n); err != nil {
				return nil, err
			}
			return c.wrap(n, sc), nil
		}
		for i, a := range n.Args {
			r, err := c.rewrite(a, sc)
			if err != nil {
				return nil, err
			}
			n.Args[i] = r
		}
		return n, nil
	case *parser.AggregateExpr:
		r, err := c.rewrite(n.Expr, sc)
		if err != nil {
			return nil, err
		}
		n.Expr = r
		return n, nil
	case *parser.BinaryExpr:
		l, err := c.rewrite(n.LHS, sc)
		if err != nil {
			return nil, err
		}
		r, err := c.rewrite(n.RHS, sc)
		if err != nil {
			return nil, err
		}
		n.LHS, n.RHS = l, r
		return n, nil
	case *parser.ParenExpr:
		r, err := c.rewrite(n.Expr, sc)
		if err != nil {
			return nil, err
		}
		n.Expr = r
		return n, nil
	case *parser.UnaryExpr:
		r, err := c.rewrite(n.Expr, sc)
		if err != nil {
			return nil, err
		}
		n.Expr = r
		return n, nil
	case *parser.NumberLiteral, *parser.StringLiteral:
		return n, nil
	}
	return nil, fmt.Errorf("%w %T", errUnsupportedNode, e)
}

// takesRange reports whether a call reads a range (rate, increase, ...).
func takesRange(n *parser.Call) bool {
	for _, a := range n.Args {
		switch a.(type) {
		case *parser.MatrixSelector, *parser.SubqueryExpr:
			return true
		}
	}
	return false
}

func (c *compiler) dropFollowers(vs *parser.VectorSelector) error {
	m, err := labels.NewMatcher(labels.MatchNotEqual, "replica_role", c.dropRole)
	if err != nil {
		return fmt.Errorf("replica_role matcher: %w", err)
	}
	vs.LabelMatchers = append(vs.LabelMatchers, m)
	return nil
}

func (c *compiler) dropFollowersIn(n parser.Node) error {
	var err error
	parser.Inspect(n, func(node parser.Node, _ []parser.Node) error {
		if vs, ok := node.(*parser.VectorSelector); ok && err == nil {
			err = c.dropFollowers(vs)
		}
		return nil
	})
	return err
}

// wrap applies, innermost first, the source's own relabelling, the catalog's
// aliases for the level (of the labels the query needs), and for GPU series
// that keep a workload label the clearing of the exporter's own pod.
func (c *compiler) wrap(e parser.Expr, sc scope) parser.Expr {
	for _, a := range append(slices.Clone(sc.relabel), c.aliases...) {
		if !a.appliesTo(sc.level) || !sc.needed[a.Canonical] {
			continue
		}
		for i := len(a.From) - 1; i >= 0; i-- {
			e = labelReplace(e, a.Canonical, "$1", a.From[i], "(.+)")
		}
	}
	workload := []string{"namespace", "container", "pod"}
	if sc.level == LevelGPU && c.unallocated != "" && slices.ContainsFunc(workload, func(l string) bool { return sc.needed[l] }) {
		for _, l := range workload {
			e = labelReplace(e, l, "", "pod", c.unallocated)
		}
	}
	return e
}

func labelReplace(e parser.Expr, dst, repl, src, re string) parser.Expr {
	return &parser.Call{
		Func: parser.Functions["label_replace"],
		Args: parser.Expressions{e, str(dst), str(repl), str(src), str(re)},
	}
}

func str(s string) *parser.StringLiteral { return &parser.StringLiteral{Val: s} }

func aggregate(op parser.ItemType, e parser.Expr, by []string) parser.Expr {
	return &parser.AggregateExpr{Op: op, Expr: e, Grouping: slices.Clone(by)}
}

// binary joins l and r with op, adding the parentheses the printer does not.
func binary(op parser.ItemType, l, r parser.Expr, vm *parser.VectorMatching) parser.Expr {
	if b, ok := l.(*parser.BinaryExpr); ok && b.Op != op {
		l = &parser.ParenExpr{Expr: l}
	}
	if _, ok := r.(*parser.BinaryExpr); ok {
		r = &parser.ParenExpr{Expr: r}
	}
	return &parser.BinaryExpr{Op: op, LHS: l, RHS: r, VectorMatching: vm}
}

func on(card parser.VectorMatchCardinality, key []string, include ...string) *parser.VectorMatching {
	return &parser.VectorMatching{Card: card, MatchingLabels: slices.Clone(key), On: true, Include: include}
}

func aggOp(a Aggregation) (parser.ItemType, error) {
	switch a {
	case AggSum, AggBuckets:
		return parser.SUM, nil
	case AggAvg:
		return parser.AVG, nil
	case AggMax:
		return parser.MAX, nil
	case AggInfo:
		return parser.GROUP, nil
	}
	return 0, fmt.Errorf("unknown aggregation %q", a)
}

// sourceExpr compiles one source of a signal into its per-subject query,
// reading classic histogram series as written or, with native, the native
// histograms they belong to (see native.go).
func (c *compiler) sourceExpr(s *Signal, src *Source, native bool) (parser.Expr, error) {
	by := s.By()
	if s.Kind == KindHistogram && !native {
		by = append(by, "le")
	}
	num, err := c.normalizeForm("source "+src.Exporter, src.Expr, native, s.Level, src.Relabel, by)
	if err != nil {
		return nil, err
	}
	if src.Denominator != "" {
		den, err := c.normalizeForm("denominator "+src.Exporter, src.Denominator, native, s.Level, src.Relabel, by)
		if err != nil {
			return nil, err
		}
		return binary(parser.DIV, aggregate(parser.SUM, num, by), aggregate(parser.SUM, den, by),
			&parser.VectorMatching{Card: parser.CardOneToOne}), nil
	}
	op, err := aggOp(s.Agg)
	if err != nil {
		return nil, err
	}
	if op == parser.GROUP {
		return preGroup(num, by), nil
	}
	return aggregate(op, num, by), nil
}

// firstWins combines per-source queries so that the earliest source with
// data wins. With key nil it relies on `or`, which keeps the left series of
// identical label sets: S1 or S2 or S3. With a key the earlier sources win per
// subject whatever their other labels, with `or on(key)`, which adds a right
// series only when no left series has its key:
//
//	S1 or on(key) S2 or on(key) S3 ...
//
// This is S1 or (S2 unless on(key) S1) or (S3 unless on(key) S1 unless on(key)
// S2), the form this catalog used before, with each source evaluated once:
// PromQL evaluates both sides of every operator, so that form evaluated the
// first source (usually the one with data) once per source.
func firstWins(key []string, parts []parser.Expr) parser.Expr {
	out := parts[0]
	for i := 1; i < len(parts); i++ {
		vm := &parser.VectorMatching{Card: parser.CardManyToMany}
		if key != nil {
			vm = on(parser.CardManyToMany, key)
		}
		out = binary(parser.LOR, out, parts[i], vm)
	}
	return out
}

// outOfRange returns e filtered to values outside r; values are kept as they
// are (flagged, not clamped).
func outOfRange(e parser.Expr, r *Range) parser.Expr {
	var parts []parser.Expr
	if !isInf(r.Min, -1) {
		parts = append(parts, compareInside(e, parser.LSS, r.Min))
	}
	if !isInf(r.Max, 1) {
		parts = append(parts, compareInside(e, parser.GTR, r.Max))
	}
	if len(parts) == 0 {
		return nil
	}
	out := parts[0]
	for _, p := range parts[1:] {
		out = binary(parser.LOR, out, p, &parser.VectorMatching{Card: parser.CardManyToMany})
	}
	return out
}

// DefaultClusterLabel is the external label naming a series' cluster.
const DefaultClusterLabel = "cluster"

// keepCluster adds the cluster label to every `by` grouping and every `on`
// matching of e, in place, so no aggregation or join merges two clusters.
// Series without the label are one cluster whose label is empty: their
// figures are unchanged. `without` groupings and `ignoring` matchings keep
// it already.
func keepCluster(e parser.Expr, cluster string) {
	if cluster == "" {
		return
	}
	parser.Inspect(e, func(n parser.Node, _ []parser.Node) error {
		switch n := n.(type) {
		case *parser.AggregateExpr:
			if !n.Without && !slices.Contains(n.Grouping, cluster) {
				n.Grouping = append([]string{cluster}, n.Grouping...)
			}
		case *parser.BinaryExpr:
			if vm := n.VectorMatching; vm != nil && vm.On && !slices.Contains(vm.MatchingLabels, cluster) {
				vm.MatchingLabels = append([]string{cluster}, vm.MatchingLabels...)
			}
		}
		return nil
	})
}

// KeepCluster adds the catalog's cluster label to every `by` grouping and
// `on` matching of e, in place: for queries built outside the catalog
// (the alerting rules) that join or aggregate its signals.
func (cat *Catalog) KeepCluster(e parser.Expr) { keepCluster(e, cat.c.cluster) }

// ClusterLabel is the external label naming each series' cluster.
func (cat *Catalog) ClusterLabel() string { return cat.c.cluster }
