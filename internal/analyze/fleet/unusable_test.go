package fleet_test

import (
	"slices"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/prometheus/promql/promqltest"

	"github.com/servescope/servescope/internal/analyze/cost"
	"github.com/servescope/servescope/internal/analyze/fleet"
	"github.com/servescope/servescope/internal/analyze/query"
	"github.com/servescope/servescope/internal/schema"
)

// TestUnusable: the fleet model names the GPUs unusable at the end of its
// window (health.Judge), with their XID codes: GPU-2's row remapping fails
// at 40m and XID 64 repeats; GPU-1 stays healthy.
func TestUnusable(t *testing.T) {
	const s = `
load 15s
  kube_node_labels{node="h",label_nvidia_com_gpu_product="NVIDIA-H100-80GB-HBM3"} 1x240
  kube_node_status_allocatable{node="h",resource="nvidia_com_gpu"} 2x240
  DCGM_FI_DEV_ROW_REMAP_FAILURE{Hostname="h",UUID="GPU-1",gpu="0",modelName="NVIDIA H100 80GB HBM3"} 0x240
  DCGM_FI_DEV_ROW_REMAP_FAILURE{Hostname="h",UUID="GPU-2",gpu="1",modelName="NVIDIA H100 80GB HBM3"} 0x159 1x80
  DCGM_EXP_XID_ERRORS_COUNT{Hostname="h",UUID="GPU-1",gpu="0",modelName="NVIDIA H100 80GB HBM3",window_size_in_ms="300000"} 0x240
  DCGM_EXP_XID_ERRORS_COUNT{Hostname="h",UUID="GPU-2",gpu="1",modelName="NVIDIA H100 80GB HBM3",window_size_in_ms="300000"} 0x159 stale
  DCGM_EXP_XID_ERRORS_COUNT{Hostname="h",UUID="GPU-2",gpu="1",modelName="NVIDIA H100 80GB HBM3",window_size_in_ms="300000",xid="64"} _x159 1x8 2x72
`
	eng := query.NewEngine(promqltest.LoadedStorage(t, s), query.EngineOptions{Registerer: prometheus.NewRegistry(), MaxSamples: 1e7, Timeout: time.Minute})
	cat, err := schema.New(schema.Options{})
	if err != nil {
		t.Fatal(err)
	}
	calc, err := cost.New(cost.Options{Catalog: cat})
	if err != nil {
		t.Fatal(err)
	}
	fc, err := fleet.New(fleet.Options{Cost: calc, Catalog: cat})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		end  time.Duration
		want []string
	}{
		{30 * time.Minute, nil},
		{50 * time.Minute, []string{"GPU-2"}},
	} {
		m, err := fc.Compute(t.Context(), eng, time.Unix(0, 0).Add(tc.end-20*time.Minute), time.Unix(0, 0).Add(tc.end), time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, u := range m.Unusable {
			got = append(got, u.UUID)
			if u.Hostname != "h" || !slices.Equal(u.XIDs, []int{64}) || len(u.Reasons) != 2 {
				t.Errorf("at %s: %+v, want host h, XID 64 and two reasons (remap failure, repeated XIDs)", tc.end, u)
			}
		}
		if !slices.Equal(got, tc.want) || m.UnusableGPUs != len(tc.want) {
			t.Errorf("at %s: unusable %v (count %d), want %v", tc.end, got, m.UnusableGPUs, tc.want)
		}
	}
}
