package schema

import (
	"strings"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql/parser"
)

// A classic histogram x is stored as series x_bucket (label le), x_sum
// and x_count; the same histogram scraped as a native histogram, or
// converted at scrape time to a native histogram with custom buckets (NHCB,
// Prometheus 3's convert_classic_histograms_to_nhcb, servescope's default),
// is one series x carrying all three. The catalog's sources are written
// over the classic series; every source that reads one also gets its native
// reading, generated here from the same syntax tree, so a figure is the
// same whichever form the store holds (a user's Prometheus, a remote
// backend, data older than the conversion, or servescope's own NHCB).
//
// The readings map one to one:
//
//	rate(x_bucket[5m])  → rate(x[5m])                   (one histogram instead of a series per le)
//	rate(x_sum[5m])     → histogram_sum(rate(x[5m]))
//	rate(x_count[5m])   → histogram_count(rate(x[5m]))
//	x_sum, x_count      → histogram_sum(x), histogram_count(x)
//
// histogram_quantile reads a classic bucket set and a native histogram
// alike (linear interpolation inside a bucket, 0 as the lowest bucket's
// lower bound, the second-highest bound for the +Inf bucket), so the
// quantiles recorded from either form agree to rounding.

// histogramPart is what a classic series name reads of its histogram.
type histogramPart int

const (
	notHistogram histogramPart = iota
	partBuckets
	partSum
	partCount
)

// classicPart splits a classic series name into its histogram's name and
// the part it holds.
func classicPart(name string) (string, histogramPart) {
	for _, p := range []struct {
		suffix string
		part   histogramPart
	}{{"_bucket", partBuckets}, {"_sum", partSum}, {"_count", partCount}} {
		if base, ok := strings.CutSuffix(name, p.suffix); ok && base != "" {
			return base, p.part
		}
	}
	return name, notHistogram
}

// selectorName is the metric name a selector selects: its name, or its
// __name__ equality matcher's value.
func selectorName(vs *parser.VectorSelector) string {
	if vs.Name != "" {
		return vs.Name
	}
	for _, m := range vs.LabelMatchers {
		if m.Name == model.MetricNameLabel && m.Type == labels.MatchEqual {
			return m.Value
		}
	}
	return ""
}

// readsClassicHistogram reports whether e selects any classic histogram
// series (a name ending in _bucket, _sum or _count).
func readsClassicHistogram(e parser.Expr) bool {
	found := false
	parser.Inspect(e, func(n parser.Node, _ []parser.Node) error {
		if vs, ok := n.(*parser.VectorSelector); ok {
			if _, p := classicPart(selectorName(vs)); p != notHistogram {
				found = true
			}
		}
		return nil
	})
	return found
}

// nativeForm rewrites e, in place, from classic histogram series to the
// native histogram they belong to (see the table above) and returns the
// result. Selectors of other series are left as they are.
func nativeForm(e parser.Expr) parser.Expr {
	switch n := e.(type) {
	case *parser.VectorSelector:
		return wrapPart(renameToNative(n), n)
	case *parser.Call:
		if takesRange(n) {
			// rate(x_sum[5m]) → histogram_sum(rate(x[5m])): the function
			// reads the whole histogram, then the part is taken.
			part := notHistogram
			parser.Inspect(n, func(node parser.Node, _ []parser.Node) error {
				if vs, ok := node.(*parser.VectorSelector); ok {
					if p := renameToNative(vs); p != notHistogram {
						part = p
					}
				}
				return nil
			})
			return wrapPart(part, n)
		}
		for i, a := range n.Args {
			n.Args[i] = nativeForm(a)
		}
	case *parser.AggregateExpr:
		n.Expr = nativeForm(n.Expr)
	case *parser.BinaryExpr:
		n.LHS, n.RHS = nativeForm(n.LHS), nativeForm(n.RHS)
	case *parser.ParenExpr:
		n.Expr = nativeForm(n.Expr)
	case *parser.UnaryExpr:
		n.Expr = nativeForm(n.Expr)
	case *parser.SubqueryExpr:
		n.Expr = nativeForm(n.Expr)
	}
	return e
}

// renameToNative points a selector of a classic histogram series at its
// native histogram and returns the part the classic series held.
func renameToNative(vs *parser.VectorSelector) histogramPart {
	base, part := classicPart(selectorName(vs))
	if part == notHistogram {
		return part
	}
	if vs.Name != "" {
		vs.Name = base
	}
	for i, m := range vs.LabelMatchers {
		if m.Name == model.MetricNameLabel && m.Type == labels.MatchEqual {
			vs.LabelMatchers[i] = labels.MustNewMatcher(labels.MatchEqual, model.MetricNameLabel, base)
		}
	}
	return part
}

// wrapPart takes the sum or count out of a native histogram expression.
func wrapPart(part histogramPart, e parser.Expr) parser.Expr {
	var fn string
	switch part {
	case partSum:
		fn = "histogram_sum"
	case partCount:
		fn = "histogram_count"
	default:
		return e
	}
	return &parser.Call{Func: parser.Functions[fn], Args: parser.Expressions{e}}
}

// readsHistogram reports whether a source's expression or denominator
// selects classic histogram series, and so has a native reading.
func (c *compiler) readsHistogram(src *Source) (bool, error) {
	for _, q := range []struct{ what, text string }{{"source", src.Expr}, {"denominator", src.Denominator}} {
		if q.text == "" {
			continue
		}
		e, err := c.parse(q.what+" "+src.Exporter, q.text)
		if err != nil {
			return false, err
		}
		if readsClassicHistogram(e) {
			return true, nil
		}
	}
	return false, nil
}
