package fleet_test

import (
	"math"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/prometheus/promql/promqltest"

	"github.com/servescope/servescope/internal/analyze/cost"
	"github.com/servescope/servescope/internal/analyze/fleet"
	"github.com/servescope/servescope/internal/analyze/query"
	"github.com/servescope/servescope/internal/schema"
)

// series: one H100 node of 2 GPUs, one pod holding one of them half busy;
// one A100 split into two 3g.40gb slices (6/7 of the card) nobody holds;
// a vLLM, an SGLang and a llama.cpp engine generating tokens.
const series = `
load 1m
  kube_node_labels{node="h",label_nvidia_com_gpu_product="NVIDIA-H100-80GB-HBM3"} 1x60
  kube_node_labels{node="m",label_nvidia_com_gpu_product="NVIDIA-A100-SXM4-80GB"} 1x60
  kube_node_status_allocatable{node="h",resource="nvidia_com_gpu"} 2x60
  kube_node_status_allocatable{node="m",resource="nvidia_com_mig_3g_40gb"} 2x60
  DCGM_FI_DEV_POWER_USAGE{Hostname="h",UUID="GPU-1",gpu="0",modelName="NVIDIA H100 80GB HBM3"} 300x60
  DCGM_FI_DEV_POWER_USAGE{Hostname="h",UUID="GPU-2",gpu="1",modelName="NVIDIA H100 80GB HBM3"} 300x60
  DCGM_FI_DEV_POWER_USAGE{Hostname="m",UUID="GPU-3",GPU_I_ID="1",GPU_I_PROFILE="3g.40gb",gpu="0",modelName="NVIDIA A100-SXM4-80GB"} 100x60
  DCGM_FI_DEV_POWER_USAGE{Hostname="m",UUID="GPU-3",GPU_I_ID="2",GPU_I_PROFILE="3g.40gb",gpu="0",modelName="NVIDIA A100-SXM4-80GB"} 100x60
  DCGM_FI_PROF_GR_ENGINE_ACTIVE{Hostname="h",UUID="GPU-1",gpu="0",modelName="NVIDIA H100 80GB HBM3",namespace="chat",pod="p"} 0.5x60
  kube_namespace_labels{namespace="chat",label_team="chat"} 1x60
  kube_pod_status_phase{namespace="chat",pod="p",uid="u",phase="Running"} 1x60
  kube_pod_container_resource_requests{namespace="chat",pod="p",uid="u",container="c",node="h",resource="nvidia_com_gpu"} 1x60
  vllm:generation_tokens_total{namespace="chat",pod="v",instance="v:8000",model_name="m"} 0+600x60
  sglang:generation_tokens_total{namespace="chat",pod="s",instance="s:30000",model_name="m"} 0+300x60
  llamacpp:tokens_predicted_total{namespace="chat",pod="l",instance="l:8080"} 0+60x60
`

func TestCompute(t *testing.T) {
	eng := query.NewEngine(promqltest.LoadedStorage(t, series), query.EngineOptions{Registerer: prometheus.NewRegistry(), MaxSamples: 1e7, Timeout: time.Minute})
	cat, err := schema.New(schema.Options{})
	if err != nil {
		t.Fatal(err)
	}
	pb, err := cost.ParsePriceBook("prices.yml", []byte("currency: USD\ngpus:\n  - {gpu: H100, hourly: \"3.00\"}\n  - {gpu: A100, hourly: \"1.40\"}\n"))
	if err != nil {
		t.Fatal(err)
	}
	calc, err := cost.New(cost.Options{Catalog: cat, Prices: pb})
	if err != nil {
		t.Fatal(err)
	}
	fc, err := fleet.New(fleet.Options{Cost: calc, Catalog: cat})
	if err != nil {
		t.Fatal(err)
	}
	start, end := time.Unix(20*60, 0), time.Unix(50*60, 0)
	m, err := fc.Compute(t.Context(), eng, start, end, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if got := fleet.GPUsText(m.GPUs); got != "3 GPUs, of which 1 split into 2 MIG slices" {
		t.Errorf("GPUs %q", got)
	}
	if math.Abs(m.GPUs.GPUEquivalents-(2+6.0/7)) > 1e-9 {
		t.Errorf("GPU-equivalents %g, want 2 6/7", m.GPUs.GPUEquivalents)
	}
	h := 0.5
	want := fleet.Quantities{Allocatable: 3 * h, Allocated: h, Used: 0.5 * h, Idle: 2 * h, Unused: 0.5 * h}
	got := m.Hours
	for _, c := range []struct {
		word      string
		got, want float64
	}{{"allocatable", got.Allocatable, want.Allocatable}, {"allocated", got.Allocated, want.Allocated}, {"used", got.Used, want.Used},
		{"idle", got.Idle, want.Idle}, {"unused", got.Unused, want.Unused}, {"reserved", got.Reserved, 0}, {"busy", m.Busy, 0.5}} {
		if math.Abs(c.got-c.want) > 1e-9 {
			t.Errorf("%s %g, want %g", c.word, c.got, c.want)
		}
	}
	// Money: H100 3.00, A100 1.40 per card-hour (the idle A100 is the
	// whole card, its unsliced seventh included).
	money := m.Money
	if money.Allocatable != 3_000_000+700_000 || money.Allocated != 1_500_000 || money.Used != 750_000 ||
		money.Unused != 750_000 || money.Idle != 1_500_000+700_000 {
		t.Errorf("money %+v", money)
	}
	if m.Money.Allocated.Format(m.Currency) != "1.50 USD" {
		t.Errorf("format %q", m.Money.Allocated.Format(m.Currency))
	}
	// Tokens/s over every engine: 10 + 5 + 1.
	if s := m.Serving.GenerationTokensPerSecond; math.Abs(s-16) > 1e-6 {
		t.Errorf("generation tokens/s %g, want 16 (vLLM, SGLang and llama.cpp)", s)
	}
	if len(m.Teams) != 1 || m.Teams[0].Name != "chat" || m.Idle == nil {
		t.Errorf("teams %+v, idle %+v", m.Teams, m.Idle)
	}
}
