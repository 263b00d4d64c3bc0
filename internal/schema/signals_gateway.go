package schema

// Inference gateways: llm-d's endpoint picker (EPP, the llm-d-router that
// continues the Gateway API Inference Extension) and NVIDIA Dynamo's
// frontend. Both hold requests before any engine sees them, so their queue
// is demand the engines' own queues never show. Names, types and labels are
// those of llm-d-router v0.10.0 (pkg/epp/metrics/llm_d_router_metrics.go,
// pkg/epp/metrics/metrics.go for the deprecated inference_* names,
// pkg/epp/framework/plugins/scheduling/profilehandler/disagg/metrics.go) and
// of ai-dynamo/dynamo lib/runtime/src/metrics/prometheus_names.rs; see
// docs/signals.md for the citations.

// Exporter names of the gateways and of Dynamo's worker component.
const (
	ExporterEPP            = "llm-d-epp"
	ExporterDynamoFrontend = "dynamo-frontend"
	ExporterDynamo         = "dynamo"
)

// gatewayExporters are the gateways' metric name prefixes. The EPP's
// deprecated families (inference_objective_*, inference_pool_*,
// inference_extension_*, and GAIE ≤ v0.5's inference_model_*) and the
// scheduler's llm_d_inference_scheduler_* are the same program.
func gatewayExporters() []Exporter {
	return []Exporter{
		{Name: ExporterEPP, Prefixes: []string{"llm_d_epp_", "inference_objective_", "inference_pool_", "inference_extension_", "inference_model_", "llm_d_inference_scheduler_"}},
		{Name: ExporterDynamoFrontend, Prefixes: []string{"dynamo_frontend_"}},
		{Name: ExporterDynamo, Prefixes: []string{"dynamo_component_"}},
	}
}

// eppModel makes model_name the served model: the EPP's target_model_name
// (after any rewrite) when set, else the requested model_name, so gateway
// series join the engines' model_name.
func eppModel() []Alias {
	return []Alias{{Canonical: "model_name", From: []string{"target_model_name"}}}
}

// eppPool names the pool label of the pool gauges (`name`) inference_pool,
// as the flow-control families call it.
func eppPool() []Alias {
	return []Alias{{Canonical: "inference_pool", From: []string{"name"}}}
}

// dynamoModel maps Dynamo's OpenAI-style `model` label onto model_name.
// The frontend lower-cases it on request metrics (a capture shows
// model="qwen/qwen3-0.6b" for Qwen/Qwen3-0.6B).
func dynamoModel() []Alias {
	return []Alias{{Canonical: "model_name", From: []string{"model"}}}
}

// gatewayExtra are the labels gateway queue signals keep besides the pod
// key: the served model, the EPP's InferencePool and its fairness_id (the
// tenant flow control queues by, mapped to a team by the gateway's tenant
// map in servescope.yml).
func gatewayExtra(more ...string) []string {
	return append([]string{"model_name", "inference_pool", "fairness_id"}, more...)
}

// gatewaySignals are the per gateway pod signals.
func gatewaySignals() []Signal {
	const (
		eppNew   = "llm-d-router ≥0.9 (llm_d_epp_*)"
		eppOld   = "llm-d-router ≤0.10, deprecated from 0.9 (inference_*)"
		gaieOld  = "gateway-api-inference-extension ≤0.5 (inference_model_*)"
		frontend = "≥0.7 (dynamo_frontend_*)"
	)
	return []Signal{
		{
			Name: "gateway_queued_requests", Help: "Requests held in the gateway's queue that no engine has seen yet (unmet demand).",
			Unit: UnitRequests, Kind: KindGauge, Level: LevelPod, Agg: AggSum, Extra: gatewayExtra(), Range: NonNegative(), DedupeOnKey: true,
			Sources: []Source{
				{Exporter: ExporterEPP, Versions: eppNew, Expr: `llm_d_epp_flow_control_queue_size`, Relabel: eppModel(),
					Note: "flow control only (feature gate); labels fairness_id, priority, inference_pool, model_name, target_model_name"},
				{Exporter: ExporterEPP, Versions: eppOld, Expr: `inference_extension_flow_control_queue_size`, Relabel: eppModel(), Note: "dual-emitted with the llm_d_epp_ name; the new one wins"},
				{Exporter: ExporterDynamoFrontend, Versions: "with --router-queue-threshold", Expr: `dynamo_frontend_router_queue_pending_requests`,
					Note: "requests pending in the KV router's queue, labelled worker_type only (no model)"},
			},
		},
		{
			Name: "gateway_pool_saturation", Help: "The EPP's saturation of an InferencePool: 1 is the set point at which flow control holds requests, above 1 oversubscribed.",
			Unit: UnitRatio, Kind: KindGauge, Level: LevelPod, Agg: AggMax, Extra: []string{"inference_pool"}, Range: NonNegative(), DedupeOnKey: true,
			Sources: []Source{
				{Exporter: ExporterEPP, Versions: eppNew, Expr: `llm_d_epp_flow_control_pool_saturation`, Note: "label inference_pool only; an empty pool reads 1.0"},
				{Exporter: ExporterEPP, Versions: eppOld, Expr: `inference_extension_flow_control_pool_saturation`},
			},
		},
		{
			Name: "gateway_ready_endpoints", Help: "Ready model-server endpoints in the gateway's InferencePool.",
			Unit: UnitRequests, Kind: KindGauge, Level: LevelPod, Agg: AggMax, Extra: []string{"inference_pool"}, Range: NonNegative(), DedupeOnKey: true,
			Sources: []Source{
				{Exporter: ExporterEPP, Versions: eppNew, Expr: `llm_d_epp_ready_endpoints`, Relabel: eppPool(), Note: "pool label `name`"},
				{Exporter: ExporterEPP, Versions: eppOld, Expr: `inference_pool_ready_pods`, Relabel: eppPool()},
			},
		},
		{
			Name: "gateway_requests_per_second", Help: "Requests the gateway received per second.",
			Unit: UnitPerSecond, Kind: KindRate, Level: LevelPod, Agg: AggSum, Extra: []string{"model_name", "fairness_id"}, Range: NonNegative(), DedupeOnKey: true,
			Sources: []Source{
				{Exporter: ExporterEPP, Versions: eppNew, Expr: `rate(llm_d_epp_request_total[5m])`, Relabel: eppModel()},
				{Exporter: ExporterEPP, Versions: eppOld, Expr: `rate(inference_objective_request_total[5m])`, Relabel: eppModel(), Note: "no fairness_id"},
				{Exporter: ExporterEPP, Versions: gaieOld, Expr: `rate(inference_model_request_total[5m])`, Relabel: eppModel()},
				{Exporter: ExporterDynamoFrontend, Versions: frontend, Expr: `rate(dynamo_frontend_requests_total[5m])`, Relabel: dynamoModel(), Note: "every status"},
			},
		},
		{
			Name: "gateway_request_errors_per_second", Help: "Requests the gateway answered with an error, per second.",
			Unit: UnitPerSecond, Kind: KindRate, Level: LevelPod, Agg: AggSum, Extra: []string{"model_name", "fairness_id"}, Range: NonNegative(), DedupeOnKey: true,
			Sources: []Source{
				{Exporter: ExporterEPP, Versions: eppNew, Expr: `rate(llm_d_epp_request_error_total[5m])`, Relabel: eppModel()},
				{Exporter: ExporterEPP, Versions: eppOld, Expr: `rate(inference_objective_request_error_total[5m])`, Relabel: eppModel()},
				{Exporter: ExporterEPP, Versions: gaieOld, Expr: `rate(inference_model_request_error_total[5m])`, Relabel: eppModel()},
				{Exporter: ExporterDynamoFrontend, Versions: frontend, Expr: `rate(dynamo_frontend_requests_total{status="error"}[5m])`, Relabel: dynamoModel()},
			},
		},
		{
			Name: "gateway_inflight_requests", Help: "Requests the gateway has dispatched to an engine and not finished.",
			Unit: UnitRequests, Kind: KindGauge, Level: LevelPod, Agg: AggSum, Extra: []string{"model_name"}, Range: NonNegative(), DedupeOnKey: true,
			Sources: []Source{
				{Exporter: ExporterEPP, Versions: eppNew, Expr: `llm_d_epp_request_running`, Relabel: eppModel()},
				{Exporter: ExporterEPP, Versions: eppOld, Expr: `inference_objective_running_requests`},
				{Exporter: ExporterEPP, Versions: gaieOld, Expr: `inference_model_running_requests`},
				{Exporter: ExporterDynamoFrontend, Versions: frontend, Expr: `dynamo_frontend_inflight_requests`, Relabel: dynamoModel()},
			},
		},
		{
			Name: "gateway_awaiting_first_token_requests", Help: "Requests at the Dynamo frontend still waiting for their first token: held at the frontend, queued in an engine or in prefill.",
			Unit: UnitRequests, Kind: KindGauge, Level: LevelPod, Agg: AggSum, Extra: []string{"model_name"}, Range: NonNegative(),
			Sources: []Source{
				{Exporter: ExporterDynamoFrontend, Versions: frontend, Expr: `dynamo_frontend_queued_requests`, Relabel: dynamoModel(),
					Note: "counts requests already in an engine too, so it is not the gateway's unmet demand (gateway_queued_requests is)"},
			},
		},
		{
			Name: "gateway_pd_decisions_per_second", Help: "The EPP's prefill/decode routing decisions per second, by decision_type (decode-only, prefill-decode).",
			Unit: UnitPerSecond, Kind: KindRate, Level: LevelPod, Agg: AggSum, Extra: []string{"model_name", "decision_type"}, Range: NonNegative(), DedupeOnKey: true,
			Sources: []Source{
				{Exporter: ExporterEPP, Versions: eppNew, Expr: `rate(llm_d_epp_pd_decision_total[5m])`},
				{Exporter: ExporterEPP, Versions: eppOld, Expr: `rate(llm_d_inference_scheduler_pd_decision_total[5m])`},
			},
		},
		{
			Name: "gateway_ttft_seconds", Help: "Time to first token seen at the gateway (gateway queue included): per-second rate of histogram buckets (le kept).",
			Unit: UnitSeconds, Kind: KindHistogram, Level: LevelPod, Agg: AggBuckets, Extra: []string{"model_name"}, Range: NonNegative(),
			Sources: []Source{
				{Exporter: ExporterDynamoFrontend, Versions: frontend, Expr: `rate(dynamo_frontend_time_to_first_token_seconds_bucket[5m])`, Relabel: dynamoModel()},
				{Exporter: ExporterEPP, Versions: eppNew, Expr: `rate(llm_d_epp_request_ttft_seconds_bucket[5m])`, Relabel: eppModel(), Note: "streaming requests"},
			},
		},
		{
			Name: "gateway_inter_token_latency_seconds", Help: "Time between output tokens seen at the gateway: per-second rate of histogram buckets (le kept).",
			Unit: UnitSeconds, Kind: KindHistogram, Level: LevelPod, Agg: AggBuckets, Extra: []string{"model_name"}, Range: NonNegative(),
			Sources: []Source{
				{Exporter: ExporterDynamoFrontend, Versions: frontend, Expr: `rate(dynamo_frontend_inter_token_latency_seconds_bucket[5m])`, Relabel: dynamoModel()},
			},
		},
		{
			Name: "gateway_output_tokens_per_second", Help: "Output tokens the gateway streamed per second.",
			Unit: UnitTokensPerSecond, Kind: KindRate, Level: LevelPod, Agg: AggSum, Extra: []string{"model_name"}, Range: NonNegative(),
			Sources: []Source{
				{Exporter: ExporterDynamoFrontend, Versions: frontend, Expr: `rate(dynamo_frontend_output_tokens_total[5m])`, Relabel: dynamoModel()},
			},
		},
	}
}

// withDynamoWorkers adds Dynamo's worker component as the last source of the
// engine signals it maps to: a Dynamo worker also exposes its engine's own
// vllm:/sglang: families, which win per pod; the component's figures fill in
// for engines the catalog does not read (TensorRT-LLM).
func withDynamoWorkers(sigs []Signal) []Signal {
	for i := range sigs {
		s := &sigs[i]
		switch s.Name {
		case "kv_cache_usage_ratio":
			// The component's series carry no model_name before 2026, so they
			// would sit beside the engine's own: they count only on pods
			// without an engine family the catalog reads.
			s.Sources = append(s.Sources, Source{Exporter: ExporterDynamo, Versions: "worker component",
				Expr:    `dynamo_component_kvstats_gpu_cache_usage_percent unless on (namespace, pod, instance) (vllm:kv_cache_usage_perc or vllm:gpu_cache_usage_perc or sglang:token_usage or llamacpp:kv_cache_usage_ratio)`,
				Relabel: dynamoModel(), Note: "a 0–1 fraction despite the name; only where no engine family is read (e.g. TensorRT-LLM workers)"})
		}
	}
	return sigs
}

// Citation says where a group of metric names was checked: the upstream
// file at a tagged version (or commit) and the lines declaring them.
type Citation struct {
	Names  string
	Source string
}

// citations are the upstream declarations of the names read above;
// docs/signals.md lists them.
func citations() []Citation {
	const router = "https://github.com/llm-d/llm-d-router/blob/v0.10.0/"
	const dynamo = "https://github.com/ai-dynamo/dynamo/blob/04070c75b52f33346a2d5723eed93a0093e77bad/"
	return []Citation{
		{Names: "`llm_d_epp_flow_control_queue_size{fairness_id,priority,inference_pool,model_name,target_model_name}`, `llm_d_epp_flow_control_pool_saturation{inference_pool}` (no `stage` label at this tag), `llm_d_epp_ready_endpoints{name}`, `llm_d_epp_request_total`, `llm_d_epp_request_error_total`, `llm_d_epp_request_running`, `llm_d_epp_request_ttft_seconds` (subsystem `llm_d_epp`)",
			Source: "llm-d-router v0.10.0 [pkg/epp/metrics/llm_d_router_metrics.go](" + router + "pkg/epp/metrics/llm_d_router_metrics.go) lines 28, 40–56, 121–154, 237–245, 354–386; later main renames the subsystem `llm_d_router_epp` (not yet read)"},
		{Names: "deprecated `inference_extension_flow_control_queue_size`, `inference_extension_flow_control_pool_saturation`, `inference_pool_ready_pods{name}`, `inference_objective_request_total`, `inference_objective_request_error_total`, `inference_objective_running_requests`, dual-emitted (`IncFlowControlQueueSize` sets both names)",
			Source: "llm-d-router v0.10.0 [pkg/epp/metrics/metrics.go](" + router + "pkg/epp/metrics/metrics.go) lines 37–54, 237–244, 345–378, 900–934; captures `llm-d-epp-v0.10.0rc1-*.prom` in ../shared/samples"},
		{Names: "`llm_d_epp_pd_decision_total{plugin_name,plugin_type,model_name,decision_type}`, deprecated `llm_d_inference_scheduler_pd_decision_total{model_name,decision_type}`",
			Source: "llm-d-router v0.10.0 [pkg/epp/framework/plugins/scheduling/profilehandler/disagg/metrics.go](" + router + "pkg/epp/framework/plugins/scheduling/profilehandler/disagg/metrics.go) lines 41–66"},
		{Names: "`inference_model_request_total`, `inference_model_request_error_total`, `inference_model_running_requests` (before the InferenceObjective rename)",
			Source: "gateway-api-inference-extension v0.5.1 pkg/epp/metrics/testdata (capture `gaie-epp-v0.5.1-*.prom` in ../shared/samples)"},
		{Names: "`dynamo_frontend_{requests_total,queued_requests,inflight_requests,time_to_first_token_seconds,inter_token_latency_seconds,output_tokens_total}` (label `model`, lower-cased on request metrics), `dynamo_frontend_router_queue_pending_requests{worker_type}`, `dynamo_component_kvstats_gpu_cache_usage_percent` (0–1)",
			Source: "ai-dynamo/dynamo [lib/runtime/src/metrics/prometheus_names.rs](" + dynamo + "lib/runtime/src/metrics/prometheus_names.rs) modules `frontend_service` and `kvstats`; captures `dynamo-frontend-2026-01-*.prom` and `dynamo-*-worker-*.prom` in ../shared/samples"},
	}
}
