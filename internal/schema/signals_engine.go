package schema

// engineExtra are the labels engine signals keep besides the pod key.
func engineExtra(more ...string) []string { return append([]string{"model_name"}, more...) }

// engineSignals are the per engine pod and model signals. Counter sources are
// rated over 5m; vLLM selectors exclude production-stack router series, which
// reuse the vllm: prefix with a server label.
func engineSignals() []Signal {
	return []Signal{
		{
			Name: "requests_running", Help: "Requests in the engine's running batch.",
			Unit: UnitRequests, Kind: KindGauge, Level: LevelPod, Agg: AggSum, Extra: engineExtra(), Range: NonNegative(),
			Sources: []Source{
				{Exporter: "vllm", Versions: "V0, V1, current", Expr: `vllm:num_requests_running{server=""}`},
				{Exporter: "sglang", Versions: "all", Expr: `max without (tp_rank, pp_rank, moe_ep_rank) (sglang:num_running_reqs)`},
				{Exporter: "tgi", Versions: "all", Expr: `tgi_batch_current_size`},
				{Exporter: "llamacpp", Versions: "all", Expr: `llamacpp:requests_processing`},
			},
		},
		{
			Name: "requests_waiting", Help: "Requests queued in the engine, not yet scheduled.",
			Unit: UnitRequests, Kind: KindGauge, Level: LevelPod, Agg: AggSum, Extra: engineExtra(), Range: NonNegative(),
			Sources: []Source{
				{Exporter: "vllm", Versions: "V0, V1, current", Expr: `vllm:num_requests_waiting{server=""}`},
				{Exporter: "sglang", Versions: "all", Expr: `max without (tp_rank, pp_rank, moe_ep_rank) (sglang:num_queue_reqs)`},
				{Exporter: "tgi", Versions: "all", Expr: `tgi_queue_size`},
				{Exporter: "llamacpp", Versions: "all", Expr: `llamacpp:requests_deferred`},
			},
		},
		{
			Name: "kv_cache_usage_ratio", Help: "Fraction of the KV cache in use (0–1), averaged over data-parallel engines.",
			Unit: UnitRatio, Kind: KindRatio, Level: LevelPod, Agg: AggAvg, Extra: engineExtra(), Range: UnitInterval(),
			Sources: []Source{
				{Exporter: "vllm", Versions: "V1 ≥0.9, current", Expr: `vllm:kv_cache_usage_perc{server=""}`, Note: "a 0–1 fraction despite the name"},
				{Exporter: "vllm", Versions: "V0, V1 <0.11", Expr: `vllm:gpu_cache_usage_perc{server=""}`, Note: "deprecated 0.9, gone from 0.11; both names in 0.9–0.10, the new one wins"},
				{Exporter: "sglang", Versions: "all", Expr: `max without (tp_rank, pp_rank, moe_ep_rank) (sglang:token_usage)`},
				{Exporter: "llamacpp", Versions: "older builds", Expr: `llamacpp:kv_cache_usage_ratio`},
				{Exporter: "tgi", Versions: "all", Expr: `tgi_batch_current_max_tokens`, Denominator: `tgi_batch_max_total_tokens`, Note: "a proxy: the running batch's token budget over the KV pool's"},
			},
		},
		{
			Name: "prompt_tokens_per_second", Help: "Prompt (prefill) tokens processed per second.",
			Unit: UnitTokensPerSecond, Kind: KindRate, Level: LevelPod, Agg: AggSum, Extra: engineExtra(), Range: NonNegative(),
			Sources: []Source{
				{Exporter: "vllm", Versions: "V0, V1, current", Expr: `rate(vllm:prompt_tokens_total{server=""}[5m])`},
				{Exporter: "sglang", Versions: "all", Expr: `rate(sglang:prompt_tokens_total[5m])`},
				{Exporter: "llamacpp", Versions: "all", Expr: `rate(llamacpp:prompt_tokens_total[5m])`},
				{Exporter: "tgi", Versions: "all", Expr: `rate(tgi_request_input_length_sum[5m])`, Note: "counted when a request finishes"},
			},
		},
		{
			Name: "generation_tokens_per_second", Help: "Generated (decode) tokens per second.",
			Unit: UnitTokensPerSecond, Kind: KindRate, Level: LevelPod, Agg: AggSum, Extra: engineExtra(), Range: NonNegative(),
			Sources: []Source{
				{Exporter: "vllm", Versions: "V0, V1, current", Expr: `rate(vllm:generation_tokens_total{server=""}[5m])`},
				{Exporter: "sglang", Versions: "all", Expr: `rate(sglang:generation_tokens_total[5m])`},
				{Exporter: "llamacpp", Versions: "all", Expr: `rate(llamacpp:tokens_predicted_total[5m])`},
				{Exporter: "tgi", Versions: "all", Expr: `rate(tgi_request_generated_tokens_sum[5m])`, Note: "counted when a request finishes"},
			},
		},
		{
			Name: "ttft_seconds", Help: "Time to first token: per-second rate of histogram buckets (le kept).",
			Unit: UnitSeconds, Kind: KindHistogram, Level: LevelPod, Agg: AggBuckets, Extra: engineExtra(), Range: NonNegative(),
			Sources: []Source{
				{Exporter: "vllm", Versions: "V0, V1, current", Expr: `rate(vllm:time_to_first_token_seconds_bucket{server=""}[5m])`, Buckets: vllmTTFTBuckets},
				{Exporter: "sglang", Versions: "all", Expr: `rate(sglang:time_to_first_token_seconds_bucket[5m])`, Buckets: sglangTTFTBuckets},
			},
		},
		{
			Name: "inter_token_latency_seconds", Help: "Time between output tokens: per-second rate of histogram buckets (le kept).",
			Unit: UnitSeconds, Kind: KindHistogram, Level: LevelPod, Agg: AggBuckets, Extra: engineExtra(), Range: NonNegative(),
			Sources: []Source{
				{Exporter: "vllm", Versions: "≥0.11, current", Expr: `rate(vllm:inter_token_latency_seconds_bucket{server=""}[5m])`, Buckets: vllmITLBuckets},
				{Exporter: "vllm", Versions: "V0, V1 ≤0.11; 0.12 only with --show-hidden-metrics-for-version=0.11; gone 0.13", Expr: `rate(vllm:time_per_output_token_seconds_bucket{server=""}[5m])`, Note: "deprecated 0.11, hidden from 0.12; same observations as inter_token_latency; not request_time_per_output_token, which is a per-request mean", Buckets: vllmITLBuckets},
				{Exporter: "sglang", Versions: "current", Expr: `rate(sglang:inter_token_latency_seconds_bucket[5m])`, Buckets: sglangITLBuckets},
				{Exporter: "sglang", Versions: "early 2025", Expr: `rate(sglang:time_per_output_token_seconds_bucket[5m])`},
				{Exporter: "tgi", Versions: "all", Expr: `rate(tgi_request_mean_time_per_token_duration_bucket[5m])`, Note: "per-request mean time per token"},
			},
		},
		{
			Name: "tpot_seconds", Help: "Time per output token, one observation per finished request (its mean): per-second rate of histogram buckets (le kept).",
			Unit: UnitSeconds, Kind: KindHistogram, Level: LevelPod, Agg: AggBuckets, Extra: engineExtra(), Range: NonNegative(),
			Sources: []Source{
				{Exporter: "vllm", Versions: "≥0.11, current", Expr: `rate(vllm:request_time_per_output_token_seconds_bucket{server=""}[5m])`, Note: "one observation per finished request, its mean time per output token (vllm/v1/metrics/loggers.py, 0.11 on; buckets: buckets.py inter_token_latency family), unlike inter_token_latency's per-step intervals", Buckets: vllmITLBuckets},
				{Exporter: "tgi", Versions: "all", Expr: `rate(tgi_request_mean_time_per_token_duration_bucket[5m])`, Note: "per-request mean time per token"},
			},
		},
		{
			Name: "e2e_latency_seconds", Help: "End-to-end request latency: per-second rate of histogram buckets (le kept).",
			Unit: UnitSeconds, Kind: KindHistogram, Level: LevelPod, Agg: AggBuckets, Extra: engineExtra(), Range: NonNegative(),
			Sources: []Source{
				{Exporter: "vllm", Versions: "V0, V1, current", Expr: `rate(vllm:e2e_request_latency_seconds_bucket{server=""}[5m])`, Buckets: vllmRequestLatencyBuckets},
				{Exporter: "sglang", Versions: "all", Expr: `rate(sglang:e2e_request_latency_seconds_bucket[5m])`, Buckets: sglangE2EBuckets},
				{Exporter: "tgi", Versions: "all", Expr: `rate(tgi_request_duration_bucket[5m])`},
			},
		},
		{
			Name: "queue_time_seconds", Help: "Time requests spent waiting before running: per-second rate of histogram buckets (le kept).",
			Unit: UnitSeconds, Kind: KindHistogram, Level: LevelPod, Agg: AggBuckets, Extra: engineExtra(), Range: NonNegative(),
			Sources: []Source{
				{Exporter: "vllm", Versions: "V1, current", Expr: `rate(vllm:request_queue_time_seconds_bucket{server=""}[5m])`},
				{Exporter: "sglang", Versions: "current", Expr: `rate(sglang:queue_time_seconds_bucket[5m])`},
				{Exporter: "tgi", Versions: "all", Expr: `rate(tgi_request_queue_duration_bucket[5m])`},
			},
		},
		{
			Name: "preemptions_per_second", Help: "Requests preempted (vLLM) or retracted (SGLang) per second.",
			Unit: UnitPerSecond, Kind: KindRate, Level: LevelPod, Agg: AggSum, Extra: engineExtra(), Range: NonNegative(),
			Sources: []Source{
				{Exporter: "vllm", Versions: "V0, V1, current", Expr: `rate(vllm:num_preemptions_total{server=""}[5m])`},
				{Exporter: "sglang", Versions: "current", Expr: `rate(sglang:num_retracted_requests_total[5m])`, Note: "retraction is SGLang's preemption"},
			},
		},
		{
			Name: "prefix_cache_hit_ratio", Help: "Share of prefix-cache lookups that hit (0–1).",
			Unit: UnitRatio, Kind: KindRatio, Level: LevelPod, Agg: AggAvg, Extra: engineExtra(), Range: UnitInterval(),
			Sources: []Source{
				{Exporter: "vllm", Versions: "V1 ≥0.9, current", Expr: `rate(vllm:prefix_cache_hits_total{server=""}[5m])`, Denominator: `rate(vllm:prefix_cache_queries_total{server=""}[5m])`, Note: "counted in tokens"},
				{Exporter: "vllm", Versions: "V1 <0.11", Expr: `rate(vllm:gpu_prefix_cache_hits_total{server=""}[5m])`, Denominator: `rate(vllm:gpu_prefix_cache_queries_total{server=""}[5m])`, Note: "counted in blocks before 0.9"},
				{Exporter: "vllm", Versions: "V0", Expr: `vllm:gpu_prefix_cache_hit_rate{server=""} >= 0`, Note: "-1 when prefix caching is disabled; those series are dropped"},
				{Exporter: "sglang", Versions: "all", Expr: `max without (tp_rank, pp_rank, moe_ep_rank) (sglang:cache_hit_rate)`},
			},
		},
		{
			Name: "spec_decode_acceptance_ratio", Help: "Share of speculative draft tokens accepted (0–1).",
			Unit: UnitRatio, Kind: KindRatio, Level: LevelPod, Agg: AggAvg, Extra: engineExtra(), Range: UnitInterval(),
			Sources: []Source{
				{Exporter: "vllm", Versions: "V1, current", Expr: `rate(vllm:spec_decode_num_accepted_tokens_total{server=""}[5m])`, Denominator: `rate(vllm:spec_decode_num_draft_tokens_total{server=""}[5m])`},
				{Exporter: "vllm", Versions: "V0", Expr: `vllm:spec_decode_draft_acceptance_rate{server=""}`},
				{Exporter: "sglang", Versions: "current", Expr: `max without (tp_rank, pp_rank, moe_ep_rank) (sglang:spec_accept_rate)`},
			},
		},
		{
			Name: "iteration_tokens_per_step", Help: "Mean tokens (prompt and generated) per engine step: at pure decode, the running batch each step carries.",
			Unit: UnitTokens, Kind: KindGauge, Level: LevelPod, Agg: AggAvg, Extra: engineExtra(), Range: NonNegative(),
			Sources: []Source{
				// A histogram despite the _total name: _sum over _count.
				{Exporter: "vllm", Versions: "V1, current", Expr: `rate(vllm:iteration_tokens_total_sum{server=""}[5m])`, Denominator: `rate(vllm:iteration_tokens_total_count{server=""}[5m])`},
			},
		},
		{
			Name: "request_outcomes_per_second", Help: "Finished requests per second by finished_reason (stop, length, abort, ...).",
			Unit: UnitPerSecond, Kind: KindRate, Level: LevelPod, Agg: AggSum, Extra: engineExtra("finished_reason"), Range: NonNegative(),
			Sources: []Source{
				{Exporter: "vllm", Versions: "V0, V1, current", Expr: `rate(vllm:request_success_total{server=""}[5m])`, Note: "counts aborts too, despite the name"},
				{Exporter: "sglang", Versions: "current", Expr: `label_replace(rate(sglang:num_aborted_requests_total[5m]), "finished_reason", "abort", "", "")`, Note: "aborts only; SGLang has no per-reason counter"},
			},
		},
	}
}
