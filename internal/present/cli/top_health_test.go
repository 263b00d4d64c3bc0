package cli

import (
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/prometheus/promql/promqltest"

	"github.com/servescope/servescope/internal/analyze/diagnose"
	"github.com/servescope/servescope/internal/analyze/query"
	"github.com/servescope/servescope/internal/schema"
)

// TestTopUnusable: a pod whose GPU's row remapping failed is diagnosed
// unusable_gpu, and the line under the title names the GPU with its XID.
func TestTopUnusable(t *testing.T) {
	t.Parallel()
	st := promqltest.LoadedStorage(t, `load 15s
  vllm:num_requests_running{namespace="chat",pod="llama-a",instance="10.0.0.1:8000",model_name="llama-8b"} 40x80
  vllm:num_requests_waiting{namespace="chat",pod="llama-a",instance="10.0.0.1:8000",model_name="llama-8b"} 0x80
  DCGM_FI_PROF_GR_ENGINE_ACTIVE{Hostname="node-1",UUID="GPU-1",gpu="0",modelName="NVIDIA H100 80GB HBM3",namespace="chat",pod="llama-a",container="vllm"} 0.8x80
  DCGM_FI_DEV_ROW_REMAP_FAILURE{Hostname="node-1",UUID="GPU-1",gpu="0",modelName="NVIDIA H100 80GB HBM3",namespace="chat",pod="llama-a",container="vllm"} 0x60 1x20
  DCGM_FI_DEV_XID_ERRORS{Hostname="node-1",UUID="GPU-1",gpu="0",modelName="NVIDIA H100 80GB HBM3",namespace="chat",pod="llama-a",container="vllm",err_code="64",err_msg="x"} 0x60 64x20
`)
	t.Cleanup(func() { st.Close() })
	eng := query.NewEngine(st, query.EngineOptions{Registerer: prometheus.NewRegistry(), MaxSamples: 1e7, Timeout: time.Minute})
	cat, err := schema.New(schema.Options{})
	if err != nil {
		t.Fatal(err)
	}
	top, err := NewTop(TopOptions{Querier: eng, Catalog: cat, Step: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	rows, err := top.Rows(t.Context(), time.Unix(0, 0).Add(19*time.Minute+50*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 1 || rows[0].Diagnosis != diagnose.StateUnusableGPU {
		t.Errorf("rows %+v, want llama-a unusable_gpu", rows)
	}
	if got, want := top.FleetLine(), "unusable GPUs: node-1/GPU-1 (XID 64)"; got != want {
		t.Errorf("line %q, want %q", got, want)
	}
}
