package rules

import (
	"testing"
	"testing/synctest"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/rulefmt"
	"github.com/prometheus/prometheus/promql/promqltest"
	"github.com/prometheus/prometheus/util/teststorage"

	"github.com/servescope/servescope/internal/analyze/query"
)

// TestYield: with a page in progress each rule waits for it before its
// query, never past a quarter of the group's interval after the
// evaluation time in all; what the rules record is the same, at the
// evaluation time.
func TestYield(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		// page is how long a page is in progress after the evaluation
		// starts (0: none).
		page time.Duration
		// interval is the group's own (0: the manager's, 20s).
		interval time.Duration
		want     time.Duration // waited in all
	}{
		{name: "no page", want: 0},
		{name: "page ends", page: 2 * time.Second, want: 2 * time.Second},
		{name: "quarter of the interval", page: time.Minute, want: 5 * time.Second},
		{name: "quarter of the group's own interval", page: time.Minute, interval: 8 * time.Second, want: 2 * time.Second},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				st := teststorage.New(t)
				eng := promqltest.NewTestEngine(t, false, 5*time.Minute, 1e6)
				var pages query.Foreground
				reg := prometheus.NewRegistry()
				m, err := New(Options{Appendable: st, Queryable: st, Engine: eng, Interval: 20 * time.Second, Yield: pages.Wait, Registerer: reg})
				if err != nil {
					t.Fatal(err)
				}
				g := rulefmt.RuleGroup{Name: "g", Rules: []rulefmt.Rule{
					{Record: "servescope:one:sum", Expr: "vector(1)"},
					{Record: "servescope:two:sum", Expr: "servescope:one:sum * 2"},
				}}
				if c.interval > 0 {
					g.Interval = model.Duration(c.interval)
				}
				if err := m.ApplyConfig(nil, Builtin{Name: "test", Groups: rulefmt.RuleGroups{Groups: []rulefmt.RuleGroup{g}}}); err != nil {
					t.Fatal(err)
				}
				ts := time.Now()
				paged := make(chan struct{}) // closed when the page ends
				if c.page > 0 {
					end := pages.Begin()
					go func() {
						time.Sleep(c.page)
						end()
						close(paged)
					}()
				} else {
					close(paged)
				}
				m.EvalAt(t.Context(), ts)
				if took := time.Since(ts); took != c.want {
					t.Errorf("evaluation took %v, want %v", took, c.want)
				}
				if got := time.Duration(gathered(t, reg, "servescope_rule_yield_seconds_total") * float64(time.Second)); got != c.want {
					t.Errorf("servescope_rule_yield_seconds_total = %v, want %v", got, c.want)
				}
				if v := instant(t, st, eng, "servescope:two:sum", ts); len(v) != 1 || v[0].F != 2 || v[0].T != ts.UnixMilli() {
					t.Errorf("servescope:two:sum at the evaluation time = %v, want 2", v)
				}
				<-paged
			})
		})
	}
}

// gathered is the value of the counter name in reg.
func gathered(t *testing.T, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name {
			return mf.GetMetric()[0].GetCounter().GetValue()
		}
	}
	t.Fatalf("%s not registered", name)
	return 0
}
