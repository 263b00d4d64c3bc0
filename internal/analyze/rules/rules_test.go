package rules

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/prometheus/prometheus/model/rulefmt"
	"github.com/prometheus/prometheus/promql"
	"github.com/prometheus/prometheus/promql/promqltest"
	"github.com/prometheus/prometheus/util/teststorage"

	"github.com/servescope/servescope/internal/schema"
)

// loaded returns a storage holding the promqltest load script, an engine,
// and a Manager over both.
func loaded(t *testing.T, script string) (*teststorage.TestStorage, *promql.Engine, *Manager) {
	t.Helper()
	st := promqltest.LoadedStorage(t, script)
	eng := promqltest.NewTestEngine(t, false, 5*time.Minute, 1e6)
	m, err := New(Options{Appendable: st, Queryable: st, Engine: eng, Interval: 30 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	return st, eng, m
}

func instant(t *testing.T, st *teststorage.TestStorage, eng *promql.Engine, q string, ts time.Time) promql.Vector {
	t.Helper()
	qry, err := eng.NewInstantQuery(t.Context(), st, nil, q, ts)
	if err != nil {
		t.Fatalf("query %q: %v", q, err)
	}
	defer qry.Close()
	res := qry.Exec(t.Context())
	if res.Err != nil {
		t.Fatalf("exec %q: %v", q, res.Err)
	}
	v, err := res.Vector()
	if err != nil {
		t.Fatalf("result of %q: %v", q, err)
	}
	return v
}

// TestCatalogRules evaluates the catalog's generated rules once at an
// explicit time and reads the recorded series back, including a team roll-up
// that reads what the signals group recorded.
func TestCatalogRules(t *testing.T) {
	t.Parallel()
	st, eng, m := loaded(t, `
load 1m
  vllm:num_requests_running{namespace="team-a",pod="p0",instance="i0",model_name="m",engine="0"} 3+0x10
  vllm:num_requests_running{namespace="team-a",pod="p0",instance="i0",model_name="m",engine="1"} 5+0x10
  vllm:num_requests_waiting{namespace="team-a",pod="p0",instance="i0",model_name="m",engine="0"} 2+0x10
  vllm:kv_cache_usage_perc{namespace="team-a",pod="p0",instance="i0",model_name="m",engine="0"} 0.4+0x10
  vllm:kv_cache_usage_perc{namespace="team-a",pod="p0",instance="i0",model_name="m",engine="1"} 1.2+0x10
  vllm:gpu_cache_usage_perc{namespace="team-a",pod="p0",instance="i0",model_name="m",engine="1"} 1.2+0x10
  vllm:generation_tokens_total{namespace="team-a",pod="p0",instance="i0",model_name="m",engine="0"} 0+600x10
  kube_namespace_labels{namespace="team-a",label_team="alpha"} 1+0x10
  kueue_pending_workloads{cluster_queue="cq",status="active",replica_role="leader"} 2+0x10
  kueue_pending_workloads{cluster_queue="cq",status="active",replica_role="follower"} 2+0x10
`)
	cat, err := schema.New(schema.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := m.ApplyConfig(nil, Builtin{Name: "catalog", Groups: cat.RuleGroups(30 * time.Second)}); err != nil {
		t.Fatal(err)
	}
	ts := time.Unix(0, 0).Add(10 * time.Minute)
	m.EvalAt(t.Context(), ts)

	tests := []struct {
		q    string
		want float64
		n    int
	}{
		{"servescope:requests_running:sum", 8, 1},
		{"servescope:kv_cache_usage_ratio:avg", 0.8, 1},
		{"servescope:generation_tokens_per_second:sum", 10, 1},
		{"servescope:queue_pending_workloads:sum", 2, 1},
		{"servescope:team_requests_waiting:sum", 2, 1},
		// Both KV names are out of range: flagged once per source.
		{`servescope:kv_cache_usage_ratio:out_of_range{source="1"}`, 1.2, 1},
		{`servescope:kv_cache_usage_ratio:out_of_range{source="2"}`, 1.2, 1},
		{"servescope:namespace_team:info", 1, 1},
	}
	for _, tc := range tests {
		v := instant(t, st, eng, tc.q, ts)
		if len(v) != tc.n {
			t.Errorf("%s: %d series, want %d: %v", tc.q, len(v), tc.n, v)
			continue
		}
		if got := v[0].F; got < tc.want-1e-9 || got > tc.want+1e-9 {
			t.Errorf("%s = %v, want %v", tc.q, got, tc.want)
		}
	}
	for _, h := range m.Health() {
		if h.Err != nil {
			t.Errorf("rule %s/%s: %v", h.Group, h.Rule, h.Err)
		}
	}
}

// TestApplyConfigKeepsPrevious checks that a bad rule file is an error and
// leaves the previous rule set in force.
func TestApplyConfigKeepsPrevious(t *testing.T) {
	t.Parallel()
	_, _, m := loaded(t, "load 1m\n  up 1\n")
	dir := t.TempDir()
	good := filepath.Join(dir, "good.yml")
	bad := filepath.Join(dir, "bad.yml")
	if err := os.WriteFile(good, []byte("groups:\n- name: g\n  rules:\n  - record: job:up:sum\n    expr: sum(up)\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bad, []byte("groups:\n- name: g\n  rules:\n  - record: job:up:sum\n    expr: sum(up\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := m.ApplyConfig([]string{good}); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		files   []string
		builtin []Builtin
		want    string
	}{
		{"bad file", []string{bad}, nil, "bad.yml"},
		{"missing file", []string{filepath.Join(dir, "nope.yml")}, nil, "nope.yml"},
		{"bad builtin", nil, []Builtin{{Name: "x", Groups: rulefmt.RuleGroups{Groups: []rulefmt.RuleGroup{{Name: "g", Rules: []rulefmt.Rule{{Record: "a:b", Expr: "rate(x[5m]"}}}}}}}, "builtin:x"},
		{"duplicate builtin", nil, []Builtin{{Name: "x"}, {Name: "x"}}, "twice"},
	}
	for _, tc := range tests {
		err := m.ApplyConfig(tc.files, tc.builtin...)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err = %v, want one mentioning %q", tc.name, err, tc.want)
		}
	}
	if h := m.Health(); len(h) != 1 || h[0].Rule != "job:up:sum" {
		t.Errorf("rules after failed applies = %+v, want the good file's one rule", h)
	}
}

// TestRun drives the ticker-driven manager under synctest: after two
// intervals of fake time the recorded series is in the store, and cancelling
// the context stops it.
func TestRun(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		st := teststorage.New(t)
		eng := promqltest.NewTestEngine(t, false, 5*time.Minute, 1e6)
		m, err := New(Options{Appendable: st, Queryable: st, Engine: eng, Interval: 10 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		groups := rulefmt.RuleGroups{Groups: []rulefmt.RuleGroup{{Name: "g", Rules: []rulefmt.Rule{{Record: "servescope:one:sum", Expr: "vector(1)"}}}}}
		if err := m.ApplyConfig(nil, Builtin{Name: "test", Groups: groups}); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan error) // closed by the Run goroutine
		go func() {
			done <- m.Run(ctx)
			close(done)
		}()
		time.Sleep(25 * time.Second)
		synctest.Wait()
		v := instant(t, st, eng, "servescope:one:sum", time.Now())
		if len(v) != 1 || v[0].F != 1 {
			t.Errorf("servescope:one:sum = %v, want 1", v)
		}
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
}
