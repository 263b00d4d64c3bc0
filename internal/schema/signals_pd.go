package schema

// Prefill/decode disaggregation: the worker role of each engine pod, the KV
// transfer between prefill and decode workers (vLLM's NIXL connector,
// SGLang's disaggregation), and the engines' newer state signals (sleep
// mode, KV capacity, the reasons requests wait).

// RolePodLabel is llm-d's pod label naming a worker's role (prefill,
// decode, both); kube-state-metrics exposes it on kube_pod_labels as
// label_llm_d_ai_role once allowlisted (--metric-labels-allowlist
// pods=[llm-d.ai/role], as the generated kube-state-metrics values do).
const RolePodLabel = "llm-d.ai/role"

// roleAlias maps an exporter's role label onto the canonical role label.
func roleAlias(from string) []Alias { return []Alias{{Canonical: "role", From: []string{from}}} }

// sglangRanks are SGLang's per-scheduler labels. With
// --enable-metrics-for-all-schedulers every TP (and PP, MoE-EP) rank of one
// data-parallel group reports the same scheduler state: the max over them
// counts each group once; dp_rank is kept, so data-parallel groups add up.
const sglangRanks = "tp_rank, pp_rank, moe_ep_rank"

// pdSignals are the role, KV-transfer and newer engine signals.
func pdSignals() []Signal {
	return []Signal{
		{
			Name: "pod_role", Help: "The pod's serving role: prefill, decode, or unified/aggregated/both for a worker that does both (value 1).",
			Unit: UnitInfo, Kind: KindInfo, Level: LevelPod, Agg: AggInfo, Key: []string{"namespace", "pod"}, Extra: []string{"role"},
			Sources: []Source{
				{Exporter: "sglang", Versions: "2025+", Expr: `sglang:num_running_reqs{engine_type!=""}`, Relabel: roleAlias("engine_type"),
					Note: "engine_type: unified, prefill or decode (--disaggregation-mode); sgl-project/sglang python/sglang/srt/metrics/collector.py@00ae9c15, capture sglang-2026-01-dynamo-worker"},
				{Exporter: "dynamo", Versions: "disaggregated workers", Expr: `dynamo_component_requests_total{worker_type!=""}`, Relabel: roleAlias("worker_type"),
					Note: "worker_type (aggregated, prefill, decode) as issue 23 names it; no capture in the samples carries it (the Dynamo worker captures are aggregated) and it is not confirmed in Dynamo's source: until a disaggregated worker's capture shows it, the llm-d pod label is the sure source"},
				{Exporter: "kube-state-metrics", Versions: "llm-d", Expr: `kube_pod_labels{label_llm_d_ai_role!=""}`, Relabel: roleAlias("label_llm_d_ai_role"),
					Note: "llm-d's pod label llm-d.ai/role (prefill, decode, both), allowlisted in kube-state-metrics (--metric-labels-allowlist=pods=[llm-d.ai/role]); vLLM itself exports no role"},
			},
		},
		{
			Name: "kv_transfer_latency_seconds", Help: "Mean time one KV-cache transfer between a prefill and a decode worker takes.",
			Unit: UnitSeconds, Kind: KindGauge, Level: LevelPod, Agg: AggAvg, Extra: engineExtra(), Range: NonNegative(),
			Sources: []Source{
				{Exporter: "vllm", Versions: "NIXL connector, ≥0.11", Expr: `rate(vllm:nixl_xfer_time_seconds_sum{server=""}[5m])`, Denominator: `rate(vllm:nixl_xfer_time_seconds_count{server=""}[5m])`,
					Note: "observed on the worker that reads the KV (decode); vllm-project/vllm nixl_connector.py NixlPromMetrics, docs/usage/metrics.md@044a0565 (NIXL KV Connector Metrics)"},
				{Exporter: "sglang", Versions: "current (histogram)", Expr: `rate(sglang:kv_transfer_latency_ms_sum[5m]) / 1000`, Denominator: `rate(sglang:kv_transfer_latency_ms_count[5m])`, Note: "a histogram in ms in current collector.py (SGLang docs production_metrics: kv_transfer_* Histogram)"},
				{Exporter: "sglang", Versions: "early 2026 (gauge)", Expr: `max without (` + sglangRanks + `) (sglang:kv_transfer_latency_ms{engine_type!="unified"}) / 1000`,
					Note: "the last transfer's latency; 0 on unified workers, which transfer nothing, so those are dropped"},
			},
		},
		{
			Name: "kv_transfer_speed_bytes_per_second", Help: "KV-cache transfer speed while transferring: bytes over transfer time.",
			Unit: UnitBytesPerSecond, Kind: KindGauge, Level: LevelPod, Agg: AggAvg, Extra: engineExtra(), Range: NonNegative(),
			Sources: []Source{
				{Exporter: "vllm", Versions: "NIXL connector, ≥0.11", Expr: `rate(vllm:nixl_bytes_transferred_sum{server=""}[5m])`, Denominator: `rate(vllm:nixl_xfer_time_seconds_sum{server=""}[5m])`},
				{Exporter: "sglang", Versions: "early 2026 (gauge)", Expr: `max without (` + sglangRanks + `) (sglang:kv_transfer_speed_gb_s{engine_type!="unified"}) * 1e9`,
					Note: "GB/s of the last transfer"},
			},
		},
		{
			Name: "kv_transfer_failures_per_second", Help: "KV-cache transfers that failed, per second.",
			Unit: UnitPerSecond, Kind: KindRate, Level: LevelPod, Agg: AggSum, Extra: engineExtra(), Range: NonNegative(),
			Sources: []Source{
				{Exporter: "vllm", Versions: "NIXL connector, ≥0.11", Expr: `rate(vllm:nixl_num_failed_transfers_total{server=""}[5m])`},
				{Exporter: "sglang", Versions: "2025+", Expr: `max without (` + sglangRanks + `) (rate(sglang:num_transfer_failed_reqs_total[5m]))`, Note: "requests whose transfer failed"},
			},
		},
		{
			Name: "kv_expired_requests_per_second", Help: "Requests whose prefilled KV expired on the prefill worker before the decode worker read it, per second.",
			Unit: UnitPerSecond, Kind: KindRate, Level: LevelPod, Agg: AggSum, Extra: engineExtra(), Range: NonNegative(),
			Sources: []Source{
				{Exporter: "vllm", Versions: "NIXL connector, ≥0.11", Expr: `rate(vllm:nixl_num_kv_expired_reqs_total{server=""}[5m])`,
					Note: "counted on the prefill worker (\"tracked on the P instance\", docs/usage/metrics.md@044a0565); the lease is kv_lease_duration"},
			},
		},
		{
			Name: "kv_transfer_queue_requests", Help: "Requests in SGLang's disaggregation queues, by queue: prefill_prealloc and prefill_inflight (prefill side: waiting for a decode slot, KV being sent), decode_prealloc and decode_transfer (decode side: waiting for KV).",
			Unit: UnitRequests, Kind: KindGauge, Level: LevelPod, Agg: AggSum, Extra: engineExtra("queue"), Range: NonNegative(),
			Sources: []Source{
				{Exporter: "sglang", Versions: "2025+", Expr: `label_replace(max without (` + sglangRanks + `) (sglang:num_prefill_prealloc_queue_reqs), "queue", "prefill_prealloc", "", "")`},
				{Exporter: "sglang", Versions: "2025+", Expr: `label_replace(max without (` + sglangRanks + `) (sglang:num_prefill_inflight_queue_reqs), "queue", "prefill_inflight", "", "")`},
				{Exporter: "sglang", Versions: "2025+", Expr: `label_replace(max without (` + sglangRanks + `) (sglang:num_decode_prealloc_queue_reqs), "queue", "decode_prealloc", "", "")`},
				{Exporter: "sglang", Versions: "2025+", Expr: `label_replace(max without (` + sglangRanks + `) (sglang:num_decode_transfer_queue_reqs), "queue", "decode_transfer", "", "")`},
			},
		},
		{
			Name: "engine_asleep_ratio", Help: "Share of the pod's engines that are asleep (sleep mode: weights offloaded or discarded); an asleep engine holds its GPU and serves nothing.",
			Unit: UnitRatio, Kind: KindRatio, Level: LevelPod, Agg: AggAvg, Extra: engineExtra(), Range: UnitInterval(),
			Sources: []Source{
				{Exporter: "vllm", Versions: "≥0.11", Expr: `1 - vllm:engine_sleep_state{server="",sleep_state="awake"}`,
					Note: "one 0/1 series per sleep_state (awake, weights_offloaded, discard_all) per engine; vllm/v1/metrics/loggers.py (0.11+), captures dynamo-vllm-worker-2026-01 and -03"},
			},
		},
		{
			Name: "external_prefix_cache_hit_ratio", Help: "Share of prompt tokens found in the KV connector's external (cross-instance) prefix cache (0–1).",
			Unit: UnitRatio, Kind: KindRatio, Level: LevelPod, Agg: AggAvg, Extra: engineExtra(), Range: UnitInterval(),
			Sources: []Source{
				{Exporter: "vllm", Versions: "≥0.11, with a KV connector", Expr: `rate(vllm:external_prefix_cache_hits_total{server=""}[5m])`, Denominator: `rate(vllm:external_prefix_cache_queries_total{server=""}[5m])`, Note: "counted in tokens; loggers.py 0.11+, capture dynamo-vllm-worker-2026-01"},
			},
		},
		{
			Name: "kv_cache_capacity_tokens", Help: "KV-cache capacity of the pod in tokens, for right-sizing.",
			Unit: UnitTokens, Kind: KindGauge, Level: LevelPod, Agg: AggSum, Extra: engineExtra(), Range: NonNegative(),
			Sources: []Source{
				{Exporter: "sglang", Versions: "all", Expr: `max without (` + sglangRanks + `) (sglang:max_total_num_tokens)`},
				{Exporter: "tgi", Versions: "all", Expr: `tgi_batch_max_total_tokens`, Note: "huggingface/text-generation-inference docs/source/reference/metrics.md@53fdbe61"},
			},
		},
		{
			Name: "kv_cache_config", Help: "vLLM's cache configuration per engine: block_size (tokens per block) and num_gpu_blocks; capacity in tokens is their product (value 1).",
			Unit: UnitInfo, Kind: KindInfo, Level: LevelPod, Agg: AggInfo, Extra: []string{"engine", "block_size", "num_gpu_blocks"},
			Sources: []Source{
				{Exporter: "vllm", Versions: "all (label set grows with CacheConfig)", Expr: `vllm:cache_config_info{server=""}`, Note: "no model_name label; labels are strings, so the product is the reader's; capture dynamo-vllm-worker-2026-01"},
			},
		},
		{
			Name: "requests_waiting_by_reason", Help: "Waiting requests split by reason: capacity (no KV or batch room) or deferred (e.g. waiting for remote KV).",
			Unit: UnitRequests, Kind: KindGauge, Level: LevelPod, Agg: AggSum, Extra: engineExtra("reason"), Range: NonNegative(),
			Sources: []Source{
				{Exporter: "vllm", Versions: "2026 main", Expr: `vllm:num_requests_waiting_by_reason{server=""}`, Note: "reason: capacity, deferred; sum = num_requests_waiting (loggers.py, 2026 main)"},
			},
		},
		{
			Name: "gpu_execution_seconds_per_second", Help: "Share of time the engine's GPU executed a forward pass, by category (forward_extend/prefill, forward_decode, ...).",
			Unit: UnitRatio, Kind: KindRate, Level: LevelPod, Agg: AggAvg, Extra: engineExtra("category"), Range: NonNegative(),
			Sources: []Source{
				{Exporter: "sglang", Versions: "2026", Expr: `rate(sglang:gpu_execution_seconds_total[5m])`, Note: "per scheduler rank, averaged over ranks; collector.py Counter labels + category (ForwardMode), SGLang test_metrics forward_extend/forward_decode"},
			},
		},
	}
}

// UnitBytesPerSecond is a transfer speed.
const UnitBytesPerSecond Unit = "bytes/s"
