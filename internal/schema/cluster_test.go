package schema

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/prometheus/promql/parser"
	"github.com/prometheus/prometheus/promql/promqltest"

	"github.com/servescope/servescope/internal/schema/schematest"
)

// TestClusterKeptThroughJoins: two clusters whose namespaces and pods share
// names, each with its own team, stay apart through the topology join (the
// full query and the recorded rule alike), and a series without the
// cluster label is one more cluster, keyed by the empty value.
func TestClusterKeptThroughJoins(t *testing.T) {
	st := promqltest.LoadedStorage(t, `
load 1m
  kube_namespace_labels{cluster="a",namespace="ml",label_team="red"} 1x5
  kube_namespace_labels{cluster="b",namespace="ml",label_team="blue"} 1x5
  kube_namespace_labels{namespace="ml",label_team="green"} 1x5
  vllm:num_requests_waiting{cluster="a",namespace="ml",pod="p",instance="i",model_name="m"} 3x5
  vllm:num_requests_waiting{cluster="b",namespace="ml",pod="p",instance="i",model_name="m"} 5x5
  vllm:num_requests_waiting{namespace="ml",pod="p",instance="i",model_name="m"} 7x5
`)
	cat, err := New(Options{})
	if err != nil {
		t.Fatal(err)
	}
	eng := schematest.NewEngine()
	q, err := cat.Query("team_requests_waiting")
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]float64{}
	for _, s := range schematest.Instant(t, eng, st, q, time.Unix(120, 0)) {
		got[s.Metric.Get("cluster")+"/"+s.Metric.Get("team")] = s.F
	}
	want := map[string]float64{"a/red": 3, "b/blue": 5, "/green": 7}
	if len(got) != len(want) {
		t.Fatalf("team_requests_waiting = %v, want %v", got, want)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("team_requests_waiting[%s] = %g, want %g (all %v)", k, got[k], v, got)
		}
	}
}

// TestClusterLabelEverywhere: every `by` grouping and `on` matching of every
// query and rule the catalog hands out keeps the configured cluster label.
func TestClusterLabelEverywhere(t *testing.T) {
	cat, err := New(Options{ClusterLabel: "k8s_cluster"})
	if err != nil {
		t.Fatal(err)
	}
	p := parser.NewParser(parser.Options{})
	for _, g := range cat.RuleGroups(time.Minute).Groups {
		for _, r := range g.Rules {
			e, err := p.ParseExpr(r.Expr)
			if err != nil {
				t.Fatal(err)
			}
			parser.Inspect(e, func(n parser.Node, _ []parser.Node) error {
				switch n := n.(type) {
				case *parser.AggregateExpr:
					if !n.Without && !slices.Contains(n.Grouping, "k8s_cluster") {
						t.Errorf("%s: %s drops the cluster label", r.Record, n)
					}
				case *parser.BinaryExpr:
					if vm := n.VectorMatching; vm != nil && vm.On && !slices.Contains(vm.MatchingLabels, "k8s_cluster") {
						t.Errorf("%s: %s joins across clusters", r.Record, n)
					}
				}
				return nil
			})
			if strings.Contains(r.Expr, "by (cluster") {
				t.Errorf("%s: default label used instead of the configured one", r.Record)
			}
		}
	}
	if _, err := New(Options{ClusterLabel: "bad-label"}); err == nil {
		t.Error("an invalid cluster label was accepted")
	}
}
