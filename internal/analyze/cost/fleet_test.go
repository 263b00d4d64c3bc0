package cost_test

import (
	"math"
	"path/filepath"
	"testing"
	"time"

	"github.com/servescope/servescope/internal/analyze/cost"
)

// TestMIGRemainderAndStep: a partly sliced MIG card's unsliced remainder
// is idle (allocated + idle = physical GPUs × hours), the fleet counts the
// cards, not the slices, and the answer does not depend on the step when
// the data begin inside the window (the first partial step counts its
// covered part).
func TestMIGRemainderAndStep(t *testing.T) {
	t.Parallel()
	eng, _ := loadScript(t, filepath.Join("testdata", "mig-remainder.test"))
	calc := newCalc(t, nil)
	// A 2-hour step: the data begin inside the window's only step, after
	// its point.
	for _, step := range []time.Duration{time.Minute, 7 * time.Minute, 30 * time.Minute, 2 * time.Hour} {
		start := time.Unix(0, 0)
		if step > time.Hour {
			start = time.Unix(3600, 0).Add(-step)
		}
		rep, err := calc.Compute(t.Context(), eng, cost.Request{Start: start, End: time.Unix(3600, 0), Step: step})
		if err != nil {
			t.Fatal(err)
		}
		set := rep.Sets[0]
		hours := 45.0 / 60
		f := set.Fleet
		if f.PhysicalGPUs != 2 || f.MIGGPUs != 2 || f.MIGSlices != 4 || math.Abs(f.GPUEquivalents-12.0/7) > 1e-9 {
			t.Errorf("step %s: fleet %+v, want 2 physical GPUs split into 4 slices, 12/7 GPU-equivalents", step, f.ModelGPUs)
		}
		tot := set.Totals
		if want := 3.0 / 7 * hours; math.Abs(tot.AllocatedGPUHours-want) > 0.005*want {
			t.Errorf("step %s: allocated %.4f GPU-hours, want %.4f", step, tot.AllocatedGPUHours, want)
		}
		if want := 2 * hours; math.Abs(f.AllocatableGPUHours-want) > 0.005*want || math.Abs(tot.AllocatedGPUHours+tot.IdleGPUHours-want) > 0.005*want {
			t.Errorf("step %s: allocatable %.4f, allocated + idle %.4f GPU-hours, want 2 GPUs × %.2f h = %.4f",
				step, f.AllocatableGPUHours, tot.AllocatedGPUHours+tot.IdleGPUHours, hours, want)
		}
		// The start of the data is found to a second.
		if d := set.CoveredStart.Sub(time.Unix(15*60, 0)); d < 0 || d > time.Second {
			t.Errorf("step %s: covered from %s, want 00:15 to within a second", step, set.CoveredStart.UTC())
		}
	}
}
