package schema

import "testing"

// TestSamples loads each real capture in ../shared/samples into a TSDB and
// checks the catalog's queries against values read off the file by hand.
// Counters are loaded as 0 one minute before the file's value, so a 5m rate
// is value/300.
func TestSamples(t *testing.T) {
	t.Parallel()
	const (
		qwen  = "Qwen/Qwen2.5-Coder-1.5B-Instruct"
		llama = "meta-llama/Llama-3.1-8B-Instruct"
		h100  = "GPU-c4529c8d-69c4-b61d-e0bc-7b2460096005"
		t4    = "GPU-20c56d28-0da5-6d26-a36a-e7af1ce2586e"
	)
	m := labelMap
	tests := []sampleCase{
		{
			file: "vllm-v0.7-v0engine-aibrix-docs.prom",
			wants: []want{
				{Signal: "requests_running", Match: m("model_name", qwen), Value: 0},
				{Signal: "requests_waiting", Match: m("model_name", qwen), Value: 0},
				{Signal: "kv_cache_usage_ratio", Match: m("model_name", qwen), Value: 0},
				{Signal: "prompt_tokens_per_second", Match: m("model_name", qwen), Value: 148.0 / rateWindowSeconds},
				{Signal: "generation_tokens_per_second", Match: m("model_name", qwen), Value: 955.0 / rateWindowSeconds},
				{Signal: "preemptions_per_second", Match: m("model_name", qwen), Value: 0},
				{Signal: "request_outcomes_per_second", Match: m("model_name", qwen, "finished_reason", "stop"), Value: 4.0 / rateWindowSeconds},
				// gpu_prefix_cache_hit_rate is -1: prefix caching disabled, no value.
				{Signal: "prefix_cache_hit_ratio", Absent: true},
				// iteration_tokens_total is a histogram, not a token counter.
				{Signal: "ttft_seconds", Absent: true},
			},
		},
		{
			file: "vllm-v0.10.0-v1engine-production-stack-issue617.prom",
			wants: []want{
				// Only request_params_n and _created gauges: no signal, and the
				// _created timestamps are never read as counts.
				{Signal: "requests_running", Absent: true},
				{Signal: "prompt_tokens_per_second", Absent: true},
				{Signal: "request_outcomes_per_second", Absent: true},
			},
		},
		{
			file: "vllm-v1early-design-doc-example.prom",
			wants: []want{
				{Signal: "requests_running", Match: m("model_name", llama), Value: 8},
				{Signal: "generation_tokens_per_second", Match: m("model_name", llama), Value: 27453.0 / rateWindowSeconds},
				{Signal: "request_outcomes_per_second", Match: m("finished_reason", "stop"), Value: 1.0 / rateWindowSeconds},
				{Signal: "request_outcomes_per_second", Match: m("finished_reason", "length"), Value: 131.0 / rateWindowSeconds},
				{Signal: "request_outcomes_per_second", Match: m("finished_reason", "abort"), Value: 0},
				// The author elided the +Inf bucket: 8 finite buckets recorded.
				{Signal: "ttft_seconds", Match: m("model_name", llama), Count: 8},
			},
		},
		{
			file: "sglang-docs-production_metrics.prom",
			wants: []want{
				{Signal: "requests_running", Match: m("model_name", llama), Value: 162},
				{Signal: "requests_waiting", Match: m("model_name", llama), Value: 2826},
				{Signal: "kv_cache_usage_ratio", Match: m("model_name", llama), Value: 0.28},
				{Signal: "prompt_tokens_per_second", Match: m("model_name", llama), Value: 8.128902e+06 / rateWindowSeconds},
				{Signal: "generation_tokens_per_second", Match: m("model_name", llama), Value: 7.557572e+06 / rateWindowSeconds},
				{Signal: "prefix_cache_hit_ratio", Match: m("model_name", llama), Value: 0.007507552643049313},
				// 5504th of 11008 TTFTs lies beyond the 30 s bucket: the top finite bound.
				{Signal: "ttft_seconds", Quantile: 0.5, Match: m("model_name", llama), Value: 30},
				{Signal: "e2e_latency_seconds", Quantile: 0.5, Match: m("model_name", llama), Value: 60},
				// Old time_per_output_token: rank 3700378.5 between le=0.075 (433413) and le=0.1 (4950195).
				{Signal: "inter_token_latency_seconds", Quantile: 0.5, Match: m("model_name", llama), Value: 0.075 + 0.025*(7.400757e6*0.5-433413)/(4.950195e6-433413)},
				{Signal: "inter_token_latency_seconds", Quantile: 0.95, Match: m("model_name", llama), Value: 0.1 + 0.05*(7.400757e6*0.95-4.950195e6)/(7.039435e6-4.950195e6)},
				{Signal: "inter_token_latency_seconds", Match: m("model_name", llama), Count: 19},
				// func_latency_seconds{name=...} is not a request latency.
				{Signal: "queue_time_seconds", Absent: true},
			},
		},
		{
			file: "dcgm-datadog-t4-fixture.prom",
			wants: []want{
				{Signal: "gpu_busy_ratio", Match: m("uuid", t4, "hostname", "424773df46e0", "modelName", "Tesla T4"), Value: 0},
				{Signal: "gpu_memory_bandwidth_ratio", Match: m("uuid", t4), Value: 0},
				{Signal: "gpu_framebuffer_free_bytes", Match: m("uuid", t4), Value: 15109 * 1048576},
				{Signal: "gpu_framebuffer_used_bytes", Match: m("uuid", t4), Value: 0},
				{Signal: "gpu_power_watts", Match: m("uuid", t4), Value: 8.969},
				{Signal: "gpu_temperature_celsius", Match: m("uuid", t4), Value: 25},
				{Signal: "gpu_last_xid", Match: m("uuid", t4), Value: 0},
				{Signal: "gpu_pod", Match: m("uuid", t4, "pod", ""), Count: 1},
				{Signal: "gpu_tensor_active_ratio", Absent: true},
				// A T4 (Turing) has no HBM row remapping; the health collectors are off by default.
				{Signal: "gpu_row_remap_failure", Absent: true},
				{Signal: "gpu_xid_errors", Absent: true},
				{Signal: "gpu_health_status", Absent: true},
			},
		},
		{
			file: "dcgm-exporter-2025-11-rtx4000ada-podmapping-lke-ai-conformance.prom",
			wants: []want{
				{Signal: "gpu_row_remap_failure", Match: m("uuid", "GPU-a8394b51-c086-568a-9f1a-c1e1c934c44c", "hostname", "lke529760-766837-0a634ab30000"), Value: 0},
				{Signal: "gpu_uncorrectable_remapped_rows", Match: m("uuid", "GPU-a8394b51-c086-568a-9f1a-c1e1c934c44c"), Value: 0},
			},
		},
		{
			file: "dcgm-exporter-readme.prom",
			wants: []want{
				// Only clocks and memory temperature: the GPU is known, no signal.
				{Signal: "gpu_pod", Match: m("uuid", "GPU-604ac76c-d9cf-fef3-62e9-d92044ab6e52", "gpu", "0"), Count: 1},
				{Signal: "gpu_temperature_celsius", Absent: true},
			},
		},
		{
			file: "dcgm-nvidia-aicr-h100.prom",
			wants: []want{
				{Signal: "gpu_temperature_celsius", Count: 8},
				{Signal: "gpu_temperature_celsius", Match: m("uuid", h100, "gpu", "0", "hostname", "gpu-node-1"), Value: 30},
				{Signal: "gpu_temperature_celsius", Match: m("gpu", "7"), Value: 26},
				{Signal: "gpu_power_watts", Match: m("uuid", h100), Value: 113.611},
				{Signal: "gpu_power_watts", Match: m("gpu", "4"), Value: 68.717},
				{Signal: "gpu_busy_ratio", Count: 8},
				{Signal: "gpu_busy_ratio", Match: m("uuid", h100), Value: 0},
				// MEM_COPY_UTIL was captured for gpus 0-5 only.
				{Signal: "gpu_memory_bandwidth_ratio", Count: 6},
				{Signal: "gpu_pod", Match: m("uuid", h100, "pod", "vllm-agg-0-vllmdecodeworker-s65j5", "namespace", "dynamo-workload", "container", "main"), Count: 1},
				{Signal: "gpu_pod", Match: m("pod", ""), Count: 7},
			},
		},
	}
	checkSamples(t, "sample:9400", tests)
}
