package schema

// promptSourceSignals split the prompt tokens by how they were served,
// where the engine says so: computed on the GPU (prefill work), read from
// the engine's own prefix cache, or received from another engine's KV
// cache (disaggregated prefill). vllm:prompt_tokens_total and
// sglang:prompt_tokens_total count all three, so prompt_tokens_per_second
// is the sum; GPU prefill work is the computed part. Engines that do not
// say (llama.cpp, TGI) have no series: not reported, never zero.
func promptSourceSignals() []Signal {
	return []Signal{
		{
			Name: "prompt_tokens_computed_per_second", Help: "Prompt tokens whose KV the engine computed (prefill work on the GPU), per second.",
			Unit: UnitTokensPerSecond, Kind: KindRate, Level: LevelPod, Agg: AggSum, Extra: engineExtra(), Range: NonNegative(),
			Sources: []Source{
				{Exporter: "vllm", Versions: "recent V1 (documented in v0.18.1), current", Expr: `rate(vllm:prompt_tokens_by_source_total{server="",source="local_compute"}[5m])`, Note: "counter prompt_tokens_by_source{source} in vllm/v1/metrics/loggers.py (docs.vllm.ai v0.18.1 usage/metrics); local_compute + local_cache_hit + external_kv_transfer = prompt_tokens"},
				{Exporter: "sglang", Versions: "current (scheduler-side, updated each log interval)", Expr: `rate(sglang:realtime_tokens_total{mode="prefill_compute"}[5m])`, Note: "counter realtime_tokens_total{mode=prefill_compute|prefill_cache|decode} in python/sglang/srt/metrics/collector.py"},
				{Exporter: "sglang", Versions: "all (tokenizer-side)", Expr: `rate(sglang:prompt_tokens_total[5m]) - rate(sglang:cached_tokens_total[5m])`, Note: "prompt tokens less the cached ones"},
			},
		},
		{
			Name: "prompt_tokens_cached_per_second", Help: "Prompt tokens served from the engine's own prefix cache (no prefill work), per second.",
			Unit: UnitTokensPerSecond, Kind: KindRate, Level: LevelPod, Agg: AggSum, Extra: engineExtra(), Range: NonNegative(),
			Sources: []Source{
				{Exporter: "vllm", Versions: "recent V1 (documented in v0.18.1), current", Expr: `rate(vllm:prompt_tokens_by_source_total{server="",source="local_cache_hit"}[5m])`},
				{Exporter: "sglang", Versions: "current (scheduler-side, updated each log interval)", Expr: `rate(sglang:realtime_tokens_total{mode="prefill_cache"}[5m])`},
				{Exporter: "sglang", Versions: "all (tokenizer-side)", Expr: `rate(sglang:cached_tokens_total[5m])`, Note: "tokenizer-side counter cached_tokens_total in python/sglang/srt/metrics/collector.py"},
			},
		},
		{
			Name: "prompt_tokens_transferred_per_second", Help: "Prompt tokens whose KV came from another engine (external KV transfer, disaggregated prefill), per second.",
			Unit: UnitTokensPerSecond, Kind: KindRate, Level: LevelPod, Agg: AggSum, Extra: engineExtra(), Range: NonNegative(),
			Sources: []Source{
				{Exporter: "vllm", Versions: "recent V1 (documented in v0.18.1), current", Expr: `rate(vllm:prompt_tokens_by_source_total{server="",source="external_kv_transfer"}[5m])`},
			},
		},
	}
}
