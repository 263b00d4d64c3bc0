package schema

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql/parser"
)

// MIGWeight is the share of a whole GPU that one unit of a resource or MIG
// profile is: 1 for a whole GPU, n/7 for an ng.* profile (every MIG-capable
// card has 7 compute slices). It reads Kueue's nvidia.com/mig-1g.10gb,
// kube-state-metrics' nvidia_com_mig_1g_10gb and dcgm-exporter's 1g.10gb.
func MIGWeight(s string) float64 {
	if i := strings.Index(s, "mig"); i >= 0 {
		s = strings.TrimLeft(s[i+3:], "-_")
	} else if strings.Contains(s, "gpu") || s == "" {
		return 1
	}
	n := 0
	for _, r := range s {
		if r < '0' || r > '9' {
			break
		}
		n = n*10 + int(r-'0')
		if n > 7 {
			return 1
		}
	}
	if n == 0 || !strings.HasPrefix(s[len(fmt.Sprint(n)):], "g") {
		return 1
	}
	return float64(n) / 7
}

// migProfiles are the compute-slice counts of the MIG profiles Kueue and
// the device plugin name (nvidia.com/mig-<n>g.<memory>).
func migProfiles() []int { return []int{1, 2, 3, 4, 7} }

// gpuEquivalents is metric's GPU resources in GPU-equivalents: whole GPUs
// (resource nvidia.com/gpu) plus every MIG resource weighted by MIGWeight.
// Kueue reports raw resource names. The expression is built as a syntax
// tree from the selectors and printed by Prometheus's printer.
func gpuEquivalents(metric string) string {
	sel := func(m *labels.Matcher) *parser.VectorSelector {
		return &parser.VectorSelector{Name: metric, LabelMatchers: []*labels.Matcher{
			m, labels.MustNewMatcher(labels.MatchEqual, model.MetricNameLabel, metric)}}
	}
	var e parser.Expr = sel(labels.MustNewMatcher(labels.MatchEqual, "resource", "nvidia.com/gpu"))
	for _, n := range migProfiles() {
		prefix := "nvidia.com/mig-" + strconv.Itoa(n) + "g."
		var term parser.Expr = sel(labels.MustNewMatcher(labels.MatchRegexp, "resource", regexp.QuoteMeta(prefix)+".+"))
		if w := MIGWeight(prefix); w != 1 {
			term = &parser.BinaryExpr{Op: parser.MUL, LHS: term, RHS: &parser.NumberLiteral{Val: w}}
		}
		e = &parser.BinaryExpr{Op: parser.LOR, LHS: e, RHS: term, VectorMatching: &parser.VectorMatching{Card: parser.CardManyToMany}}
	}
	return e.String()
}
