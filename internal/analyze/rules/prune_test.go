package rules

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql"
	"github.com/prometheus/prometheus/promql/parser"
	"github.com/prometheus/prometheus/promql/promqltest"
	prules "github.com/prometheus/prometheus/rules"
	"github.com/prometheus/prometheus/storage"
	"github.com/prometheus/prometheus/util/annotations"

	"github.com/servescope/servescope/internal/schema"
	"github.com/servescope/servescope/internal/store/tsdb"
)

// pruneFleet has alias labels present (exported_pod, exported_namespace,
// UUID, Hostname) and absent (pod_name, pod_namespace, container_name,
// exported_container), a dcgm-exporter pod whose workload labels the
// catalog clears, followers, and Kueue and kube-state-metrics series.
const pruneFleet = `
load 15s
  vllm:num_requests_running{namespace="team-a",pod="p0",instance="i0",model_name="m",engine="0"} 3+0x40
  vllm:num_requests_running{exported_namespace="team-b",exported_pod="p1",namespace="mon",pod="scraper",instance="i1",model_name="m",engine="0"} 5+1x40
  vllm:num_requests_waiting{namespace="team-a",pod="p0",instance="i0",model_name="m",engine="0"} 2+0x40
  vllm:kv_cache_usage_perc{namespace="team-a",pod="p0",instance="i0",model_name="m",engine="0"} 0.4+0x40
  vllm:kv_cache_usage_perc{exported_namespace="team-b",exported_pod="p1",instance="i1",model_name="m",engine="0"} 1.3+0x40
  vllm:generation_tokens_total{namespace="team-a",pod="p0",instance="i0",model_name="m",engine="0"} 0+600x40
  vllm:generation_tokens_total{exported_namespace="team-b",exported_pod="p1",instance="i1",model_name="m",engine="0",replica_role="follower"} 0+60x40
  vllm:time_to_first_token_seconds_bucket{namespace="team-a",pod="p0",instance="i0",model_name="m",le="0.1"} 0+5x40
  vllm:time_to_first_token_seconds_bucket{namespace="team-a",pod="p0",instance="i0",model_name="m",le="1"} 0+9x40
  vllm:time_to_first_token_seconds_bucket{namespace="team-a",pod="p0",instance="i0",model_name="m",le="+Inf"} 0+10x40
  sglang:time_to_first_token_seconds_bucket{exported_namespace="team-b",exported_pod="p1",instance="i1",le="0.5"} 0+2x40
  sglang:time_to_first_token_seconds_bucket{exported_namespace="team-b",exported_pod="p1",instance="i1",le="+Inf"} 0+4x40
  DCGM_FI_PROF_GR_ENGINE_ACTIVE{UUID="GPU-1",gpu="0",Hostname="n1",modelName="H100",namespace="team-a",pod="p0",container="vllm"} 0.7+0x40
  DCGM_FI_PROF_GR_ENGINE_ACTIVE{UUID="GPU-2",gpu="1",Hostname="n1",modelName="H100",namespace="gpu-operator",pod="dcgm-exporter-x"} 0+0x40
  DCGM_FI_DEV_POWER_USAGE{UUID="GPU-1",gpu="0",Hostname="n1",modelName="H100",namespace="team-a",pod="p0",container="vllm"} 300+0x40
  DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION{UUID="GPU-1",gpu="0",Hostname="n1",modelName="H100",namespace="team-a",pod="p0",container="vllm"} 0+4500000x40
  DCGM_FI_DEV_FB_USED{UUID="GPU-1",gpu="0",Hostname="n1",modelName="H100",namespace="team-a",pod="p0",container="vllm"} 1000+0x40
  kube_namespace_labels{namespace="team-a",label_team="alpha"} 1+0x40
  kube_namespace_labels{namespace="team-b",label_team="beta"} 1+0x40
  kube_pod_labels{namespace="team-a",pod="p0",label_kueue_x_k8s_io_queue_name="lq"} 1+0x40
  kueue_pending_workloads{cluster_queue="cq",status="active"} 2+0x40
  kueue_local_queue_resource_reservation{namespace="team-a",local_queue="lq",resource="nvidia.com/gpu",flavor="h100"} 4+0x40
  kueue_cluster_queue_nominal_quota{cluster_queue="cq",cohort="c",flavor="h100",resource="nvidia.com/gpu"} 8+0x40
`

// TestPrunedRulesEqual: every rule of the catalog gives, pruned, the very
// series and values it gives as written, and pruning drops something; with
// the label names per metric name it drops more.
func TestPrunedRulesEqual(t *testing.T) {
	st := promqltest.LoadedStorage(t, pruneFleet)
	eng := promqltest.NewTestEngine(t, false, 5*time.Minute, 1e6)
	cat, err := schema.New(schema.Options{})
	if err != nil {
		t.Fatal(err)
	}
	plain := prules.EngineQueryFunc(eng, st)
	ts := time.Unix(0, 0).Add(9 * time.Minute)
	// Record the signals first, so the rules over recorded series (teams)
	// have data too.
	m, err := New(Options{Appendable: st, Queryable: st, Engine: eng, Interval: 30 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if err := m.ApplyConfig(nil, Builtin{Name: "catalog", Groups: cat.RuleGroups(30 * time.Second)}); err != nil {
		t.Fatal(err)
	}
	m.EvalAt(t.Context(), ts)
	calls := map[string]int{}
	for _, mode := range []struct {
		name     string
		labelsOf func(context.Context, string) ([]string, error)
	}{
		{"labels of the store", nil},
		{"labels per metric name", tsdb.NewMetricLabels(st.DB).Of},
	} {
		pr := newPruner(plain, st, parser.NewParser(parser.Options{}), mode.labelsOf)
		pruned, nonEmpty, emptied, skipped := 0, 0, 0, 0
		for _, g := range cat.RuleGroups(30 * time.Second).Groups {
			for _, r := range g.Rules {
				want, err := plain(t.Context(), r.Expr, ts)
				if err != nil {
					t.Fatalf("%s: %v", r.Record, err)
				}
				got, err := pr.QueryFunc(t.Context(), r.Expr, ts)
				if err != nil {
					t.Fatalf("%s: %s pruned: %v", mode.name, r.Record, err)
				}
				if a, b := vectorText(got), vectorText(want); a != b {
					t.Errorf("%s: %s: pruned\n%s\nwant\n%s", mode.name, r.Record, a, b)
				}
				if e := pr.lookup(r.Expr); e.expr != nil {
					dropped, err := pr.dropped(t.Context(), e)
					if err != nil {
						t.Fatal(err)
					}
					if n := strings.Count(dropped, "1"); n > 0 {
						pruned++
						calls[mode.name] += n
					}
				}
				if len(want) > 0 {
					nonEmpty++
				}
				if e := pr.lookup(r.Expr); len(e.names) > 0 {
					absent, err := pr.absentNames(t.Context(), ts, e.names)
					if err != nil {
						t.Fatal(err)
					}
					if len(absent) > 0 {
						switch _, empty, same := pr.withoutEmpty(e, absent); {
						case empty:
							skipped++
						case !same:
							emptied++
						}
					}
				}
			}
		}
		if pruned < 40 || nonEmpty < 20 || emptied < 20 || skipped < 20 {
			t.Errorf("%s: %d rules pruned of labels, %d of empty branches, %d not evaluated, %d with data: the fleet does not exercise pruning",
				mode.name, pruned, emptied, skipped, nonEmpty)
		}
		t.Logf("%s: %d rules pruned of labels (%d calls), %d of empty branches, %d not evaluated, %d with data",
			mode.name, pruned, calls[mode.name], emptied, skipped, nonEmpty)
	}
	if a, b := calls["labels of the store"], calls["labels per metric name"]; b <= a {
		t.Errorf("label names per metric name dropped %d calls, those of the store %d", b, a)
	}
}

func vectorText(v promql.Vector) string {
	var out []string
	for _, s := range v {
		out = append(out, fmt.Sprintf("%s %v %d", s.Metric, s.F, s.T))
	}
	slices.Sort(out)
	return strings.Join(out, "\n")
}

// TestPruneKeeps: calls that could change something stay.
func TestPruneKeeps(t *testing.T) {
	p := parser.NewParser(parser.Options{})
	absent := map[string]bool{"a": true, "b": true, "src": true}
	for _, c := range []struct{ in, want string }{
		{`label_replace(m, "dst", "$1", "a", "(.+)")`, `m`},
		{`sum by (dst) (label_replace(label_replace(rate(m[5m]), "dst", "$1", "a", "(.+)"), "dst", "$1", "b", "(.+)"))`, `sum by (dst) (rate(m[5m]))`},
		// The regex matches the empty value of an absent label.
		{`label_replace(m, "dst", "x", "a", "")`, `label_replace(m, "dst", "x", "a", "")`},
		{`label_replace(m, "dst", "x", "a", ".*")`, `label_replace(m, "dst", "x", "a", ".*")`},
		// The source is set by another call of the query.
		{`label_replace(label_replace(m, "src", "$1", "pod", "(.+)"), "dst", "$1", "src", "(.+)")`, `label_replace(label_replace(m, "src", "$1", "pod", "(.+)"), "dst", "$1", "src", "(.+)")`},
		// A rate over several names may hold series of the same labels, which label_replace merges.
		{`label_replace(rate({__name__=~"m.+"}[5m]), "dst", "$1", "a", "(.+)")`, `label_replace(rate({__name__=~"m.+"}[5m]), "dst", "$1", "a", "(.+)")`},
		{`label_replace({__name__=~"m.+"}, "dst", "$1", "a", "(.+)")`, `{__name__=~"m.+"}`},
		// Arguments that make labels of their own.
		{`label_replace(absent(m{a="x"}), "dst", "$1", "a", "(.+)")`, `label_replace(absent(m{a="x"}), "dst", "$1", "a", "(.+)")`},
		{`label_replace(absent_over_time(m{a="x"}[5m]), "dst", "$1", "a", "(.+)")`, `label_replace(absent_over_time(m{a="x"}[5m]), "dst", "$1", "a", "(.+)")`},
		{`label_replace(count_values("a", m), "dst", "$1", "a", "(.+)")`, `label_replace(count_values("a", m), "dst", "$1", "a", "(.+)")`},
		{`label_replace(m or absent(n{b="1"}), "dst", "$1", "b", "(.+)")`, `label_replace(m or absent(n{b="1"}), "dst", "$1", "b", "(.+)")`},
		// A present source stays.
		{`label_replace(m, "dst", "$1", "present", "(.+)")`, `label_replace(m, "dst", "$1", "present", "(.+)")`},
	} {
		e, err := p.ParseExpr(c.in)
		if err != nil {
			t.Fatal(err)
		}
		got := rewriteDroppable(e, func(_ *parser.Call, src string) bool { return absent[src] }).String()
		if got != c.want {
			t.Errorf("%s: pruned to %s, want %s", c.in, got, c.want)
		}
	}
}

// TestPruneRaceEvaluatesAsWritten: a source label that appears while the
// pruned query runs makes the rule be evaluated as written.
func TestPruneRaceEvaluatesAsWritten(t *testing.T) {
	st := promqltest.LoadedStorage(t, "load 15s\n  m{x=\"1\"} 1+0x10\n")
	q := &appearing{Queryable: st, after: 1}
	var asked []string
	next := func(_ context.Context, q string, _ time.Time) (promql.Vector, error) {
		asked = append(asked, q)
		return nil, nil
	}
	pr := newPruner(next, q, parser.NewParser(parser.Options{}), nil)
	const rule = `label_replace(m, "pod", "$1", "pod_name", "(.+)")`
	if _, err := pr.QueryFunc(t.Context(), rule, time.Unix(60, 0)); err != nil {
		t.Fatal(err)
	}
	if want := []string{"m", rule}; !slices.Equal(asked, want) {
		t.Errorf("queries run %q, want %q", asked, want)
	}
}

// TestPruneByMetric: a call is dropped when the series of the names it
// reads lack its source, whatever other names have; a source that appears
// on them while the pruned query runs makes the rule be evaluated as
// written; a call over a selector without a name asks the whole store.
func TestPruneByMetric(t *testing.T) {
	st := promqltest.LoadedStorage(t, "load 15s\n  m{x=\"1\"} 1+0x10\n  n{exported_pod=\"p\"} 1+0x10\n")
	const (
		onM     = `label_replace(m, "pod", "$1", "exported_pod", "(.+)")`
		onN     = `label_replace(n, "pod", "$1", "exported_pod", "(.+)")`
		unnamed = `label_replace({x="1"}, "pod", "$1", "exported_pod", "(.+)")`
	)
	for _, tc := range []struct {
		name, rule string
		appear     bool // exported_pod appears on m after the first read
		want       []string
	}{
		{"absent on the name read", onM, false, []string{"m"}},
		{"present on the name read", onN, false, []string{onN}},
		{"appears during the query", onM, true, []string{"m", onM}},
		{"both names", onM + " or " + onN, false, []string{`m or ` + onN}},
		{"a selector without a name", unnamed, false, []string{unnamed}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			reads := 0
			labelsOf := func(_ context.Context, metric string) ([]string, error) {
				switch metric {
				case "m":
					reads++
					if tc.appear && reads > 1 {
						return []string{"__name__", "exported_pod", "x"}, nil
					}
					return []string{"__name__", "x"}, nil
				case "n":
					return []string{"__name__", "exported_pod"}, nil
				}
				return nil, nil
			}
			var asked []string
			next := func(_ context.Context, q string, _ time.Time) (promql.Vector, error) {
				asked = append(asked, q)
				return nil, nil
			}
			pr := newPruner(next, st, parser.NewParser(parser.Options{}), labelsOf)
			if _, err := pr.QueryFunc(t.Context(), tc.rule, time.Unix(60, 0)); err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(asked, tc.want) {
				t.Errorf("queries run %q, want %q", asked, tc.want)
			}
		})
	}
}

// appearing is a store where the label pod_name appears after `after`
// label-name reads.
type appearing struct {
	storage.Queryable
	after, reads int
}

func (a *appearing) Querier(mint, maxt int64) (storage.Querier, error) {
	q, err := a.Queryable.Querier(mint, maxt)
	if err != nil {
		return nil, err
	}
	return &withName{Querier: q, store: a}, nil
}

type withName struct {
	storage.Querier
	store *appearing
}

func (w *withName) LabelNames(ctx context.Context, hints *storage.LabelHints, ms ...*labels.Matcher) ([]string, annotations.Annotations, error) {
	names, ws, err := w.Querier.LabelNames(ctx, hints, ms...)
	w.store.reads++
	if w.store.reads > w.store.after {
		names = append(names, "pod_name")
		slices.Sort(names)
	}
	return names, ws, err
}

// TestPruneEmpty: which branches are certainly empty when names select
// nothing, and what is left of the query.
func TestPruneEmpty(t *testing.T) {
	p := parser.NewParser(parser.Options{})
	absent := map[string]bool{"gone": true, "gone2": true}
	for _, tc := range []struct{ in, want string }{
		{`gone or here`, `here`},
		{`here or gone`, `here`},
		{`gone or gone2`, ""},
		{`sum by (a) (rate(gone[5m])) or sum by (a) (rate(here[5m]))`, `sum by (a) (rate(here[5m]))`},
		{`here unless on (a) gone`, `here`},
		{`gone unless here`, ""},
		{`here and gone`, ""},
		{`here / on (a) group_left () gone`, ""},
		{`gone > 1`, ""},
		{`1 < gone`, ""},
		{`label_replace(gone, "a", "$1", "b", "(.+)") or label_replace(here, "a", "$1", "b", "(.+)")`, `label_replace(here, "a", "$1", "b", "(.+)")`},
		{`histogram_quantile(0.9, sum by (le) (rate(gone[5m])))`, ""},
		{`(gone or here) * 2`, `(here) * 2`},
		{`max_over_time(gone[5m:1m])`, ""},
		{`-gone`, ""},
		{`{__name__="gone"}`, ""},
		// Series from nothing, or selectors by another matcher: kept.
		{`absent(gone)`, `absent(gone)`},
		{`gone or vector(0)`, `vector(0)`},
		{`absent_over_time(gone[5m])`, `absent_over_time(gone[5m])`},
		{`{__name__=~"gone"}`, `{__name__=~"gone"}`},
		{`scalar(gone) + here`, `scalar(gone) + here`},
		{`day_of_month()`, `day_of_month()`},
		{`here`, `here`},
	} {
		e, err := p.ParseExpr(tc.in)
		if err != nil {
			t.Fatalf("%s: %v", tc.in, err)
		}
		got, empty := pruneEmpty(p, e, absent)
		switch {
		case tc.want == "" && !empty:
			t.Errorf("%s: got %s, want empty", tc.in, got)
		case tc.want != "" && (empty || got.String() != tc.want):
			t.Errorf("%s: got %s (empty %v), want %s", tc.in, got, empty, tc.want)
		}
	}
}

// TestPruneNameRaceEvaluatesAsWritten: a metric name that appears while
// the pruned query runs makes the rule be evaluated as written; one still
// absent leaves the pruned result.
func TestPruneNameRaceEvaluatesAsWritten(t *testing.T) {
	st := promqltest.LoadedStorage(t, "load 15s\n  m{x=\"1\"} 1+0x10\n")
	const rule = `sum(n) or sum(m)`
	for _, tc := range []struct {
		name   string
		appear bool
		want   []string
	}{
		{"still absent", false, []string{"sum(m)"}},
		{"appeared", true, []string{"sum(m)", rule}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			q := &newName{Queryable: st, appear: tc.appear}
			var asked []string
			next := func(_ context.Context, q string, _ time.Time) (promql.Vector, error) {
				asked = append(asked, q)
				return nil, nil
			}
			pr := newPruner(next, q, parser.NewParser(parser.Options{}), nil)
			if _, err := pr.QueryFunc(t.Context(), rule, time.Unix(60, 0)); err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(asked, tc.want) {
				t.Errorf("queries run %q, want %q", asked, tc.want)
			}
		})
	}
}

// newName is a store where the metric name n appears after the first read
// of the names, when appear.
type newName struct {
	storage.Queryable
	appear bool
	reads  int
}

func (a *newName) Querier(mint, maxt int64) (storage.Querier, error) {
	q, err := a.Queryable.Querier(mint, maxt)
	if err != nil {
		return nil, err
	}
	return &withMetric{Querier: q, store: a}, nil
}

type withMetric struct {
	storage.Querier
	store *newName
}

func (w *withMetric) LabelValues(ctx context.Context, name string, hints *storage.LabelHints, ms ...*labels.Matcher) ([]string, annotations.Annotations, error) {
	vals, ws, err := w.Querier.LabelValues(ctx, name, hints, ms...)
	w.store.reads++
	if name == model.MetricNameLabel && w.store.appear && w.store.reads > 1 {
		if len(ms) == 0 || ms[0].Matches("n") {
			vals = append(vals, "n")
			slices.Sort(vals)
		}
	}
	return vals, ws, err
}
