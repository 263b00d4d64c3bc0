package schema

import (
	"math"
	"testing"
	"time"

	"github.com/prometheus/prometheus/promql/promqltest"

	"github.com/servescope/servescope/internal/schema/schematest"
)

// TestKueueMIGInGPUEquivalents: the queue signals read Kueue's MIG
// resources as well as whole GPUs, each slice at MIGWeight (3g = 3/7), the
// weighting cost uses.
func TestKueueMIGInGPUEquivalents(t *testing.T) {
	st := promqltest.LoadedStorage(t, `
load 1m
  kueue_cluster_queue_nominal_quota{cluster_queue="cq",flavor="h100",resource="nvidia.com/gpu"} 4x5
  kueue_cluster_queue_nominal_quota{cluster_queue="cq",flavor="a100-mig",resource="nvidia.com/mig-3g.40gb"} 14x5
  kueue_cluster_queue_nominal_quota{cluster_queue="cq",flavor="a100-mig",resource="nvidia.com/mig-1g.10gb+me"} 7x5
  kueue_cluster_queue_nominal_quota{cluster_queue="cq",flavor="h100",resource="cpu"} 100x5
  kueue_cluster_queue_resource_usage{cluster_queue="cq",flavor="a100-mig",resource="nvidia.com/mig-3g.40gb"} 7x5
`)
	cat, err := New(Options{})
	if err != nil {
		t.Fatal(err)
	}
	eng := schematest.NewEngine()
	for _, tc := range []struct {
		signal, flavor string
		want           float64
	}{
		{"queue_nominal_quota_gpus", "h100", 4},
		{"queue_nominal_quota_gpus", "a100-mig", 14*3.0/7 + 7*1.0/7},
		{"queue_used_gpus", "a100-mig", 3},
	} {
		q, err := cat.Query(tc.signal)
		if err != nil {
			t.Fatal(err)
		}
		got := math.NaN()
		for _, s := range schematest.Instant(t, eng, st, q, time.Unix(120, 0)) {
			if s.Metric.Get("flavor") == tc.flavor {
				got = s.F
			}
		}
		if math.Abs(got-tc.want) > 1e-9 {
			t.Errorf("%s{flavor=%q} = %g, want %g", tc.signal, tc.flavor, got, tc.want)
		}
	}
	if w := MIGWeight("nvidia.com/mig-3g.40gb"); math.Abs(w-3.0/7) > 1e-12 {
		t.Errorf("MIGWeight(3g.40gb) = %g", w)
	}
}
