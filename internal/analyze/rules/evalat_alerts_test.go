package rules

import (
	"testing"
	"time"

	"github.com/prometheus/prometheus/model/rulefmt"
)

// TestEvalAtWritesAlerts: EvalAt (backfill) writes the ALERTS series of a
// firing alert at the evaluation that fires it, as the dashboard's firing
// alerts read them; a running group writes them only after restoring its
// for: state, which EvalAt never does.
func TestEvalAtWritesAlerts(t *testing.T) {
	t.Parallel()
	st, eng, m := loaded(t, `
load 1m
  vllm:num_requests_waiting{pod="p0",model_name="m"} 1 1 9 9 9
`)
	groups := rulefmt.RuleGroups{Groups: []rulefmt.RuleGroup{{Name: "g", Rules: []rulefmt.Rule{
		{Alert: "Waiting", Expr: "vllm:num_requests_waiting > 5", Labels: map[string]string{"severity": "page"}},
	}}}}
	if err := m.ApplyConfig(nil, Builtin{Name: "t", Groups: groups}); err != nil {
		t.Fatal(err)
	}
	for min := range 5 {
		m.EvalAt(t.Context(), time.Unix(0, 0).Add(time.Duration(min)*time.Minute))
	}
	for _, tc := range []struct {
		min  int
		want int
	}{{1, 0}, {2, 1}, {4, 1}} {
		v := instant(t, st, eng, `ALERTS{alertname="Waiting",alertstate="firing",severity="page",pod="p0"}`, time.Unix(0, 0).Add(time.Duration(tc.min)*time.Minute))
		if len(v) != tc.want {
			t.Errorf("minute %d: ALERTS %v, want %d firing", tc.min, v, tc.want)
		}
	}
}
