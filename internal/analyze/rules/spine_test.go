package rules

import (
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"

	"github.com/servescope/servescope/internal/analyze/query"
	"github.com/servescope/servescope/internal/schema"
	"github.com/servescope/servescope/internal/store/tsdb"
)

// TestWithSpine wires the manager to the real store (internal/store/tsdb in
// a temp dir) and engine (internal/analyze/query), as app does: samples go
// in through the store's Appender, the catalog's rules are evaluated once at
// an explicit time, and the recorded series are read back through the
// Querier.
func TestWithSpine(t *testing.T) {
	t.Parallel()
	reg := prometheus.NewRegistry()
	db, err := tsdb.Open(tsdb.Options{Path: t.TempDir(), Registerer: reg})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := db.Close(); err != nil {
			t.Error(err)
		}
	})
	eng := query.NewEngine(db.Queryable(), query.EngineOptions{Timeout: time.Minute, MaxSamples: 1e6, Registerer: reg})
	m, err := New(Options{Appendable: db.AppendableV2(), Queryable: db.Queryable(), Engine: eng.Promql(), Registerer: reg})
	if err != nil {
		t.Fatal(err)
	}
	cat, err := schema.New(schema.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := m.ApplyConfig(nil, Builtin{Name: "catalog", Groups: cat.RuleGroups(30 * time.Second)}); err != nil {
		t.Fatal(err)
	}

	start := time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)
	app := db.Appender(t.Context())
	for i := range 11 {
		ts := start.Add(time.Duration(i) * 30 * time.Second).UnixMilli()
		for _, s := range []struct {
			ls labels.Labels
			v  float64
		}{
			{labels.FromStrings("__name__", "DCGM_FI_DEV_GPU_UTIL", "UUID", "GPU-1", "Hostname", "n1", "gpu", "0", "namespace", "team-a", "pod", "p0"), 40},
			{labels.FromStrings("__name__", "kube_namespace_labels", "namespace", "team-a", "label_team", "alpha"), 1},
		} {
			if err := app.Append(s.ls, ts, s.v); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := app.Commit(); err != nil {
		t.Fatal(err)
	}
	at := start.Add(5 * time.Minute)
	m.EvalAt(t.Context(), at)

	tests := []struct {
		q    string
		want float64
	}{
		{`servescope:gpu_busy_ratio:avg{uuid="GPU-1",hostname="n1"}`, 0.4},
		{`servescope:gpu_pod:info{uuid="GPU-1",pod="p0",namespace="team-a"}`, 1},
		{`servescope:gpu_team:info{uuid="GPU-1",team="alpha"}`, 1},
	}
	for _, tc := range tests {
		res, err := eng.Query(t.Context(), tc.q, at)
		if err != nil {
			t.Fatalf("%s: %v", tc.q, err)
		}
		v, ok := res.Value.(model.Vector)
		if !ok || len(v) != 1 || float64(v[0].Value) != tc.want {
			t.Errorf("%s = %v, want one series of %v", tc.q, res.Value, tc.want)
		}
	}
}
