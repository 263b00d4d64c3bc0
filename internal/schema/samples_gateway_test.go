package schema

import (
	"slices"
	"strings"
	"testing"

	"github.com/prometheus/prometheus/model/labels"
)

// TestGatewaySamples loads the real captures of the inference gateways and
// of Dynamo's workers in ../shared/samples and checks the gateway signals
// against values read off the files by hand.
func TestGatewaySamples(t *testing.T) {
	t.Parallel()
	m := labelMap
	tests := []sampleCase{
		{
			file: "llm-d-epp-v0.10.0rc1-llm_d_epp-testdata-llm-d-router.prom",
			wants: []want{
				// model_name is the served target_model_name; fairness_id kept.
				{Signal: "gateway_requests_per_second", Match: m("model_name", "t10", "fairness_id", "tenant-a"), Value: 2.0 / rateWindowSeconds},
				{Signal: "gateway_requests_per_second", Match: m("model_name", "t20", "fairness_id", "tenant-c"), Value: 1.0 / rateWindowSeconds},
				{Signal: "gateway_requests_per_second", Count: 3},
				{Signal: "gateway_request_errors_per_second", Match: m("model_name", "t10"), Value: 2.0 / rateWindowSeconds},
				{Signal: "gateway_request_errors_per_second", Count: 3},
				{Signal: "gateway_inflight_requests", Match: m("model_name", "t1"), Value: 1},
				{Signal: "gateway_inflight_requests", Match: m("model_name", "t2"), Value: 1},
				// The queue gauge has no fixture (emitted through a collector).
				{Signal: "gateway_queued_requests", Absent: true},
				{Signal: "requests_running", Absent: true},
			},
		},
		{
			file: "llm-d-epp-v0.10.0rc1-deprecated-inference_-testdata-llm-d-router.prom",
			wants: []want{
				{Signal: "gateway_requests_per_second", Match: m("model_name", "t10", "fairness_id", ""), Value: 2.0 / rateWindowSeconds},
				{Signal: "gateway_requests_per_second", Match: m("model_name", "t11"), Value: 1.0 / rateWindowSeconds},
				{Signal: "gateway_request_errors_per_second", Match: m("model_name", "t20"), Value: 1.0 / rateWindowSeconds},
				{Signal: "gateway_inflight_requests", Match: m("model_name", "m1"), Value: 1},
				{Signal: "gateway_inflight_requests", Count: 2},
			},
		},
		{
			file: "gaie-epp-v0.5.1-inference_model-testdata-gateway-api-inference-extension.prom",
			wants: []want{
				{Signal: "gateway_requests_per_second", Match: m("model_name", "t10"), Value: 2.0 / rateWindowSeconds},
				{Signal: "gateway_requests_per_second", Count: 3},
				{Signal: "gateway_request_errors_per_second", Match: m("model_name", "t11"), Value: 1.0 / rateWindowSeconds},
				{Signal: "gateway_inflight_requests", Match: m("model_name", "m2"), Value: 1},
			},
		},
		{
			file: "dynamo-frontend-2026-01-metrics_examples-fe-ai-dynamo.prom",
			wants: []want{
				// The frontend lower-cases the model on request metrics.
				{Signal: "gateway_requests_per_second", Match: m("model_name", "qwen/qwen3-0.6b"), Value: 1.0 / rateWindowSeconds},
				{Signal: "gateway_request_errors_per_second", Absent: true},
				{Signal: "gateway_inflight_requests", Match: m("model_name", "qwen/qwen3-0.6b"), Value: 0},
				{Signal: "gateway_awaiting_first_token_requests", Match: m("model_name", "qwen/qwen3-0.6b"), Value: 0},
				{Signal: "gateway_output_tokens_per_second", Match: m("model_name", "qwen/qwen3-0.6b"), Value: 300.0 / rateWindowSeconds},
				// One TTFT of 1.56 s, in the (1, 2.2] bucket.
				{Signal: "gateway_ttft_seconds", Quantile: 0.5, Match: m("model_name", "qwen/qwen3-0.6b"), Value: 1.6},
				{Signal: "gateway_inter_token_latency_seconds", Match: m("model_name", "qwen/qwen3-0.6b"), Count: 14}, // 14 buckets, le kept
				// No router queue without --router-queue-threshold: not reported, not 0.
				{Signal: "gateway_queued_requests", Absent: true},
			},
		},
		{
			file: "dynamo-trtllm-worker-2026-01-metrics_examples-trtllm-ai-dynamo.prom",
			wants: []want{
				// TensorRT-LLM's own families are not read: the component's KV fills in.
				{Signal: "kv_cache_usage_ratio", Value: 0},
			},
		},
		{
			file: "dynamo-vllm-worker-2026-01-metrics_examples-vllm-ai-dynamo.prom",
			wants: []want{
				// vLLM's own gauge wins; the component's is not added beside it.
				{Signal: "kv_cache_usage_ratio", Count: 1},
				{Signal: "kv_cache_usage_ratio", Match: m("model_name", "Qwen/Qwen3-0.6B"), Value: 0},
			},
		},
	}
	checkSamples(t, "sample:9090", tests)
}

// TestGatewaySourceLines checks the gateway names no capture holds against
// exposition written from the cited source lines: the name, type and label
// set each declaration registers.
//
//   - llm-d-router v0.10.0 pkg/epp/metrics/llm_d_router_metrics.go:
//     llm_d_epp_flow_control_queue_size (GaugeVec; fairness_id, priority,
//     inference_pool, model_name, target_model_name),
//     llm_d_epp_flow_control_pool_saturation (GaugeVec; inference_pool),
//     llm_d_epp_ready_endpoints (GaugeVec; poolLabels = name).
//   - pkg/epp/metrics/metrics.go: the deprecated
//     inference_extension_flow_control_queue_size (same labels),
//     dual-emitted by IncFlowControlQueueSize.
//   - pkg/epp/framework/plugins/scheduling/profilehandler/disagg/metrics.go:
//     llm_d_epp_pd_decision_total (CounterVec; plugin_name, plugin_type,
//     model_name, decision_type).
//   - ai-dynamo/dynamo lib/runtime/src/metrics/prometheus_names.rs
//     (frontend_service::ROUTER_QUEUE_PENDING_REQUESTS, gauge per
//     worker_type).
func TestGatewaySourceLines(t *testing.T) {
	t.Parallel()
	const epp = `# TYPE llm_d_epp_flow_control_queue_size gauge
llm_d_epp_flow_control_queue_size{fairness_id="team-a",priority="0",inference_pool="pool-1",model_name="llama",target_model_name="meta-llama/Llama-3.1-8B-Instruct"} 7
llm_d_epp_flow_control_queue_size{fairness_id="team-b",priority="0",inference_pool="pool-1",model_name="llama",target_model_name="meta-llama/Llama-3.1-8B-Instruct"} 3
# TYPE inference_extension_flow_control_queue_size gauge
inference_extension_flow_control_queue_size{fairness_id="team-a",priority="0",inference_pool="pool-1",model_name="llama",target_model_name="meta-llama/Llama-3.1-8B-Instruct"} 7
inference_extension_flow_control_queue_size{fairness_id="team-b",priority="0",inference_pool="pool-1",model_name="llama",target_model_name="meta-llama/Llama-3.1-8B-Instruct"} 3
# TYPE llm_d_epp_flow_control_pool_saturation gauge
llm_d_epp_flow_control_pool_saturation{inference_pool="pool-1"} 1.25
# TYPE inference_extension_flow_control_pool_saturation gauge
inference_extension_flow_control_pool_saturation{inference_pool="pool-1"} 1.25
# TYPE llm_d_epp_ready_endpoints gauge
llm_d_epp_ready_endpoints{name="pool-1"} 4
# TYPE inference_pool_ready_pods gauge
inference_pool_ready_pods{name="pool-1"} 4
# TYPE llm_d_epp_pd_decision_total counter
llm_d_epp_pd_decision_total{plugin_name="pd",plugin_type="pd-profile-handler",model_name="llama",decision_type="prefill-decode"} 60
llm_d_epp_pd_decision_total{plugin_name="pd",plugin_type="pd-profile-handler",model_name="llama",decision_type="decode-only"} 30
# TYPE llm_d_inference_scheduler_pd_decision_total counter
llm_d_inference_scheduler_pd_decision_total{model_name="llama",decision_type="prefill-decode"} 60
llm_d_inference_scheduler_pd_decision_total{model_name="llama",decision_type="decode-only"} 30
`
	const frontend = `# TYPE dynamo_frontend_router_queue_pending_requests gauge
dynamo_frontend_router_queue_pending_requests{worker_type="prefill"} 5
dynamo_frontend_router_queue_pending_requests{worker_type="decode"} 2
`
	llama := "meta-llama/Llama-3.1-8B-Instruct"
	eppTarget := labels.FromStrings("instance", "epp:9090", "job", "epp", "namespace", "serving", "pod", "epp-0")
	feTarget := labels.FromStrings("instance", "fe:8000", "job", "fe", "namespace", "serving", "pod", "frontend-0")
	cat, err := New(Options{})
	if err != nil {
		t.Fatal(err)
	}
	st, eval := newStore(t)
	app := st.AppenderV2(t.Context())
	loadExposition(t, app, []byte(epp), eppTarget)
	loadExposition(t, app, []byte(frontend), feTarget)
	if err := app.Commit(); err != nil {
		t.Fatal(err)
	}
	checkWants(t, cat, eval, []want{
		// The dual-emitted deprecated names are not counted twice.
		{Signal: "gateway_queued_requests", Match: map[string]string{"pod": "epp-0", "fairness_id": "team-a", "model_name": llama, "inference_pool": "pool-1"}, Value: 7},
		{Signal: "gateway_queued_requests", Match: map[string]string{"pod": "epp-0", "fairness_id": "team-b"}, Value: 3},
		{Signal: "gateway_queued_requests", Match: map[string]string{"pod": "epp-0"}, Count: 2},
		// Dynamo's router queue has no model: its worker types add up.
		{Signal: "gateway_queued_requests", Match: map[string]string{"pod": "frontend-0", "model_name": ""}, Value: 7},
		{Signal: "gateway_pool_saturation", Match: map[string]string{"inference_pool": "pool-1"}, Value: 1.25},
		{Signal: "gateway_ready_endpoints", Match: map[string]string{"inference_pool": "pool-1"}, Value: 4},
		{Signal: "gateway_pd_decisions_per_second", Match: map[string]string{"decision_type": "prefill-decode"}, Value: 60.0 / rateWindowSeconds},
		{Signal: "gateway_pd_decisions_per_second", Count: 2},
	})

	// Only the new names, then only the deprecated ones: each alone feeds
	// the signal.
	for _, keep := range [][]string{{"llm_d_epp_"}, {"inference_", "llm_d_inference_scheduler_"}} {
		var lines []string
		for l := range strings.SplitSeq(epp, "\n") {
			name := strings.TrimPrefix(l, "# TYPE ")
			if slices.ContainsFunc(keep, func(p string) bool { return strings.HasPrefix(name, p) }) {
				lines = append(lines, l)
			}
		}
		st, eval := newStore(t)
		app := st.AppenderV2(t.Context())
		loadExposition(t, app, []byte(strings.Join(lines, "\n")+"\n"), eppTarget)
		if err := app.Commit(); err != nil {
			t.Fatal(err)
		}
		checkWants(t, cat, eval, []want{
			{Signal: "gateway_queued_requests", Match: map[string]string{"fairness_id": "team-a"}, Value: 7},
			{Signal: "gateway_pool_saturation", Value: 1.25},
			{Signal: "gateway_ready_endpoints", Value: 4},
			{Signal: "gateway_pd_decisions_per_second", Match: map[string]string{"decision_type": "decode-only"}, Value: 30.0 / rateWindowSeconds},
		})
	}
}

// TestRecognizeGateways checks that the gateways and Dynamo's workers are
// recognised by their families, and that a Dynamo worker running vLLM is
// still a vLLM target.
func TestRecognizeGateways(t *testing.T) {
	t.Parallel()
	cat, err := New(Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		families []string
		exporter string
		signal   string
	}{
		{[]string{"llm_d_epp_flow_control_queue_size", "llm_d_epp_request_total", "inference_extension_flow_control_queue_size", "go_goroutines"}, ExporterEPP, "gateway_queued_requests"},
		{[]string{"inference_model_request_total", "inference_pool_average_queue_size"}, ExporterEPP, "gateway_requests_per_second"},
		{[]string{"dynamo_frontend_requests_total", "dynamo_frontend_queued_requests", "dynamo_frontend_inflight_requests"}, ExporterDynamoFrontend, "gateway_awaiting_first_token_requests"},
		{[]string{"dynamo_component_kvstats_gpu_cache_usage_percent", "dynamo_component_requests_total"}, ExporterDynamo, "kv_cache_usage_ratio"},
		{[]string{"dynamo_component_requests_total", "vllm:num_requests_running", "vllm:kv_cache_usage_perc", "vllm:prompt_tokens_total"}, "vllm", "requests_running"},
	} {
		r := cat.Recognize(tc.families)
		if r.Exporter != tc.exporter || !slices.Contains(r.Signals, tc.signal) {
			t.Errorf("Recognize(%v) = %+v, want exporter %q feeding %s", tc.families, r, tc.exporter, tc.signal)
		}
	}
}
