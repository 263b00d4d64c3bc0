package sim

import "strconv"

// nixlFamilies are vLLM's NIXL KV-connector families (NixlPromMetrics in
// vllm/distributed/kv_transfer/kv_connector/v1/nixl_connector.py, listed in
// docs/usage/metrics.md "NIXL KV Connector Metrics"), rendered by workers
// of a disaggregated vLLM deployment. The bucket edges are the simulator's.
func nixlFamilies() []famSpec {
	me := []string{"model_name", "engine"}
	ct := func(n, h string) famSpec { return famSpec{name: n, help: h, typ: counterT, labels: me, created: true} }
	hs := func(n, h string) famSpec { return famSpec{name: n, help: h, typ: histT, labels: me, created: true} }
	return []famSpec{
		hs("vllm:nixl_xfer_time_seconds", "Histogram of transfer duration for NIXL KV Cache transfers."),
		hs("vllm:nixl_bytes_transferred", "Histogram of bytes transferred per NIXL KV Cache transfers."),
		ct("vllm:nixl_num_failed_transfers_total", "Number of failed NIXL KV Cache transfers."),
		ct("vllm:nixl_num_failed_notifications_total", "Number of failed NIXL KV Cache notifications."),
		ct("vllm:nixl_num_kv_expired_reqs_total", "Number of requests that had their KV expire. NOTE: This metric is tracked on the P instance."),
	}
}

// sglangPDFamilies are SGLang's disaggregation families (collector.py;
// the gauge forms of the early-2026 capture in ../shared/samples).
func sglangPDFamilies() []famSpec {
	l := []string{"model_name", "engine_type", "tp_rank", "dp_rank"}
	g := func(n, h string) famSpec { return famSpec{name: n, help: h, typ: gaugeT, labels: l} }
	ct := func(n, h string) famSpec { return famSpec{name: n, help: h, typ: counterT, labels: l, created: true} }
	return []famSpec{
		g("sglang:num_prefill_prealloc_queue_reqs", "The number of requests in the prefill prealloc queue."),
		g("sglang:num_prefill_inflight_queue_reqs", "The number of requests in the prefill inflight queue."),
		g("sglang:num_decode_prealloc_queue_reqs", "The number of requests in the decode prealloc queue."),
		g("sglang:num_decode_transfer_queue_reqs", "The number of requests in the decode transfer queue."),
		g("sglang:kv_transfer_speed_gb_s", "The transfer speed of the KV cache in GB/s."),
		g("sglang:kv_transfer_latency_ms", "The transfer latency of the KV cache in ms."),
		ct("sglang:num_bootstrap_failed_reqs_total", "The number of bootstrap failed requests."),
		ct("sglang:num_transfer_failed_reqs_total", "The number of transfer failed requests."),
	}
}

// collectNIXL renders one vLLM engine's NIXL connector metrics: transfers
// are observed on the decode worker, which reads the KV; the prefill
// worker's lease never expires in the simulator.
func (c *Cluster) collectNIXL(em emitter, e *engine) {
	mn, en := e.cfg.model.servedName, strconv.Itoa(e.index)
	em.histCreated("vllm:nixl_xfer_time_seconds", &e.pd.xferTime, e.created, mn, en)
	em.histCreated("vllm:nixl_bytes_transferred", &e.pd.xferBytesH, e.created, mn, en)
	em.counterCreated("vllm:nixl_num_failed_transfers_total", e.pd.xferFailed, e.created, mn, en)
	em.counterCreated("vllm:nixl_num_failed_notifications_total", 0, e.created, mn, en)
	em.counterCreated("vllm:nixl_num_kv_expired_reqs_total", 0, e.created, mn, en)
}

// collectSGLangPD renders one SGLang engine's disaggregation metrics: on a
// decode worker the requests in transfer, the last transfer's latency and
// speed, and failed transfers; a prefill worker's queues are empty (its
// KV leaves as soon as it is computed).
func (c *Cluster) collectSGLangPD(em emitter, e *engine, l []string) {
	em.gauge("sglang:num_prefill_prealloc_queue_reqs", 0, l...)
	em.gauge("sglang:num_prefill_inflight_queue_reqs", 0, l...)
	em.gauge("sglang:num_decode_prealloc_queue_reqs", 0, l...)
	em.gauge("sglang:num_decode_transfer_queue_reqs", float64(len(e.pd.transfers)), l...)
	em.gauge("sglang:kv_transfer_speed_gb_s", e.pd.lastSpeedGBs, l...)
	em.gauge("sglang:kv_transfer_latency_ms", e.pd.lastLatencyMS, l...)
	em.counterCreated("sglang:num_bootstrap_failed_reqs_total", 0, e.created, l...)
	em.counterCreated("sglang:num_transfer_failed_reqs_total", e.pd.xferFailed, e.created, l...)
}

// sleepState is vLLM's engine_sleep_state: awake, or level 1 sleep
// (weights offloaded), as 0/1 flags.
func sleepState(asleep bool) (awake, offloaded float64) {
	if asleep {
		return 0, 1
	}
	return 1, 0
}

// ksmPDFamilies are ksmFamilies with llm-d's pod label llm-d.ai/role
// allowlisted, for clusters with disaggregated deployments.
func ksmPDFamilies() []famSpec {
	fs := ksmFamilies()
	for i := range fs {
		if fs[i].name == "kube_pod_labels" {
			fs[i].labels = append(append([]string{}, fs[i].labels...), "label_llm_d_ai_role")
		}
	}
	return fs
}

// hasRoles reports whether a scenario has disaggregated deployments.
func (s *Scenario) hasRoles() bool {
	for _, d := range s.Deployments {
		if d.Role != "" {
			return true
		}
	}
	return false
}
