// Package cluster is the cluster dimension of a fleet spread over several
// Kubernetes clusters that send their series, each with an external label
// (default `cluster`), to one backend: which clusters the backend holds,
// and a Querier that sees one of them only. Analysis computes each cluster
// through its own scoped Querier and adds the results, so two pods or
// nodes of the same name in two clusters are never merged, and a fleet
// without the label is one cluster named "" read exactly as before.
//
// Queries are rewritten as syntax trees (a matcher added to every
// selector) and printed by Prometheus's printer; no query text is formatted.
package cluster

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql/parser"

	"github.com/servescope/servescope/internal/analyze/query"
)

// DefaultLabel is the external label naming a series' cluster.
const DefaultLabel = "cluster"

// Unnamed names, among named clusters, the one whose series carry no
// cluster label: selecting it reads the series without the label.
const Unnamed = "(none)"

// LabelValuer lists the values of a label, as query.Querier does.
type LabelValuer interface {
	LabelValues(ctx context.Context, name string, matchers []string, start, end time.Time) ([]string, error)
}

// Names returns the clusters holding series in [start, end]: the sorted
// values of label, or nil when no series carries it (a single cluster,
// read without scoping).
func Names(ctx context.Context, q LabelValuer, label string, start, end time.Time) ([]string, error) {
	if label == "" {
		label = DefaultLabel
	}
	vs, err := q.LabelValues(ctx, label, nil, start, end)
	if err != nil {
		return nil, fmt.Errorf("clusters (label %s): %w", label, err)
	}
	vs = slices.DeleteFunc(slices.Clone(vs), func(v string) bool { return v == "" })
	slices.Sort(vs)
	return slices.Compact(vs), nil
}

// Select returns the clusters to compute: the one selected (which need not
// be among names: a cluster without data is empty, not an error), else
// every name, else the one cluster "" of a fleet without the label.
func Select(names []string, selected string) []string {
	switch {
	case selected != "":
		return []string{selected}
	case len(names) == 0:
		return []string{""}
	}
	return names
}

// Inject returns expr with label="name" required on every selector, the
// selectors inside ranges and subqueries included (label="" for Unnamed).
func Inject(expr, label, name string) (string, error) {
	if name == Unnamed {
		name = ""
	}
	e, err := parser.NewParser(parser.Options{}).ParseExpr(expr)
	if err != nil {
		return "", fmt.Errorf("cluster %q: parse %q: %w", name, expr, err)
	}
	m, err := labels.NewMatcher(labels.MatchEqual, label, name)
	if err != nil {
		return "", fmt.Errorf("cluster %q: matcher: %w", name, err)
	}
	parser.Inspect(e, func(n parser.Node, _ []parser.Node) error {
		if vs, ok := n.(*parser.VectorSelector); ok {
			vs.LabelMatchers = append(vs.LabelMatchers, m)
		}
		return nil
	})
	return e.String(), nil
}

// RangeQuerier is the part of a Querier that cost and diagnosis read
// through: range queries and label values (for Names).
type RangeQuerier interface {
	QueryRange(ctx context.Context, q string, r query.Range) (query.Result, error)
	LabelValuer
}

// ScopeRange returns q restricted to the series of one cluster; "" (every
// cluster, or the one cluster of a fleet without the label) returns q
// itself, and Unnamed the series without the label.
func ScopeRange(q RangeQuerier, label, name string) RangeQuerier {
	if name == "" {
		return q
	}
	return newRange(q, label, name)
}

// Scope is ScopeRange for a whole query.Querier.
func Scope(q query.Querier, label, name string) query.Querier {
	if name == "" {
		return q
	}
	return &scoped{scopedRange: newRange(q, label, name), q: q}
}

func newRange(q RangeQuerier, label, name string) *scopedRange {
	if label == "" {
		label = DefaultLabel
	}
	if name == Unnamed {
		name = ""
	}
	return &scopedRange{r: q, label: label, name: name}
}

type scopedRange struct {
	r           RangeQuerier
	label, name string
	// memo keeps the scoped text of queries already rewritten: cost asks
	// the same queries once per chunk of its grid.
	mu   sync.Mutex
	memo map[string]string
}

// memoSize bounds the memo of one scoped querier (the analysis asks a few
// dozen distinct queries).
const memoSize = 512

type scoped struct {
	*scopedRange
	q query.Querier
}

func (s *scopedRange) inject(expr string) (string, error) {
	s.mu.Lock()
	out, ok := s.memo[expr]
	s.mu.Unlock()
	if ok {
		return out, nil
	}
	out, err := Inject(expr, s.label, s.name)
	if err != nil {
		return "", &query.Error{Type: query.ErrBadData, Err: err}
	}
	s.mu.Lock()
	if s.memo == nil {
		s.memo = map[string]string{}
	}
	if len(s.memo) < memoSize {
		s.memo[expr] = out
	}
	s.mu.Unlock()
	return out, nil
}

// matchers scopes the selectors of a series or label request; none means
// every series of the cluster.
func (s *scopedRange) matchers(ms []string) ([]string, error) {
	if len(ms) == 0 {
		// A selector needs one matcher that does not match "".
		named := labels.MustNewMatcher(labels.MatchRegexp, model.MetricNameLabel, ".+")
		m := labels.MustNewMatcher(labels.MatchEqual, s.label, s.name)
		return []string{(&parser.VectorSelector{LabelMatchers: []*labels.Matcher{named, m}}).String()}, nil
	}
	out := make([]string, len(ms))
	for i, m := range ms {
		var err error
		if out[i], err = s.inject(m); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func (s *scopedRange) QueryRange(ctx context.Context, q string, r query.Range) (query.Result, error) {
	e, err := s.inject(q)
	if err != nil {
		return query.Result{}, err
	}
	return s.r.QueryRange(ctx, e, r)
}

func (s *scopedRange) LabelValues(ctx context.Context, name string, ms []string, start, end time.Time) ([]string, error) {
	sel, err := s.matchers(ms)
	if err != nil {
		return nil, err
	}
	return s.r.LabelValues(ctx, name, sel, start, end)
}

func (s *scoped) Query(ctx context.Context, q string, t time.Time) (query.Result, error) {
	e, err := s.inject(q)
	if err != nil {
		return query.Result{}, err
	}
	return s.q.Query(ctx, e, t)
}

func (s *scoped) Series(ctx context.Context, ms []string, start, end time.Time) ([]model.LabelSet, error) {
	sel, err := s.matchers(ms)
	if err != nil {
		return nil, err
	}
	return s.q.Series(ctx, sel, start, end)
}

func (s *scoped) LabelNames(ctx context.Context, ms []string, start, end time.Time) ([]string, error) {
	sel, err := s.matchers(ms)
	if err != nil {
		return nil, err
	}
	return s.q.LabelNames(ctx, sel, start, end)
}
