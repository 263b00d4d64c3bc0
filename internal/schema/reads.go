package schema

import (
	"fmt"
	"slices"
	"strings"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql/parser"
)

// Reads returns the __name__ matchers of every raw series the catalog's
// queries select: each source's expression and denominator, of every
// signal (roll-ups read only other signals). Whatever no matcher matches,
// no view, diagnosis or cost figure built on the catalog reads.
func (cat *Catalog) Reads() []*labels.Matcher {
	var out []*labels.Matcher
	for _, s := range cat.signals {
		for _, src := range s.Sources {
			out = append(out, cat.nameMatchers(src)...)
		}
	}
	return dedupMatchers(out)
}

// SumCountOnly returns the classic histograms (by name, without suffix)
// of which the catalog's sources and queries read the sum or the count and
// never the buckets: vLLM's iteration_tokens_total, of which the catalog
// takes only the mean. Their _bucket series need not be stored; scraped
// with NHCB, such a histogram is stored with the one +Inf bucket its count
// makes, whose sum and count are the same, and a rate over it sees a
// counter reset only where the count falls (as a rate of the classic
// _count does). A histogram read whole under its own name (a native
// histogram selected by name) or matched by a name regex counts as read
// with its buckets. A query that does not parse is an error naming it.
func (cat *Catalog) SumCountOnly(queries ...string) ([]string, error) {
	exprs, err := cat.readExprs(false, queries)
	if err != nil {
		return nil, err
	}
	var ms []*labels.Matcher
	for _, e := range exprs {
		ms = append(ms, selectorNames(e)...)
	}
	parts := map[string]bool{} // histograms whose sum or count is read
	for _, m := range ms {
		if m.Type != labels.MatchEqual {
			continue
		}
		if base, p := classicPart(m.Value); p == partSum || p == partCount {
			parts[base] = true
		}
	}
	var out []string
	for base := range parts {
		whole := false
		for _, m := range ms {
			if m.Matches(base) || m.Matches(base+"_bucket") {
				whole = true
				break
			}
		}
		if !whole {
			out = append(out, base)
		}
	}
	slices.Sort(out)
	return out, nil
}

// ValueRead is a metric name every read of which selects some values of
// one label: kube-state-metrics' kube_pod_status_phase, read only where
// phase="Running". Its series whose label matches none of Matchers are
// read by nothing.
type ValueRead struct {
	Name, Label string
	// Matchers are the reads' matchers on Label: = or =~, none of which
	// matches the empty value.
	Matchers []*labels.Matcher
}

// ValueReads returns the names the catalog's sources (and their native
// forms) and queries read only for some values of one label (the first by
// name when several are always constrained). A name some selector reads
// without a name equality matcher (a name regex, or none) is left out, as
// are histogram parts (_bucket, _sum, _count: the conversion to native
// histograms drops le), the le and quantile labels, and labels an alias
// copies from or to (the catalog may select them after relabelling). A
// query that does not parse is an error naming it.
func (cat *Catalog) ValueReads(queries ...string) ([]ValueRead, error) {
	exprs, err := cat.readExprs(true, queries)
	if err != nil {
		return nil, err
	}
	skip := map[string]bool{"le": true, "quantile": true}
	addAliases := func(as []Alias) {
		for _, a := range as {
			skip[a.Canonical] = true
			for _, f := range a.From {
				skip[f] = true
			}
		}
	}
	addAliases(cat.aliases)
	for _, s := range cat.signals {
		for _, src := range s.Sources {
			addAliases(src.Relabel)
		}
	}
	// byName holds, for each name, one map per selector of it: its
	// matchers that select some values of a label.
	byName := map[string][]map[string]*labels.Matcher{}
	var wild []*labels.Matcher
	for _, e := range exprs {
		parser.Inspect(e, func(n parser.Node, _ []parser.Node) error {
			vs, ok := n.(*parser.VectorSelector)
			if !ok {
				return nil
			}
			name, named := "", false
			constrained := map[string]*labels.Matcher{}
			for _, m := range vs.LabelMatchers {
				switch {
				case m.Name == model.MetricNameLabel && m.Type == labels.MatchEqual:
					name, named = m.Value, true
				case m.Name == model.MetricNameLabel:
					wild, named = append(wild, m), true
				case (m.Type == labels.MatchEqual || m.Type == labels.MatchRegexp) && !m.Matches("") && !skip[m.Name]:
					constrained[m.Name] = m
				}
			}
			if !named {
				wild = append(wild, labels.MustNewMatcher(labels.MatchRegexp, model.MetricNameLabel, ".*"))
			}
			if name == "" {
				return nil
			}
			byName[name] = append(byName[name], constrained)
			return nil
		})
	}
	var out []ValueRead
	for name, sels := range byName {
		if _, part := classicPart(name); part != notHistogram || matchesAny(wild, []string{name}) {
			continue
		}
		var always []string
		for l := range sels[0] {
			in := true
			for _, c := range sels[1:] {
				if c[l] == nil {
					in = false
					break
				}
			}
			if in {
				always = append(always, l)
			}
		}
		if len(always) == 0 {
			continue
		}
		slices.Sort(always)
		vr := ValueRead{Name: name, Label: always[0]}
		for _, c := range sels {
			vr.Matchers = append(vr.Matchers, c[vr.Label])
		}
		vr.Matchers = dedupMatchers(vr.Matchers)
		out = append(out, vr)
	}
	slices.SortFunc(out, func(a, b ValueRead) int { return strings.Compare(a.Name, b.Name) })
	return out, nil
}

// readExprs parses every source's expression and denominator (with
// native, also the native-histogram reading of those that read classic
// histogram series) and queries; a query that does not parse is an error
// naming it.
func (cat *Catalog) readExprs(native bool, queries []string) ([]parser.Expr, error) {
	var exprs []parser.Expr
	for _, s := range cat.signals {
		for _, src := range s.Sources {
			for _, q := range []string{src.Expr, src.Denominator} {
				if q == "" {
					continue
				}
				e, err := cat.c.parse("source", q)
				if err != nil {
					return nil, fmt.Errorf("signal %s: %w", s.Name, err)
				}
				exprs = append(exprs, e)
				if native && readsClassicHistogram(e) {
					n, err := cat.c.parse("source", q) // nativeForm rewrites in place
					if err != nil {
						return nil, fmt.Errorf("signal %s: %w", s.Name, err)
					}
					exprs = append(exprs, nativeForm(n))
				}
			}
		}
	}
	p := parser.NewParser(parser.Options{})
	for _, q := range queries {
		e, err := p.ParseExpr(q)
		if err != nil {
			return nil, fmt.Errorf("query %q: %w", q, err)
		}
		exprs = append(exprs, e)
	}
	return exprs, nil
}

// ReadsOf returns the __name__ matchers of the selectors in queries,
// for query sets built beside the catalog (cost's); a query that does not
// parse is an error naming it.
func ReadsOf(queries ...string) ([]*labels.Matcher, error) {
	p := parser.NewParser(parser.Options{})
	var out []*labels.Matcher
	for _, q := range queries {
		e, err := p.ParseExpr(q)
		if err != nil {
			return nil, fmt.Errorf("query %q: %w", q, err)
		}
		out = append(out, selectorNames(e)...)
	}
	return dedupMatchers(out), nil
}

// selectorNames returns the __name__ matchers of e's vector selectors.
func selectorNames(e parser.Expr) []*labels.Matcher {
	var out []*labels.Matcher
	parser.Inspect(e, func(n parser.Node, _ []parser.Node) error {
		if vs, ok := n.(*parser.VectorSelector); ok {
			for _, m := range vs.LabelMatchers {
				if m.Name == model.MetricNameLabel {
					out = append(out, m)
				}
			}
		}
		return nil
	})
	return out
}

// dedupMatchers sorts matchers by text and drops repeats.
func dedupMatchers(ms []*labels.Matcher) []*labels.Matcher {
	slices.SortFunc(ms, func(a, b *labels.Matcher) int { return strings.Compare(a.String(), b.String()) })
	return slices.CompactFunc(ms, func(a, b *labels.Matcher) bool { return a.String() == b.String() })
}
