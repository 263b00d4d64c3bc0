package slo

import (
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql/parser"

	"github.com/servescope/servescope/internal/schema"
)

// The per-pod requests and slow requests of one histogram source, as
// PromQL text over placeholders: hist is the native histogram, hist_count
// its classic count, hist_good its classic bucket at the threshold, and
// scalar(threshold) the threshold in seconds. Every `sum` groups by the pod key
// and the model; every range is the window asked for.
const (
	classicRequests = `sum(rate(hist_count[1m]))`
	classicErrors   = `sum(rate(hist_count[1m])) - sum(rate(hist_good[1m]))`
	nativeRequests  = `histogram_count(sum(rate(hist[1m])))`
	nativeErrors    = `histogram_count(sum(rate(hist[1m]))) * (1 - histogram_fraction(-Inf, scalar(threshold), sum(rate(hist[1m]))))`
)

// Kind is what a per-model expression counts.
type Kind int

// Requests are all requests per second; Errors those slower than the threshold.
const (
	Requests Kind = iota
	Errors
)

// Expr returns the per-model requests or slow requests per second of o
// over window w, read from the raw engine histograms: per pod the first
// source with data wins (classic before native), then pods are summed per
// model (and cluster). others are the models with an objective of their
// own for o's indicator, which a wildcard objective leaves to them.
func Expr(cat *schema.Catalog, o Objective, others []string, kind Kind, w time.Duration) (parser.Expr, error) {
	srcs, err := sources(cat, o)
	if err != nil {
		return nil, err
	}
	key := append(schema.LevelPod.Key(), ModelLabel)
	texts := [2]string{classicRequests, nativeRequests}
	if kind == Errors {
		texts = [2]string{classicErrors, nativeErrors}
	}
	modelM, err := modelMatcher(o, others)
	if err != nil {
		return nil, err
	}
	var parts []parser.Expr
	for _, s := range srcs {
		for i, text := range texts {
			e, err := parse(text)
			if err != nil {
				return nil, fmt.Errorf("objective %s: parse %q: %w", o.Name, text, err)
			}
			vars := histVars(s, o.Threshold, modelM)
			if e, err = substitute(e, vars, w, key); err != nil {
				return nil, fmt.Errorf("objective %s: %w", o.Name, err)
			}
			what := fmt.Sprintf("objective %s source %s (%s)", o.Name, s.Exporter, [2]string{"classic", "native"}[i])
			if e, err = cat.NormalizeEngine(what, e, key); err != nil {
				return nil, err
			}
			parts = append(parts, e)
		}
	}
	out := &parser.AggregateExpr{Op: parser.SUM, Expr: firstWins(schema.LevelPod.Key(), parts), Grouping: []string{ModelLabel}}
	cat.KeepCluster(out)
	if _, err := parse(out.String()); err != nil {
		return nil, fmt.Errorf("objective %s: %w", o.Name, err)
	}
	return out, nil
}

// modelMatcher selects the objective's model, or for a wildcard every
// model but those with their own objective.
func modelMatcher(o Objective, others []string) (*labels.Matcher, error) {
	if o.Model != AllModels {
		return labels.NewMatcher(labels.MatchEqual, ModelLabel, o.Model)
	}
	if len(others) == 0 {
		return nil, nil
	}
	q := make([]string, len(others))
	for i, m := range slices.Sorted(slices.Values(others)) {
		q[i] = regexp.QuoteMeta(m)
	}
	return labels.NewMatcher(labels.MatchNotRegexp, ModelLabel, strings.Join(q, "|"))
}

// leMatcher matches the classic bucket at v however its le was written:
// "0.5", or "1" and the "1.0" Prometheus 3 normalises it to.
func leMatcher(v float64) *labels.Matcher {
	s := strconv.FormatFloat(v, 'f', -1, 64)
	re := regexp.QuoteMeta(s)
	if !strings.Contains(s, ".") {
		re += `(\.0)?`
	}
	return labels.MustNewMatcher(labels.MatchRegexp, model.BucketLabel, re)
}

// histVars are the placeholders of one source.
func histVars(s schema.HistogramSource, threshold time.Duration, modelM *labels.Matcher) map[string]parser.Expr {
	sel := func(name string, extra ...*labels.Matcher) *parser.VectorSelector {
		ms := []*labels.Matcher{labels.MustNewMatcher(labels.MatchEqual, model.MetricNameLabel, name)}
		ms = append(ms, s.Matchers...)
		if modelM != nil {
			ms = append(ms, modelM)
		}
		ms = append(ms, extra...)
		return &parser.VectorSelector{Name: name, LabelMatchers: ms}
	}
	return map[string]parser.Expr{
		"hist":       sel(s.Name),
		"hist_count": sel(s.Name + "_count"),
		"hist_good":  sel(s.Name+"_bucket", leMatcher(threshold.Seconds())),
		"threshold":  &parser.NumberLiteral{Val: threshold.Seconds()},
	}
}

// firstWins keeps, per pod, the first part with data:
// P1 or (P2 unless on(key) P1) or (P3 unless on(key) P1 unless on(key) P2) ...
func firstWins(key []string, parts []parser.Expr) parser.Expr {
	paren := func(e parser.Expr) parser.Expr {
		if _, ok := e.(*parser.BinaryExpr); ok {
			return &parser.ParenExpr{Expr: e}
		}
		return e
	}
	out := parts[0]
	for i := 1; i < len(parts); i++ {
		u := paren(parts[i])
		for j := range i {
			u = &parser.BinaryExpr{Op: parser.LUNLESS, LHS: u, RHS: paren(parts[j]),
				VectorMatching: &parser.VectorMatching{Card: parser.CardManyToMany, On: true, MatchingLabels: slices.Clone(key)}}
		}
		out = &parser.BinaryExpr{Op: parser.LOR, LHS: out, RHS: paren(u), VectorMatching: &parser.VectorMatching{Card: parser.CardManyToMany}}
	}
	return out
}

// substitute returns e with its placeholders replaced (schema.Placeholders,
// the one substitution): every range becomes w (when w > 0) and every
// `sum` groups by by; a selector that is no placeholder is an error.
func substitute(e parser.Expr, vars map[string]parser.Expr, w time.Duration, by []string) (parser.Expr, error) {
	return schema.Placeholders{Vars: vars, Range: w, By: by, Text: "objective text"}.Substitute(e)
}

// parse parses PromQL text with Prometheus's parser.
func parse(q string) (parser.Expr, error) { return parser.NewParser(parser.Options{}).ParseExpr(q) }
