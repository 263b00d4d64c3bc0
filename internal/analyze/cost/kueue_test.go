package cost_test

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/servescope/servescope/internal/analyze/cost"
)

// TestKueueSplit checks testdata/kueue-split.test's key numbers: a
// LocalQueue's usage is charged to the teams of its Running pods in
// proportion to their requests, per flavor, and to the queue's own team
// (namespace label, else ClusterQueue mapping) when no pod is visible.
func TestKueueSplit(t *testing.T) {
	t.Parallel()
	eng, _ := loadScript(t, filepath.Join("testdata", "kueue-split.test"))
	calc := newCalc(t, map[string]string{"ml-cq": "ml"})
	rep, err := calc.Compute(t.Context(), eng, cost.Request{Start: time.Unix(0, 0), End: time.Unix(3600, 0), Step: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	set := rep.Sets[0]
	if set.AllocationSource != "kueue-local-queue" {
		t.Errorf("allocation source %q, want kueue-local-queue", set.AllocationSource)
	}
	got := map[string]cost.Allocation{}
	for _, a := range set.Allocations {
		got[a.Name] = a
	}
	tests := []struct {
		name       string
		team       string
		kueue, pod float64
		cost       cost.Micros
	}{
		// 8 then 4 H100s split 1:3 (30 minutes each), plus both slices.
		{"split, smaller request", "red", 0.25*8*0.5 + 0.25*4*0.5 + 2.0/7, 1 + 2.0/7, 4_500_000 + 500_000},
		{"split, larger request", "blue", 0.75*8*0.5 + 0.75*4*0.5, 3, 13_500_000},
		{"no pods: namespace label", "green", 2, 0, 6_000_000},
		// Pod c's half hour, then the ClusterQueue's team for the rest.
		{"pods gone: ClusterQueue mapping", "ml", 1, 0.5, 3_000_000},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a, ok := got[tc.team]
			if !ok {
				t.Fatalf("no allocation for %q in %v", tc.team, set.Allocations)
			}
			if !near(a.KueueGPUHours, tc.kueue) || !near(a.AllocatedGPUHours, tc.kueue) || !near(a.PodGPUHours, tc.pod) || !near(a.DifferenceGPUHours, tc.kueue-tc.pod) {
				t.Errorf("kueue %.6f allocated %.6f pods %.6f difference %.6f, want kueue and allocated %.6f, pods %.6f",
					a.KueueGPUHours, a.AllocatedGPUHours, a.PodGPUHours, a.DifferenceGPUHours, tc.kueue, tc.pod)
			}
			if a.Cost != tc.cost {
				t.Errorf("cost %s, want %s", a.Cost, tc.cost)
			}
		})
	}
	if a, ok := got["ops"]; ok {
		t.Errorf("the namespace's team is charged although its pods name theirs: %+v", a)
	}
	// Splitting moves hours between teams, it neither adds nor drops any.
	if want := 8*0.5 + 4*0.5 + 2.0/7 + 2 + 1; !near(set.Totals.KueueGPUHours, want) {
		t.Errorf("total kueue %.6f GPU-hours, want %.6f", set.Totals.KueueGPUHours, want)
	}
}
