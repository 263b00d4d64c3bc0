package schema

import (
	"testing"

	"github.com/prometheus/prometheus/model/labels"
)

// TestVariants loads hand-made expositions covering the simulator's variants
// (vLLM V0 names, V1 with data-parallel engines, SGLang, llama.cpp,
// dcgm-exporter with honorLabels on and off, Hostname and hostname, 1.x
// names, Kueue ClusterQueue-only with an HA follower, LocalQueue metrics,
// kube-state-metrics) into one TSDB, as scraped, and checks every canonical
// value, the topology join and the team roll-ups. Files are in
// testdata/variants; target labels are added as a scrape would.
func TestVariants(t *testing.T) {
	t.Parallel()
	target := func(kv ...string) labels.Labels { return labels.FromStrings(append([]string{"job", "test"}, kv...)...) }
	files := map[string]labels.Labels{
		"vllm-v0.prom":        target("instance", "10.0.0.1:8000", "namespace", "team-a", "pod", "vllm-v0-0"),
		"vllm-v1-dp.prom":     target("instance", "10.0.0.2:8000", "namespace", "team-a", "pod", "vllm-v1-0"),
		"sglang.prom":         target("instance", "10.0.0.3:30000", "namespace", "team-b", "pod", "sglang-0"),
		"llamacpp.prom":       target("instance", "10.0.0.4:8080", "namespace", "team-c", "pod", "llama-0"),
		"out-of-range.prom":   target("instance", "10.0.0.5:8000", "namespace", "team-a", "pod", "bad-0"),
		"dcgm-honor-on.prom":  target("instance", "10.0.1.1:9400"),
		"dcgm-honor-off.prom": target("instance", "10.0.1.2:9400"),
		"dcgm-1x.prom":        target("instance", "10.0.1.3:9400"),
		"kueue-cq-ha.prom":    target("instance", "10.0.2.1:8443"),
		"kueue-lq.prom":       target("instance", "10.0.2.1:8443"),
		"ksm.prom":            target("instance", "10.0.3.1:8080"),
	}
	m := func(kv ...string) map[string]string {
		out := map[string]string{}
		for i := 0; i+1 < len(kv); i += 2 {
			out[kv[i]] = kv[i+1]
		}
		return out
	}
	pod := func(name string, kv ...string) map[string]string { return m(append([]string{"pod", name}, kv...)...) }
	tests := []struct {
		variant string
		wants   []want
	}{
		{"vLLM V0 names", []want{
			{Signal: "requests_running", Match: pod("vllm-v0-0", "model_name", "m-v0", "namespace", "team-a"), Value: 2},
			{Signal: "requests_waiting", Match: pod("vllm-v0-0"), Value: 1},
			{Signal: "kv_cache_usage_ratio", Match: pod("vllm-v0-0"), Value: 0.25},
			{Signal: "prefix_cache_hit_ratio", Match: pod("vllm-v0-0"), Value: 0.4},
			{Signal: "prompt_tokens_per_second", Match: pod("vllm-v0-0"), Value: 1500.0 / rateWindowSeconds},
			// time_per_output_token: rank 95 of 100 between le=0.025 (50) and le=0.05 (100).
			{Signal: "inter_token_latency_seconds", Quantile: 0.95, Match: pod("vllm-v0-0"), Value: 0.025 + 0.025*45/50},
		}},
		{"vLLM V1 data-parallel", []want{
			{Signal: "requests_running", Match: pod("vllm-v1-0"), Count: 1}, // router series dropped
			{Signal: "requests_running", Match: pod("vllm-v1-0"), Value: 3 + 5},
			{Signal: "requests_waiting", Match: pod("vllm-v1-0"), Value: 0 + 4},
			{Signal: "kv_cache_usage_ratio", Match: pod("vllm-v1-0"), Value: (0.4 + 0.6) / 2}, // not the deprecated 0.9
			{Signal: "prompt_tokens_per_second", Match: pod("vllm-v1-0"), Value: (600.0 + 300) / rateWindowSeconds},
			{Signal: "prefix_cache_hit_ratio", Match: pod("vllm-v1-0"), Value: (30.0 + 30) / (100 + 100)},
			{Signal: "request_outcomes_per_second", Match: pod("vllm-v1-0", "finished_reason", "stop"), Value: (90.0 + 60) / rateWindowSeconds},
			{Signal: "request_outcomes_per_second", Match: pod("vllm-v1-0", "finished_reason", "abort"), Value: 3.0 / rateWindowSeconds},
			// Buckets summed over engines: le=0.1: 20, le=0.5: 40, +Inf: 40.
			{Signal: "ttft_seconds", Quantile: 0.5, Match: pod("vllm-v1-0"), Value: 0.1},
			{Signal: "ttft_seconds", Quantile: 0.75, Match: pod("vllm-v1-0"), Value: 0.1 + 0.4*(30-20)/20},
			{Signal: "ttft_seconds", Match: pod("vllm-v1-0"), Count: 3},
		}},
		{"SGLang", []want{
			{Signal: "requests_running", Match: pod("sglang-0", "model_name", "m-sg"), Value: 4},
			{Signal: "requests_waiting", Match: pod("sglang-0"), Value: 2},
			{Signal: "kv_cache_usage_ratio", Match: pod("sglang-0"), Value: 0.7},
			{Signal: "prefix_cache_hit_ratio", Match: pod("sglang-0"), Value: 0.2},
			{Signal: "spec_decode_acceptance_ratio", Match: pod("sglang-0"), Value: 0.65},
			{Signal: "generation_tokens_per_second", Match: pod("sglang-0"), Value: 6000.0 / rateWindowSeconds},
			{Signal: "request_outcomes_per_second", Match: pod("sglang-0", "finished_reason", "abort"), Value: 30.0 / rateWindowSeconds},
		}},
		{"llama.cpp", []want{
			{Signal: "requests_running", Match: pod("llama-0", "model_name", ""), Value: 1},
			{Signal: "requests_waiting", Match: pod("llama-0"), Value: 2},
			{Signal: "prompt_tokens_per_second", Match: pod("llama-0"), Value: 3000.0 / rateWindowSeconds},
			{Signal: "generation_tokens_per_second", Match: pod("llama-0"), Value: 1500.0 / rateWindowSeconds},
			{Signal: "kv_cache_usage_ratio", Match: pod("llama-0"), Absent: true},
		}},
		{"dcgm honorLabels on, Hostname", []want{
			{Signal: "gpu_busy_ratio", Match: m("uuid", "GPU-a", "hostname", "node-1", "gpu", "0"), Value: 0.8}, // PROF wins over GPU_UTIL 95
			{Signal: "gpu_busy_ratio", Match: m("uuid", "GPU-b"), Value: 0.1},
			{Signal: "gpu_framebuffer_used_bytes", Match: m("uuid", "GPU-a"), Value: 70000 * 1048576},
			{Signal: "gpu_pod", Match: m("uuid", "GPU-a", "pod", "vllm-v1-0", "namespace", "team-a", "container", "main"), Count: 1},
			{Signal: "gpu_pod", Match: m("uuid", "GPU-b", "pod", "", "namespace", ""), Count: 1}, // idle: not gpu-operator's
			{Signal: "gpu_busy_ratio", Match: m("uuid", "GPU-f"), Value: 0.5},                    // time-sliced: one GPU
			{Signal: "gpu_pod", Match: m("uuid", "GPU-f"), Count: 2},
		}},
		{"dcgm honorLabels off, hostname", []want{
			{Signal: "gpu_busy_ratio", Match: m("uuid", "GPU-c", "hostname", "node-2"), Value: 0.5},
			{Signal: "gpu_power_watts", Match: m("uuid", "GPU-c"), Value: 60.5},
			{Signal: "gpu_pod", Match: m("uuid", "GPU-c", "pod", "sglang-0", "namespace", "team-b", "container", "sglang"), Count: 1},
			{Signal: "gpu_pod", Match: m("uuid", "GPU-d", "pod", "", "namespace", ""), Count: 1},
		}},
		{"dcgm 1.x", []want{
			{Signal: "gpu_busy_ratio", Match: m("uuid", "GPU-e"), Value: 0.3},
			{Signal: "gpu_temperature_celsius", Match: m("uuid", "GPU-e"), Value: 61},
			{Signal: "gpu_pod", Match: m("uuid", "GPU-e", "pod", "llama-0", "namespace", "team-c", "container", "llama"), Count: 1},
		}},
		{"Kueue ClusterQueue, HA follower dropped", []want{
			{Signal: "queue_pending_workloads", Match: m("cluster_queue", "cq-a"), Value: 2 + 1},
			{Signal: "queue_admitted_workloads", Match: m("cluster_queue", "cq-a"), Value: 4},
			{Signal: "queue_used_gpus", Match: m("cluster_queue", "cq-a", "flavor", "h100"), Value: 6},
			{Signal: "queue_nominal_quota_gpus", Match: m("cluster_queue", "cq-a", "flavor", "h100"), Value: 8},
			{Signal: "queue_preempted_workloads_per_second", Match: m("cluster_queue", "cq-a", "reason", "InCohortReclamation"), Value: 3.0 / rateWindowSeconds},
			{Signal: "queue_evicted_workloads_per_second", Match: m("cluster_queue", "cq-a", "reason", "Preempted"), Value: 6.0 / rateWindowSeconds},
			// No ClusterQueue reservation metric: lq-a's (3), through its pods' labels.
			{Signal: "queue_reserved_gpus", Match: m("cluster_queue", "cq-a", "flavor", "h100"), Value: 3},
		}},
		{"Kueue LocalQueue, kube-state-metrics fallbacks", []want{
			{Signal: "namespace_used_gpus", Match: m("namespace", "team-a"), Count: 1}, // LocalQueue wins over pod requests
			{Signal: "namespace_used_gpus", Match: m("namespace", "team-a", "local_queue", "lq-a", "flavor", "h100"), Value: 2},
			{Signal: "namespace_used_gpus", Match: m("namespace", "team-b"), Value: 1},
			{Signal: "queue_used_gpus", Match: m("cluster_queue", "cq-b", "flavor", "l4"), Value: 1}, // from lq-b via pod labels
			{Signal: "queue_used_gpus", Match: m("cluster_queue", "cq-a"), Count: 1},                 // ClusterQueue metric wins over lq-a
			{Signal: "namespace_reserved_gpus", Match: m("namespace", "team-a", "local_queue", "lq-a"), Value: 3},
			{Signal: "namespace_pending_workloads", Match: m("namespace", "team-a", "local_queue", "lq-a"), Value: 1},
			{Signal: "namespace_team", Match: m("namespace", "team-a", "team", "alpha"), Count: 1},
			{Signal: "namespace_team", Count: 2},
			{Signal: "pod_queue", Match: m("namespace", "team-a", "pod", "vllm-v1-0", "local_queue", "lq-a", "cluster_queue", "cq-a"), Count: 1},
			{Signal: "pod_queue", Count: 2},
		}},
		{"topology and teams", []want{
			{Signal: "gpu_team", Match: m("uuid", "GPU-a", "team", "alpha", "namespace", "team-a", "pod", "vllm-v1-0"), Count: 1},
			{Signal: "gpu_team", Match: m("uuid", "GPU-c", "team", "beta", "pod", "sglang-0"), Count: 1},
			{Signal: "gpu_team", Match: m("uuid", "GPU-f", "team", "beta"), Count: 2},
			{Signal: "gpu_team", Count: 4}, // idle GPUs and team-c (no team label) have none
			{Signal: "team_used_gpus", Match: m("team", "alpha"), Value: 2},
			{Signal: "team_used_gpus", Match: m("team", "beta"), Value: 1},
			{Signal: "team_reserved_gpus", Match: m("team", "alpha"), Value: 3},
			{Signal: "team_pending_workloads", Match: m("team", "alpha"), Value: 1}, // LocalQueue wins over ClusterQueue (3)
			{Signal: "queue_team", Match: m("team", "alpha", "cluster_queue", "cq-a"), Count: 1},
			{Signal: "team_nominal_quota_gpus", Match: m("team", "alpha"), Value: 8},
			{Signal: "team_admitted_workloads", Match: m("team", "alpha"), Value: 4}, // no LocalQueue figure: ClusterQueue's
			{Signal: "team_preempted_workloads_per_second", Match: m("team", "alpha"), Value: 3.0 / rateWindowSeconds},
			{Signal: "team_nominal_quota_gpus", Match: m("team", "beta"), Absent: true},
			{Signal: "team_gpu_busy_ratio", Match: m("team", "alpha"), Value: 0.8},
			{Signal: "team_gpu_busy_ratio", Match: m("team", "beta"), Value: 0.5},
			{Signal: "team_requests_waiting", Match: m("team", "alpha"), Value: 4 + 1},
			{Signal: "team_requests_waiting", Match: m("team", "beta"), Value: 2},
		}},
		{"out of range: flagged, not clamped", []want{
			{Signal: "kv_cache_usage_ratio", Match: pod("bad-0"), Value: (1.3 + 0.5) / 2},
			{Signal: "kv_cache_usage_ratio", Check: true, Match: pod("bad-0", "engine", "0"), Value: 1.3},
			{Signal: "kv_cache_usage_ratio", Check: true, Count: 1},
			// 0 then -50 one minute later: rate extrapolates 90 s of -50/60 s over 300 s.
			{Signal: "generation_tokens_per_second", Match: pod("bad-0"), Value: -50 * 1.5 / rateWindowSeconds},
			{Signal: "generation_tokens_per_second", Check: true, Match: pod("bad-0", "engine", "0"), Value: -50 * 1.5 / rateWindowSeconds},
			{Signal: "generation_tokens_per_second", Check: true, Count: 1},
			{Signal: "requests_running", Check: true, Absent: true},
			{Signal: "gpu_busy_ratio", Check: true, Absent: true},
		}},
	}
	cat := newCatalog(t)
	st, eval := newStore(t)
	loadFiles(t, st, "testdata/variants", files)
	for _, tc := range tests {
		t.Run(tc.variant, func(t *testing.T) {
			t.Parallel()
			checkWants(t, cat, eval, tc.wants)
		})
	}
}
