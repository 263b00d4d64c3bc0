package cluster_test

import (
	"slices"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/promql/promqltest"

	"github.com/servescope/servescope/internal/analyze/cluster"
	"github.com/servescope/servescope/internal/analyze/query"
)

func TestInject(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{`up`, `up{cluster="a"}`},
		{`sum by (pod) (rate(x{job="j"}[5m])) / on (pod) group_left () y`, `sum by (pod) (rate(x{cluster="a",job="j"}[5m])) / on (pod) group_left () y{cluster="a"}`},
		{`avg_over_time((z > 1)[1h:1m])`, `avg_over_time((z{cluster="a"} > 1)[1h:1m])`},
	} {
		got, err := cluster.Inject(tc.in, "cluster", "a")
		if err != nil {
			t.Fatal(err)
		}
		if got != tc.want {
			t.Errorf("Inject(%s) = %s, want %s", tc.in, got, tc.want)
		}
	}
	if _, err := cluster.Inject(`sum(`, "cluster", "a"); err == nil {
		t.Error("a bad query was accepted")
	}
}

// TestScope: a scoped Querier sees one cluster's series only, through
// every method; the unnamed cluster is the Querier itself.
func TestScope(t *testing.T) {
	st := promqltest.LoadedStorage(t, `
load 1m
  up{cluster="a",job="x"} 1x5
  up{cluster="b",job="x"} 0x5
  up{job="x"} 1x5
`)
	eng := query.NewEngine(st, query.EngineOptions{Registerer: prometheus.NewRegistry(), Timeout: time.Minute, MaxSamples: 1e6})
	ctx, at := t.Context(), time.Unix(120, 0)
	names, err := cluster.Names(ctx, eng, "", time.Unix(0, 0), at)
	if err != nil || !slices.Equal(names, []string{"a", "b"}) {
		t.Fatalf("Names = %v, %v; want [a b]", names, err)
	}
	if got := cluster.Select(nil, ""); !slices.Equal(got, []string{""}) {
		t.Errorf("Select(none) = %q", got)
	}
	if got := cluster.Select(names, "c"); !slices.Equal(got, []string{"c"}) {
		t.Errorf("Select(names, c) = %q", got)
	}
	b := cluster.Scope(eng, "", "b")
	res, err := b.Query(ctx, `sum(up)`, at)
	if err != nil {
		t.Fatal(err)
	}
	if v := res.Value.(model.Vector); len(v) != 1 || v[0].Value != 0 {
		t.Errorf("sum(up) in b = %v, want 0", v)
	}
	rr, err := b.QueryRange(ctx, `up`, query.Range{Start: time.Unix(0, 0), End: at, Step: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	if m := rr.Value.(model.Matrix); len(m) != 1 || m[0].Metric["cluster"] != "b" {
		t.Errorf("range of up in b = %v", m)
	}
	ss, err := b.Series(ctx, nil, time.Unix(0, 0), at)
	if err != nil || len(ss) != 1 {
		t.Errorf("series of b = %v, %v", ss, err)
	}
	vs, err := b.LabelValues(ctx, "cluster", nil, time.Unix(0, 0), at)
	if err != nil || !slices.Equal(vs, []string{"b"}) {
		t.Errorf("cluster values in b = %v, %v", vs, err)
	}
	ns, err := b.LabelNames(ctx, []string{`up`}, time.Unix(0, 0), at)
	if err != nil || !slices.Contains(ns, "cluster") {
		t.Errorf("label names in b = %v, %v", ns, err)
	}
	none := cluster.Scope(eng, "", cluster.Unnamed)
	if res, err := none.Query(ctx, `sum(up)`, at); err != nil || len(res.Value.(model.Vector)) != 1 || res.Value.(model.Vector)[0].Value != 1 {
		t.Errorf("sum(up) without a cluster label = %v, %v; want 1", res.Value, err)
	}
	if ss, err := none.Series(ctx, nil, time.Unix(0, 0), at); err != nil || len(ss) != 1 || ss[0]["cluster"] != "" {
		t.Errorf("series without a cluster label = %v, %v", ss, err)
	}
	if cluster.Scope(eng, "", "") != query.Querier(eng) {
		t.Error("the unnamed cluster is not the Querier itself")
	}
}
