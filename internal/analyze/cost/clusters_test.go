package cost_test

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/servescope/servescope/internal/analyze/cost"
	"github.com/servescope/servescope/internal/schema"
)

// TestClustersAdd: over two clusters whose pods share names, each team's
// hours and money across clusters are the sum of each cluster computed
// alone, per-cluster rows add up to the totals, and the fleet's GPUs are
// both clusters' (pods and nodes of one name counted twice, not merged).
func TestClustersAdd(t *testing.T) {
	t.Parallel()
	eng, _ := loadScript(t, filepath.Join("testdata", "clusters.test"))
	calc := newCalc(t, nil)
	run := func(by cost.Aggregate, cluster string) cost.Set {
		t.Helper()
		rep, err := calc.Compute(t.Context(), eng, cost.Request{Start: time.Unix(0, 0), End: time.Unix(3600, 0), Step: time.Minute, By: by, Cluster: cluster})
		if err != nil {
			t.Fatal(err)
		}
		return rep.Sets[0]
	}
	rows := func(s cost.Set) map[string]cost.Allocation {
		m := map[string]cost.Allocation{}
		for _, a := range s.Allocations {
			m[a.Name] = a
		}
		return m
	}
	all, a, b := run(cost.ByTeam, ""), run(cost.ByTeam, "a"), run(cost.ByTeam, "b")
	for team, got := range rows(all) {
		wa, wb := rows(a)[team], rows(b)[team]
		if !near(got.AllocatedGPUHours, wa.AllocatedGPUHours+wb.AllocatedGPUHours) || !near(got.UsedGPUHours, wa.UsedGPUHours+wb.UsedGPUHours) || got.Cost != wa.Cost+wb.Cost {
			t.Errorf("team %s: %+v, want the sum of %+v and %+v", team, got, wa, wb)
		}
	}
	if red := rows(all)["red"]; !near(red.AllocatedGPUHours, 3) || !near(red.UsedGPUHours, 1.25) {
		t.Errorf("red across clusters: allocated %g used %g, want 3 and 1.25", red.AllocatedGPUHours, red.UsedGPUHours)
	}
	if all.Fleet.PhysicalGPUs != a.Fleet.PhysicalGPUs+b.Fleet.PhysicalGPUs || all.Fleet.PhysicalGPUs != 8 {
		t.Errorf("physical GPUs %d, want 8 = %d + %d", all.Fleet.PhysicalGPUs, a.Fleet.PhysicalGPUs, b.Fleet.PhysicalGPUs)
	}
	if all.Totals.TotalCost != a.Totals.TotalCost+b.Totals.TotalCost || !near(all.Totals.IdleGPUHours, a.Totals.IdleGPUHours+b.Totals.IdleGPUHours) {
		t.Errorf("totals %+v, want the sum of %+v and %+v", all.Totals, a.Totals, b.Totals)
	}
	byCluster := rows(run(cost.ByCluster, ""))
	if len(byCluster) != 2 || !near(byCluster["a"].AllocatedGPUHours, a.Totals.AllocatedGPUHours) || byCluster["b"].Cost != b.Totals.Cost {
		t.Errorf("by cluster %+v, want a and b with their totals", byCluster)
	}
	// Without prices both clusters warn alike: one warning naming both.
	cat, err := schema.New(schema.Options{})
	if err != nil {
		t.Fatal(err)
	}
	unpriced, err := cost.New(cost.Options{Catalog: cat})
	if err != nil {
		t.Fatal(err)
	}
	rep, err := unpriced.Compute(t.Context(), eng, cost.Request{Start: time.Unix(0, 0), End: time.Unix(3600, 0), Step: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	if w := rep.Sets[0].Warnings; len(w) != 1 || !strings.HasPrefix(w[0], "clusters a, b: no price for ") {
		t.Errorf("warnings %q, want one about clusters a, b", w)
	}
}
