package sim

import (
	"testing"
	"time"
)

// addGatewayFamilies adds the gateways' families to the reference schema:
// llm-d-router v0.10.0 pkg/epp/metrics/llm_d_router_metrics.go and
// metrics.go (deprecated names), and Dynamo's frontend
// (lib/runtime/src/metrics/prometheus_names.rs; labels as its capture
// dynamo-frontend-2026-01-*.prom shows them).
func addGatewayFamilies(add func(typ, labels string, names ...string)) {
	fq := "fairness_id priority inference_pool model_name target_model_name"
	obj := "model_name target_model_name fairness_id priority"
	add("gauge", fq, "llm_d_epp_flow_control_queue_size", "inference_extension_flow_control_queue_size")
	add("gauge", "inference_pool", "llm_d_epp_flow_control_pool_saturation", "inference_extension_flow_control_pool_saturation")
	add("gauge", "name", "llm_d_epp_ready_endpoints", "inference_pool_ready_pods")
	add("counter", obj, "llm_d_epp_request_total")
	add("counter", obj+" error_code", "llm_d_epp_request_error_total")
	add("gauge", obj, "llm_d_epp_request_running")
	add("counter", "model_name target_model_name priority", "inference_objective_request_total")
	add("counter", "model_name target_model_name error_code", "inference_objective_request_error_total")
	add("gauge", "model_name", "inference_objective_running_requests")
	add("counter", "endpoint model request_type status", "dynamo_frontend_requests_total")
	add("gauge", "model", "dynamo_frontend_queued_requests", "dynamo_frontend_inflight_requests")
	add("gauge", "worker_type", "dynamo_frontend_router_queue_pending_requests")
	add("histogram", "model", "dynamo_frontend_time_to_first_token_seconds", "dynamo_frontend_inter_token_latency_seconds")
	add("counter", "model", "dynamo_frontend_output_tokens_total")
}

// TestGatewayHoldsWhenSaturated checks the gateway model: behind a
// saturated pool the gateway's queue grows while each engine's own queue
// stays at the gateway's depth, the rendered queue equals what the gateway
// holds, requests are conserved (held + dispatched = arrived), and a pool
// with headroom holds nothing.
func TestGatewayHoldsWhenSaturated(t *testing.T) {
	t.Parallel()
	c := newTestCluster(t, "gateway-backlog", 16)
	c.Step(c.Start().Add(8 * time.Minute))
	for _, d := range c.deps {
		g := d.cfg.gw
		if g == nil {
			t.Fatalf("%s: no gateway", d.spec.Name)
		}
		var arrived, errs float64
		for i := range g.tenants {
			arrived += g.requests[i]
			errs += g.errors[i]
		}
		if arrived == 0 {
			t.Fatalf("%s: no request reached the gateway", d.spec.Name)
		}
		for _, e := range poolEngines(d) {
			if len(e.waiting) > g.depth {
				t.Errorf("%s: an engine has %d waiting, above the gateway's depth %d", d.spec.Name, len(e.waiting), g.depth)
			}
		}
		saturated := d.spec.Name != "search-llama-8b"
		if held := len(g.held); saturated && held < 100 || !saturated && held > 0 {
			t.Errorf("%s: the gateway holds %d requests (saturated %v)", d.spec.Name, held, saturated)
		}
		b, err := c.RenderBytes("/targets/gateway/" + d.spec.Name + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		var queued float64
		for _, s := range parseExposition(t, b) {
			switch s.name {
			case "llm_d_epp_flow_control_queue_size", "dynamo_frontend_router_queue_pending_requests":
				queued += s.value
			}
		}
		if queued != float64(len(g.held)) {
			t.Errorf("%s: rendered queue %v, the gateway holds %d", d.spec.Name, queued, len(g.held))
		}
	}
}
