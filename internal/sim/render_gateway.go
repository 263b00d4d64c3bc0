package sim

import (
	"strings"
)

// KindGateway is an inference gateway target (llm-d EPP or Dynamo frontend).
const KindGateway = "gateway"

// gatewayPodName names the gateway's pod after its deployment, as the llm-d
// and Dynamo charts do: <deployment>-epp-… or <deployment>-frontend-….
func gatewayPodName(dep, kind, rs, suffix string) string {
	if kind == GatewayDynamo {
		return dep + "-frontend-" + rs + "-" + suffix
	}
	return dep + "-epp-" + rs + "-" + suffix
}

// gatewayJob is the scrape job of a gateway kind.
func gatewayJob(kind string) string {
	if kind == GatewayDynamo {
		return "dynamo-frontend"
	}
	return "llm-d-epp"
}

// eppFamilies are the llm-d endpoint picker's families the simulator
// renders: llm-d-router v0.10.0 pkg/epp/metrics/llm_d_router_metrics.go and
// the deprecated names of pkg/epp/metrics/metrics.go it still dual-emits.
func eppFamilies() []famSpec {
	fq := []string{"fairness_id", "priority", "inference_pool", "model_name", "target_model_name"}
	obj := []string{"model_name", "target_model_name", "fairness_id", "priority"}
	g := func(n, h string, l ...string) famSpec { return famSpec{name: n, help: h, typ: gaugeT, labels: l} }
	ct := func(n, h string, l ...string) famSpec { return famSpec{name: n, help: h, typ: counterT, labels: l} }
	return []famSpec{
		g("llm_d_epp_flow_control_queue_size", "[ALPHA] Current number of requests actively held in the Flow Control queue.", fq...),
		g("inference_extension_flow_control_queue_size", "[ALPHA] [Deprecated: Use llm_d_epp_flow_control_queue_size] Current number of requests actively held in the Flow Control queue.", fq...),
		g("llm_d_epp_flow_control_pool_saturation", "[ALPHA] Pool saturation signal gating Flow Control dispatch. 1.0 is the gating set point; values above 1.0 indicate the magnitude of oversubscription past it.", "inference_pool"),
		g("inference_extension_flow_control_pool_saturation", "[ALPHA] [Deprecated: Use llm_d_epp_flow_control_pool_saturation] Pool saturation signal gating Flow Control dispatch.", "inference_pool"),
		g("llm_d_epp_ready_endpoints", "[ALPHA] The number of ready endpoints in the inference server pool.", "name"),
		g("inference_pool_ready_pods", "[ALPHA] [Deprecated: Use llm_d_epp_ready_endpoints] The number of ready pods in the inference server pool.", "name"),
		ct("llm_d_epp_request_total", "[ALPHA] Total number of processed requests.", obj...),
		ct("inference_objective_request_total", "[ALPHA] [Deprecated: Use llm_d_epp_request_total] Counter of inference objective requests broken out for each model and target model.", "model_name", "target_model_name", "priority"),
		ct("llm_d_epp_request_error_total", "[ALPHA] Total number of request errors.", append(append([]string{}, obj...), "error_code")...),
		ct("inference_objective_request_error_total", "[ALPHA] [Deprecated: Use llm_d_epp_request_error_total] Counter of inference objective requests errors broken out for each model and target model.", "model_name", "target_model_name", "error_code"),
		g("llm_d_epp_request_running", "[ALPHA] Number of running requests.", obj...),
		g("inference_objective_running_requests", "[ALPHA] [Deprecated: Use llm_d_epp_request_running] Inference objective number of running requests in each model.", "model_name"),
	}
}

// dynamoFrontendFamilies are Dynamo's frontend families the simulator
// renders (lib/runtime/src/metrics/prometheus_names.rs, frontend_service),
// with the label sets of its capture.
func dynamoFrontendFamilies() []famSpec {
	return []famSpec{
		{name: "dynamo_frontend_requests_total", help: "Total number of LLM requests processed", typ: counterT, labels: []string{"endpoint", "model", "request_type", "status"}},
		{name: "dynamo_frontend_queued_requests", help: "Number of requests in HTTP processing queue", typ: gaugeT, labels: []string{"model"}},
		{name: "dynamo_frontend_inflight_requests", help: "Number of inflight requests", typ: gaugeT, labels: []string{"model"}},
		{name: "dynamo_frontend_router_queue_pending_requests", help: "Number of requests pending in the router scheduler queue", typ: gaugeT, labels: []string{"worker_type"}},
		{name: "dynamo_frontend_time_to_first_token_seconds", help: "Time to first token in seconds", typ: histT, labels: []string{"model"}},
		{name: "dynamo_frontend_inter_token_latency_seconds", help: "Inter-token latency in seconds", typ: histT, labels: []string{"model"}},
		{name: "dynamo_frontend_output_tokens_total", help: "Total number of output tokens generated (updates in real-time)", typ: counterT, labels: []string{"model"}},
	}
}

// gatewayTargets lists the gateways' scrape targets.
func (c *Cluster) gatewayTargets() []Target {
	var ts []Target
	for _, d := range c.deps {
		g := d.cfg.gw
		if g == nil {
			continue
		}
		port := ":9090"
		if g.spec.Kind == GatewayDynamo {
			port = ":8000"
		}
		ts = append(ts, Target{Path: "/targets/gateway/" + d.spec.Name + "/metrics", Kind: KindGateway, Job: gatewayJob(g.spec.Kind),
			Labels: map[string]string{"instance": g.ip + port, "namespace": d.team.ns, "pod": g.pod, "container": gatewayJob(g.spec.Kind)}, Up: true})
	}
	return ts
}

// gatewayCollector resolves a gateway target's deployment.
func (c *Cluster) gatewayCollector(name string) (targetCollector, bool) {
	for _, d := range c.deps {
		if d.spec.Name != name || d.cfg.gw == nil {
			continue
		}
		if d.cfg.gw.spec.Kind == GatewayDynamo {
			return targetCollector{c.rend.dynamoFE, func(em emitter) { c.collectDynamoFrontend(em, d) }}, true
		}
		return targetCollector{c.rend.epp, func(em emitter) { c.collectEPP(em, d) }}, true
	}
	return targetCollector{}, false
}

// poolEngines are the engines of the deployment's running pods.
func poolEngines(d *deployment) []*engine {
	var out []*engine
	for _, w := range d.workloads {
		if w.pod != nil && w.pod.phase == phaseRunning {
			out = append(out, w.pod.engines...)
		}
	}
	return out
}

// collectEPP renders the llm-d endpoint picker of one InferencePool (the
// deployment): flow control's queue per fairness_id, the pool's saturation
// and ready endpoints, and request counters, under both the llm_d_epp_
// names and the deprecated ones.
func (c *Cluster) collectEPP(em emitter, d *deployment) {
	g := d.cfg.gw
	engines := poolEngines(d)
	pool, mn := d.spec.Name, d.cfg.model.servedName
	const prio = "0"
	held := g.heldBy()
	running := make([]float64, len(g.tenants))
	for _, e := range engines {
		for _, r := range e.running {
			running[r.tenant]++
		}
		for _, r := range e.waiting {
			running[r.tenant]++
		}
	}
	var requests, errors, run float64
	for i, t := range g.tenants {
		em.gauge("llm_d_epp_flow_control_queue_size", held[i], t.FairnessID, prio, pool, mn, mn)
		em.gauge("inference_extension_flow_control_queue_size", held[i], t.FairnessID, prio, pool, mn, mn)
		em.counter("llm_d_epp_request_total", g.requests[i], mn, mn, t.FairnessID, prio)
		if g.errors[i] > 0 {
			em.counter("llm_d_epp_request_error_total", g.errors[i], mn, mn, t.FairnessID, prio, "ResourceExhausted")
		}
		em.gauge("llm_d_epp_request_running", running[i], mn, mn, t.FairnessID, prio)
		requests += g.requests[i]
		errors += g.errors[i]
		run += running[i]
	}
	sat := g.saturation(engines)
	em.gauge("llm_d_epp_flow_control_pool_saturation", sat, pool)
	em.gauge("inference_extension_flow_control_pool_saturation", sat, pool)
	ready := 0.0
	for _, w := range d.workloads {
		if w.pod != nil && w.pod.phase == phaseRunning {
			ready++
		}
	}
	em.gauge("llm_d_epp_ready_endpoints", ready, pool)
	em.gauge("inference_pool_ready_pods", ready, pool)
	em.counter("inference_objective_request_total", requests, mn, mn, prio)
	if errors > 0 {
		em.counter("inference_objective_request_error_total", errors, mn, mn, "ResourceExhausted")
	}
	em.gauge("inference_objective_running_requests", run, mn)
}

// collectDynamoFrontend renders Dynamo's frontend: the router's pending
// queue (requests held before any worker), requests awaiting their first
// token (held, queued in a worker or in prefill), inflight requests, and
// the latencies and tokens it streamed. The model label is lower-cased on
// request metrics, as the frontend's capture shows.
func (c *Cluster) collectDynamoFrontend(em emitter, d *deployment) {
	g := d.cfg.gw
	model := strings.ToLower(d.cfg.model.servedName)
	held := float64(len(g.held))
	awaiting, inflight := held, held
	for _, e := range poolEngines(d) {
		awaiting += float64(len(e.waiting))
		inflight += float64(len(e.waiting) + len(e.running))
		for _, r := range e.running {
			if r.generated == 0 {
				awaiting++
			}
		}
	}
	var requests, errors float64
	for i := range g.tenants {
		requests += g.requests[i]
		errors += g.errors[i]
	}
	em.counter("dynamo_frontend_requests_total", requests-errors, "chat_completions", model, "stream", "success")
	if errors > 0 {
		em.counter("dynamo_frontend_requests_total", errors, "chat_completions", model, "stream", "error")
	}
	em.gauge("dynamo_frontend_queued_requests", awaiting, model)
	em.gauge("dynamo_frontend_inflight_requests", inflight, model)
	em.gauge("dynamo_frontend_router_queue_pending_requests", held, "decode")
	em.hist("dynamo_frontend_time_to_first_token_seconds", &g.ttft, model)
	em.hist("dynamo_frontend_inter_token_latency_seconds", &g.itl, model)
	em.counter("dynamo_frontend_output_tokens_total", g.outputTokens, model)
}
