package schema

import (
	"strings"
	"testing"

	"github.com/prometheus/prometheus/model/labels"
)

// TestSamplesPD reads the Dynamo worker captures in ../shared/samples
// (vLLM and SGLang under Dynamo) for the role, KV-transfer and newer engine
// signals, with values read off the files by hand.
func TestSamplesPD(t *testing.T) {
	t.Parallel()
	const qwen = "Qwen/Qwen3-0.6B"
	m := labelMap
	tests := []sampleCase{
		{
			file: "dynamo-vllm-worker-2026-01-metrics_examples-vllm-ai-dynamo.prom",
			wants: []want{
				{Signal: "requests_running", Match: m("model_name", qwen), Value: 0},
				// sleep_state="awake" is 1: no engine asleep.
				{Signal: "engine_asleep_ratio", Match: m("model_name", qwen), Value: 0},
				{Signal: "engine_asleep_ratio", Count: 1},
				// 0 hits of 66 queried tokens (LMCache connector loaded).
				{Signal: "external_prefix_cache_hit_ratio", Match: m("model_name", qwen), Value: 0},
				{Signal: "kv_cache_config", Match: m("engine", "0", "block_size", "16", "num_gpu_blocks", "5943"), Value: 1},
				// No NIXL connector, no role label on an aggregated worker.
				{Signal: "kv_transfer_latency_seconds", Absent: true},
				{Signal: "kv_transfer_failures_per_second", Absent: true},
				{Signal: "pod_role", Absent: true},
				{Signal: "requests_waiting_by_reason", Absent: true},
			},
		},
		{
			file: "dynamo-vllm-worker-2026-03-eks-h100-sampled-aicr-fork.prom",
			wants: []want{
				{Signal: "engine_asleep_ratio", Match: m("model_name", qwen), Value: 0},
			},
		},
		{
			file: "sglang-2026-01-dynamo-worker-metrics_examples-sglang-ai-dynamo.prom",
			wants: []want{
				{Signal: "pod_role", Match: m("role", "unified"), Value: 1},
				{Signal: "pod_role", Count: 1},
				{Signal: "requests_running", Match: m("model_name", qwen), Value: 0},
				{Signal: "kv_cache_capacity_tokens", Match: m("model_name", qwen), Value: 92962},
				{Signal: "kv_transfer_queue_requests", Count: 4},
				{Signal: "kv_transfer_queue_requests", Match: m("queue", "decode_transfer"), Value: 0},
				{Signal: "kv_transfer_queue_requests", Match: m("queue", "prefill_inflight"), Value: 0},
				// A unified worker transfers nothing: its 0 ms gauge is no latency.
				{Signal: "kv_transfer_latency_seconds", Absent: true},
				{Signal: "kv_transfer_speed_bytes_per_second", Absent: true},
				// gpu_execution_seconds_total is not in this capture.
				{Signal: "gpu_execution_seconds_per_second", Absent: true},
			},
		},
	}
	checkSamples(t, "sample:9090", tests)
}

// pdSourceLines are exposition lines for the names no capture in
// ../shared/samples holds, written as the cited sources declare them:
//   - vLLM's NIXL connector (vllm/distributed/kv_transfer/kv_connector/v1/nixl_connector.py,
//     NixlPromMetrics; docs/usage/metrics.md "NIXL KV Connector Metrics"): histograms
//     vllm:nixl_xfer_time_seconds and vllm:nixl_bytes_transferred, counters
//     vllm:nixl_num_failed_transfers and vllm:nixl_num_kv_expired_reqs, labels model_name, engine;
//   - vLLM loggers.py: vllm:num_requests_waiting_by_reason{reason}, vllm:engine_sleep_state{sleep_state};
//   - SGLang python/sglang/srt/metrics/collector.py: the kv_transfer_latency_ms histogram,
//     num_transfer_failed_reqs_total, gpu_execution_seconds_total{category}, engine_type and
//     the rank labels (every TP rank reporting with --enable-metrics-for-all-schedulers);
//   - TGI docs/source/reference/metrics.md: tgi_batch_current_max_tokens, tgi_batch_max_total_tokens;
//   - kube-state-metrics kube_pod_labels with llm-d's llm-d.ai/role allowlisted.
const pdSourceLines = `# TYPE vllm:nixl_xfer_time_seconds histogram
vllm:nixl_xfer_time_seconds_bucket{engine="0",model_name="m",le="0.1"} 40
vllm:nixl_xfer_time_seconds_bucket{engine="0",model_name="m",le="+Inf"} 50
vllm:nixl_xfer_time_seconds_sum{engine="0",model_name="m"} 6
vllm:nixl_xfer_time_seconds_count{engine="0",model_name="m"} 50
# TYPE vllm:nixl_bytes_transferred histogram
vllm:nixl_bytes_transferred_bucket{engine="0",model_name="m",le="+Inf"} 50
vllm:nixl_bytes_transferred_sum{engine="0",model_name="m"} 3e+09
vllm:nixl_bytes_transferred_count{engine="0",model_name="m"} 50
# TYPE vllm:nixl_num_failed_transfers counter
vllm:nixl_num_failed_transfers_total{engine="0",model_name="m"} 3
# TYPE vllm:nixl_num_kv_expired_reqs counter
vllm:nixl_num_kv_expired_reqs_total{engine="0",model_name="m"} 6
# TYPE vllm:num_requests_waiting_by_reason gauge
vllm:num_requests_waiting_by_reason{engine="0",model_name="m",reason="capacity"} 2
vllm:num_requests_waiting_by_reason{engine="0",model_name="m",reason="deferred"} 5
# TYPE vllm:engine_sleep_state gauge
vllm:engine_sleep_state{engine="0",model_name="m",sleep_state="awake"} 0
vllm:engine_sleep_state{engine="0",model_name="m",sleep_state="weights_offloaded"} 1
vllm:engine_sleep_state{engine="0",model_name="m",sleep_state="discard_all"} 0
vllm:engine_sleep_state{engine="1",model_name="m",sleep_state="awake"} 1
vllm:engine_sleep_state{engine="1",model_name="m",sleep_state="weights_offloaded"} 0
vllm:engine_sleep_state{engine="1",model_name="m",sleep_state="discard_all"} 0
`

const pdSGLangLines = `# TYPE sglang:num_running_reqs gauge
sglang:num_running_reqs{engine_type="decode",model_name="s",moe_ep_rank="0",pp_rank="0",tp_rank="0",dp_rank="0"} 7
sglang:num_running_reqs{engine_type="decode",model_name="s",moe_ep_rank="0",pp_rank="0",tp_rank="1",dp_rank="0"} 7
sglang:num_running_reqs{engine_type="decode",model_name="s",moe_ep_rank="0",pp_rank="0",tp_rank="2",dp_rank="1"} 4
sglang:num_running_reqs{engine_type="decode",model_name="s",moe_ep_rank="0",pp_rank="0",tp_rank="3",dp_rank="1"} 4
# TYPE sglang:num_decode_transfer_queue_reqs gauge
sglang:num_decode_transfer_queue_reqs{engine_type="decode",model_name="s",moe_ep_rank="0",pp_rank="0",tp_rank="0"} 9
sglang:num_decode_transfer_queue_reqs{engine_type="decode",model_name="s",moe_ep_rank="0",pp_rank="0",tp_rank="1"} 9
# TYPE sglang:kv_transfer_latency_ms histogram
sglang:kv_transfer_latency_ms_bucket{engine_type="decode",model_name="s",tp_rank="0",le="+Inf"} 20
sglang:kv_transfer_latency_ms_sum{engine_type="decode",model_name="s",tp_rank="0"} 9000
sglang:kv_transfer_latency_ms_count{engine_type="decode",model_name="s",tp_rank="0"} 20
# TYPE sglang:num_transfer_failed_reqs counter
sglang:num_transfer_failed_reqs_total{engine_type="decode",model_name="s",tp_rank="0"} 30
sglang:num_transfer_failed_reqs_total{engine_type="decode",model_name="s",tp_rank="1"} 30
# TYPE sglang:gpu_execution_seconds counter
sglang:gpu_execution_seconds_total{category="forward_decode",engine_type="decode",model_name="s",tp_rank="0"} 150
`

const pdKSMLines = `# TYPE kube_pod_labels gauge
kube_pod_labels{namespace="serve",pod="p-prefill-0",label_llm_d_ai_role="prefill",uid="u1"} 1
kube_pod_labels{namespace="serve",pod="p-decode-0",label_llm_d_ai_role="decode",uid="u2"} 1
kube_pod_labels{namespace="serve",pod="other",uid="u3"} 1
`

// TestPDSourceLines checks the catalog against lines written from the
// cited sources (see pdSourceLines): names, types and labels as declared.
func TestPDSourceLines(t *testing.T) {
	t.Parallel()
	cat, err := New(Options{})
	if err != nil {
		t.Fatal(err)
	}
	st, eval := newStore(t)
	app := st.AppenderV2(t.Context())
	loadExposition(t, app, []byte(pdSourceLines), labels.FromStrings("instance", "v:8000", "job", "vllm", "namespace", "serve", "pod", "vllm-decode-0"))
	loadExposition(t, app, []byte(pdSGLangLines), labels.FromStrings("instance", "s:30000", "job", "sglang", "namespace", "serve", "pod", "sglang-decode-0"))
	loadExposition(t, app, []byte(`# TYPE tgi_batch_current_max_tokens gauge
tgi_batch_current_max_tokens 2000
# TYPE tgi_batch_max_total_tokens gauge
tgi_batch_max_total_tokens 8000
`), labels.FromStrings("instance", "t:80", "job", "tgi", "namespace", "serve", "pod", "tgi-0"))
	loadExposition(t, app, []byte(pdKSMLines), labels.FromStrings("instance", "ksm:8080", "job", "kube-state-metrics"))
	if err := app.Commit(); err != nil {
		t.Fatal(err)
	}
	m := func(kv ...string) map[string]string {
		out := map[string]string{}
		for i := 0; i+1 < len(kv); i += 2 {
			out[kv[i]] = kv[i+1]
		}
		return out
	}
	checkWants(t, cat, eval, []want{
		// 6 s over 50 transfers; 3 GB over 6 s.
		{Signal: "kv_transfer_latency_seconds", Match: m("pod", "vllm-decode-0"), Value: 6.0 / 50},
		{Signal: "kv_transfer_speed_bytes_per_second", Match: m("pod", "vllm-decode-0"), Value: 3e9 / 6},
		{Signal: "kv_transfer_failures_per_second", Match: m("pod", "vllm-decode-0"), Value: 3.0 / rateWindowSeconds},
		{Signal: "kv_expired_requests_per_second", Match: m("pod", "vllm-decode-0"), Value: 6.0 / rateWindowSeconds},
		{Signal: "requests_waiting_by_reason", Match: m("pod", "vllm-decode-0", "reason", "deferred"), Value: 5},
		{Signal: "requests_waiting_by_reason", Match: m("pod", "vllm-decode-0", "reason", "capacity"), Value: 2},
		// One engine of two asleep (weights offloaded).
		{Signal: "engine_asleep_ratio", Match: m("pod", "vllm-decode-0"), Value: 0.5},
		// SGLang: TP ranks of one DP group count once, DP groups add up.
		{Signal: "requests_running", Match: m("pod", "sglang-decode-0"), Value: 7 + 4},
		{Signal: "kv_transfer_queue_requests", Match: m("pod", "sglang-decode-0", "queue", "decode_transfer"), Value: 9},
		{Signal: "kv_transfer_latency_seconds", Match: m("pod", "sglang-decode-0"), Value: 9000.0 / 20 / 1000},
		{Signal: "kv_transfer_failures_per_second", Match: m("pod", "sglang-decode-0"), Value: 30.0 / rateWindowSeconds},
		{Signal: "gpu_execution_seconds_per_second", Match: m("pod", "sglang-decode-0", "category", "forward_decode"), Value: 150.0 / rateWindowSeconds},
		{Signal: "pod_role", Match: m("pod", "sglang-decode-0", "role", "decode"), Value: 1},
		// llm-d's role from the pod label; pods without it have none.
		{Signal: "pod_role", Match: m("pod", "p-prefill-0", "role", "prefill"), Value: 1},
		{Signal: "pod_role", Match: m("pod", "p-decode-0", "role", "decode"), Value: 1},
		{Signal: "pod_role", Match: m("pod", "other"), Absent: true},
		// TGI's KV proxy: the batch's token budget over the pool's.
		{Signal: "kv_cache_usage_ratio", Match: m("pod", "tgi-0"), Value: 0.25},
		{Signal: "kv_cache_capacity_tokens", Match: m("pod", "tgi-0"), Value: 8000},
	})
}

// TestRolePodLabel: the pod_role source reads the kube-state-metrics name
// of RolePodLabel, the label the generated allowlist names.
func TestRolePodLabel(t *testing.T) {
	t.Parallel()
	cat, err := New(Options{})
	if err != nil {
		t.Fatal(err)
	}
	srcs, err := cat.Explain("pod_role")
	if err != nil {
		t.Fatal(err)
	}
	want := ksmLabelName(RolePodLabel)
	for _, s := range srcs {
		if s.Source.Exporter == "kube-state-metrics" && strings.Contains(s.Query, want+`!=""`) {
			return
		}
	}
	t.Errorf("no kube-state-metrics source of pod_role reads %s", want)
}
