package cli

import (
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/prometheus/promql/promqltest"

	"github.com/servescope/servescope/internal/analyze/query"
	"github.com/servescope/servescope/internal/schema"
)

// pdSeries: a prefill pod whose role comes from llm-d's pod label, an
// SGLang decode pod whose role is its engine_type, and a pod without one.
const pdSeries = `
load 15s
  vllm:num_requests_running{namespace="serve",pod="p-0",instance="10.0.0.1:8000",model_name="m",engine="0"} 4x80
  vllm:num_requests_waiting{namespace="serve",pod="p-0",instance="10.0.0.1:8000",model_name="m",engine="0"} 0x80
  kube_pod_labels{namespace="serve",pod="p-0",uid="u1",label_llm_d_ai_role="prefill"} 1x80
  sglang:num_running_reqs{namespace="serve",pod="d-0",instance="10.0.0.2:30000",model_name="m",engine_type="decode",tp_rank="0"} 9x80
  sglang:num_queue_reqs{namespace="serve",pod="d-0",instance="10.0.0.2:30000",model_name="m",engine_type="decode",tp_rank="0"} 0x80
  vllm:num_requests_running{namespace="serve",pod="u-0",instance="10.0.0.3:8000",model_name="m",engine="0"} 2x80
`

// TestTopRole shows each pod's role beside its model, and none where the
// role is unknown.
func TestTopRole(t *testing.T) {
	t.Parallel()
	st := promqltest.LoadedStorage(t, pdSeries)
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
	rows, err := top.Rows(t.Context(), time.Unix(0, 0).Add(19*time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"p-0": "m (prefill)", "d-0": "m (decode)", "u-0": "m"}
	if len(rows) != len(want) {
		t.Fatalf("%d rows, want %d: %+v", len(rows), len(want), rows)
	}
	for _, r := range rows {
		if got := modelCell(r); got != want[r.Pod] {
			t.Errorf("%s: model cell %q, want %q", r.Pod, got, want[r.Pod])
		}
	}
}
