package sim

import "strconv"

// vllmFamilies are vLLM V1's families (serving-metrics.md §1.2) as the
// 0.0.4 text format shows them: counters with _total, and _created gauges.
func vllmFamilies() []famSpec {
	me := []string{"model_name", "engine"}
	with := func(l ...string) []string { return append(append([]string{}, me...), l...) }
	g := func(n, h string, l []string) famSpec { return famSpec{name: n, help: h, typ: gaugeT, labels: l} }
	ct := func(n, h string, l []string) famSpec {
		return famSpec{name: n, help: h, typ: counterT, labels: l, created: true}
	}
	hs := func(n, h string) famSpec { return famSpec{name: n, help: h, typ: histT, labels: me, created: true} }
	fs := []famSpec{
		g("vllm:num_requests_running", "Number of requests in model execution batches.", me),
		g("vllm:num_requests_waiting", "Number of requests waiting to be processed.", me),
		g("vllm:num_requests_waiting_by_reason", "Number of requests waiting, by reason.", with("reason")),
		g("vllm:kv_cache_usage_perc", "KV-cache usage. 1 means 100 percent usage.", me),
		g("vllm:engine_sleep_state", "Engine sleep state; awake = 0 means engine is sleeping; awake = 1 means engine is awake.", with("sleep_state")),
		g("vllm:cache_config_info", "Information of the LLMEngine CacheConfig", []string{"block_size", "cache_dtype", "enable_prefix_caching", "engine", "gpu_memory_utilization", "num_cpu_blocks", "num_gpu_blocks", "num_gpu_blocks_override"}),
		ct("vllm:prompt_tokens_total", "Number of prefill tokens processed.", me),
		ct("vllm:generation_tokens_total", "Number of generation tokens processed.", me),
		ct("vllm:prompt_tokens_by_source_total", "Number of prompt tokens by source.", with("source")),
		ct("vllm:prompt_tokens_cached_total", "Number of cached prompt tokens (local + external).", me),
		ct("vllm:num_preemptions_total", "Cumulative number of preemption from the engine.", me),
		ct("vllm:request_success_total", "Count of successfully processed requests.", with("finished_reason")),
		ct("vllm:prefix_cache_queries_total", "Prefix cache queries, in terms of number of queried tokens.", me),
		ct("vllm:prefix_cache_hits_total", "Prefix cache hits, in terms of number of cached tokens.", me),
		hs("vllm:time_to_first_token_seconds", "Histogram of time to first token in seconds."),
		hs("vllm:inter_token_latency_seconds", "Histogram of inter-token latency in seconds."),
		hs("vllm:request_time_per_output_token_seconds", "Histogram of time_per_output_token_seconds per request."),
		hs("vllm:e2e_request_latency_seconds", "Histogram of e2e request latency in seconds."),
		hs("vllm:request_queue_time_seconds", "Histogram of time spent in WAITING phase for request."),
		hs("vllm:request_inference_time_seconds", "Histogram of time spent in RUNNING phase for request."),
		hs("vllm:request_prefill_time_seconds", "Histogram of time spent in PREFILL phase for request."),
		hs("vllm:request_decode_time_seconds", "Histogram of time spent in DECODE phase for request."),
		hs("vllm:request_prompt_tokens", "Number of prefill tokens processed."),
		hs("vllm:request_generation_tokens", "Number of generation tokens processed."),
		hs("vllm:request_max_num_generation_tokens", "Histogram of maximum number of requested generation tokens."),
		hs("vllm:request_params_max_tokens", "Histogram of the max_tokens request parameter."),
		hs("vllm:request_params_n", "Histogram of the n request parameter."),
		hs("vllm:request_num_preemptions", "Number of preemptions per request."),
		hs("vllm:iteration_tokens_total", "Histogram of number of tokens per engine_step."),
		ct("vllm:spec_decode_num_drafts_total", "Number of spec decoding drafts.", me),
		ct("vllm:spec_decode_num_draft_tokens_total", "Number of draft tokens.", me),
		ct("vllm:spec_decode_num_accepted_tokens_total", "Number of accepted tokens.", me),
		ct("vllm:spec_decode_num_accepted_tokens_per_pos_total", "Accepted tokens per draft position.", with("position")),
		// 0.10-era deprecated names some fleets still emit.
		g("vllm:gpu_cache_usage_perc", "GPU KV-cache usage. 1 means 100 percent usage.DEPRECATED: Use vllm:kv_cache_usage_perc instead.", me),
		ct("vllm:gpu_prefix_cache_queries_total", "GPU prefix cache queries, in terms of number of queried tokens.DEPRECATED: Use vllm:prefix_cache_queries instead.", me),
		ct("vllm:gpu_prefix_cache_hits_total", "GPU prefix cache hits, in terms of number of cached tokens.DEPRECATED: Use vllm:prefix_cache_hits instead.", me),
		hs("vllm:time_per_output_token_seconds", "Histogram of time per output token in seconds.DEPRECATED: Use vllm:inter_token_latency_seconds instead."),
	}
	return fs
}

// vllmV0Families are the V0 engine's families: model_name only, no _created.
func vllmV0Families() []famSpec {
	m := []string{"model_name"}
	g := func(n, h string) famSpec { return famSpec{name: n, help: h, typ: gaugeT, labels: m} }
	ct := func(n, h string, l ...string) famSpec {
		return famSpec{name: n, help: h, typ: counterT, labels: append(append([]string{}, m...), l...)}
	}
	hs := func(n, h string) famSpec { return famSpec{name: n, help: h, typ: histT, labels: m} }
	return []famSpec{
		g("vllm:num_requests_running", "Number of requests currently running on GPU."),
		g("vllm:num_requests_waiting", "Number of requests waiting to be processed."),
		g("vllm:num_requests_swapped", "Number of requests swapped to CPU."),
		g("vllm:gpu_cache_usage_perc", "GPU KV-cache usage. 1 means 100 percent usage."),
		g("vllm:cpu_cache_usage_perc", "CPU KV-cache usage. 1 means 100 percent usage."),
		ct("vllm:prompt_tokens_total", "Number of prefill tokens processed."),
		ct("vllm:generation_tokens_total", "Number of generation tokens processed."),
		ct("vllm:num_preemptions_total", "Cumulative number of preemption from the engine."),
		ct("vllm:request_success_total", "Count of successfully processed requests.", "finished_reason"),
		hs("vllm:time_to_first_token_seconds", "Histogram of time to first token in seconds."),
		hs("vllm:time_per_output_token_seconds", "Histogram of time per output token in seconds."),
		hs("vllm:e2e_request_latency_seconds", "Histogram of end to end request latency in seconds."),
		hs("vllm:request_prompt_tokens", "Number of prefill tokens processed."),
		hs("vllm:request_generation_tokens", "Number of generation tokens processed."),
		hs("vllm:request_params_n", "Histogram of the n request parameter."),
	}
}

// sglangFamilies are SGLang's families (serving-metrics.md §5); its
// prometheus_client also writes _created gauges.
func sglangFamilies() []famSpec {
	// engine_type and tp_rank as third-party fixtures show them; dp_rank
	// tells data-parallel ranks apart (the exact set varies by version).
	l := []string{"model_name", "engine_type", "tp_rank", "dp_rank"}
	g := func(n, h string) famSpec { return famSpec{name: n, help: h, typ: gaugeT, labels: l} }
	ct := func(n, h string) famSpec { return famSpec{name: n, help: h, typ: counterT, labels: l, created: true} }
	hs := func(n, h string) famSpec { return famSpec{name: n, help: h, typ: histT, labels: l, created: true} }
	return []famSpec{
		g("sglang:num_running_reqs", "The number of running requests."),
		g("sglang:num_queue_reqs", "The number of requests in the waiting queue."),
		g("sglang:num_used_tokens", "The number of used tokens."),
		g("sglang:token_usage", "The token usage."),
		g("sglang:max_total_num_tokens", "Maximum total number of tokens in the KV cache pool."),
		g("sglang:gen_throughput", "The generation throughput (token/s)."),
		g("sglang:cache_hit_rate", "The prefix cache hit rate."),
		g("sglang:num_retracted_reqs", "The number of retracted requests."),
		g("sglang:spec_accept_length", "The average acceptance length of speculative decoding."),
		g("sglang:spec_accept_rate", "The average acceptance rate of speculative decoding."),
		ct("sglang:prompt_tokens_total", "Number of prefill tokens processed."),
		ct("sglang:generation_tokens_total", "Number of generation tokens processed."),
		ct("sglang:cached_tokens_total", "Number of cached prompt tokens."),
		ct("sglang:num_requests_total", "Number of requests processed."),
		ct("sglang:num_aborted_requests_total", "Number of requests aborted."),
		ct("sglang:num_retracted_requests_total", "Number of retracted requests."),
		hs("sglang:time_to_first_token_seconds", "Histogram of time to first token in seconds."),
		hs("sglang:inter_token_latency_seconds", "Histogram of inter-token latency in seconds."),
		hs("sglang:e2e_request_latency_seconds", "Histogram of End-to-end request latency in seconds"),
		hs("sglang:queue_time_seconds", "Histogram of queueing time in seconds."),
	}
}

// llamacppFamilies are llama-server's --metrics families: no labels, two
// "counters" that are really a max and an average.
func llamacppFamilies() []famSpec {
	c := func(n, h string) famSpec { return famSpec{name: n, help: h, typ: counterT} }
	g := func(n, h string) famSpec { return famSpec{name: n, help: h, typ: gaugeT} }
	return []famSpec{
		c("llamacpp:prompt_tokens_total", "Number of prompt tokens processed."),
		c("llamacpp:prompt_seconds_total", "Prompt process time"),
		c("llamacpp:tokens_predicted_total", "Number of generation tokens processed."),
		c("llamacpp:tokens_predicted_seconds_total", "Predict process time"),
		c("llamacpp:n_decode_total", "Total number of llama_decode() calls"),
		c("llamacpp:n_busy_slots_per_decode", "Average number of busy slots per llama_decode() call"),
		g("llamacpp:prompt_tokens_seconds", "Average prompt throughput in tokens/s."),
		g("llamacpp:predicted_tokens_seconds", "Average generation throughput in tokens/s."),
		g("llamacpp:requests_processing", "Number of requests processing."),
		g("llamacpp:requests_deferred", "Number of requests deferred."),
	}
}

// engineTable is the family table of a serving pod's engine kind.
func (c *Cluster) engineTable(p *pod) *famTable {
	if p.dep.spec.Role != "" {
		if p.dep.spec.Engine == EngineSGLang {
			return c.rend.sglangPD
		}
		return c.rend.vllmPD
	}
	switch p.dep.spec.Engine {
	case EngineVLLMV0:
		return c.rend.vllmV0
	case EngineSGLang:
		return c.rend.sglang
	case EngineLlamaCpp:
		return c.rend.llamacpp
	}
	return c.rend.vllm
}

// collectEngine renders one serving pod: every engine (data-parallel rank) of it.
func (c *Cluster) collectEngine(em emitter, p *pod) {
	for _, e := range p.engines {
		switch p.dep.spec.Engine {
		case EngineVLLMV0:
			c.collectVLLMV0(em, e)
		case EngineSGLang:
			c.collectSGLang(em, e)
		case EngineLlamaCpp:
			c.collectLlamaCpp(em, e)
		default:
			c.collectVLLM(em, e)
		}
	}
}

func (c *Cluster) collectVLLM(em emitter, e *engine) {
	cfg := e.cfg
	mn, en := cfg.model.servedName, strconv.Itoa(e.index)
	em.gauge("vllm:num_requests_running", float64(len(e.running)), mn, en)
	// Requests waiting for remote KV are waiting, deferred.
	deferred := float64(len(e.pd.transfers))
	em.gauge("vllm:num_requests_waiting", float64(len(e.waiting))+deferred, mn, en)
	em.gauge("vllm:num_requests_waiting_by_reason", float64(len(e.waiting)), mn, en, "capacity")
	em.gauge("vllm:num_requests_waiting_by_reason", deferred, mn, en, "deferred")
	em.gauge("vllm:kv_cache_usage_perc", e.kvUsage(), mn, en)
	old := cfg.kind == EngineVLLM010
	if old {
		em.gauge("vllm:gpu_cache_usage_perc", e.kvUsage(), mn, en)
	}
	awake, offloaded := sleepState(e.asleep)
	em.gauge("vllm:engine_sleep_state", awake, mn, en, "awake")
	em.gauge("vllm:engine_sleep_state", offloaded, mn, en, "weights_offloaded")
	em.gauge("vllm:engine_sleep_state", 0, mn, en, "discard_all")
	em.gauge("vllm:cache_config_info", 1, "16", "auto", "True", en, strconv.FormatFloat(cfg.memUtil, 'g', -1, 64),
		"0", strconv.Itoa(cfg.blocks), "None")
	k := &e.c
	cr := func(name string, v float64, lv ...string) { em.counterCreated(name, v, e.created, lv...) }
	cr("vllm:prompt_tokens_total", k.promptTokens, mn, en)
	cr("vllm:generation_tokens_total", k.generationTokens, mn, en)
	cr("vllm:prompt_tokens_by_source_total", k.promptTokens-k.prefixHits, mn, en, "local_compute")
	cr("vllm:prompt_tokens_by_source_total", k.prefixHits, mn, en, "local_cache_hit")
	cr("vllm:prompt_tokens_by_source_total", 0, mn, en, "external_kv_transfer")
	cr("vllm:prompt_tokens_cached_total", k.prefixHits, mn, en)
	cr("vllm:num_preemptions_total", k.preemptions, mn, en)
	for i, r := range []string{"stop", "length", "abort", "error", "repetition"} {
		v := 0.0
		if i < len(k.success) {
			v = k.success[i]
		}
		cr("vllm:request_success_total", v, mn, en, r)
	}
	cr("vllm:prefix_cache_queries_total", k.prefixQueries, mn, en)
	cr("vllm:prefix_cache_hits_total", k.prefixHits, mn, en)
	if old {
		cr("vllm:gpu_prefix_cache_queries_total", k.prefixQueries, mn, en)
		cr("vllm:gpu_prefix_cache_hits_total", k.prefixHits, mn, en)
	}
	if sd := cfg.spec; sd != nil {
		cr("vllm:spec_decode_num_drafts_total", k.drafts, mn, en)
		cr("vllm:spec_decode_num_draft_tokens_total", k.draftTokens, mn, en)
		cr("vllm:spec_decode_num_accepted_tokens_total", k.acceptedSpec, mn, en)
		w, sum := 1.0, acceptedPerDraft(sd)
		for pos := 0; pos < sd.NumTokens; pos++ {
			w *= sd.Acceptance
			v := 0.0
			if sum > 0 {
				v = float64(int64(k.acceptedSpec * w / sum))
			}
			cr("vllm:spec_decode_num_accepted_tokens_per_pos_total", v, mn, en, strconv.Itoa(pos))
		}
	}
	h := &e.h
	hc := func(name string, x *hist) { em.histCreated(name, x, e.created, mn, en) }
	hc("vllm:time_to_first_token_seconds", &h.ttft)
	hc("vllm:inter_token_latency_seconds", &h.itl)
	if old {
		hc("vllm:time_per_output_token_seconds", &h.itl)
	}
	hc("vllm:request_time_per_output_token_seconds", &h.tpot)
	hc("vllm:e2e_request_latency_seconds", &h.e2e)
	hc("vllm:request_queue_time_seconds", &h.queue)
	hc("vllm:request_inference_time_seconds", &h.inference)
	hc("vllm:request_prefill_time_seconds", &h.prefill)
	hc("vllm:request_decode_time_seconds", &h.decode)
	hc("vllm:request_prompt_tokens", &h.promptTok)
	hc("vllm:request_generation_tokens", &h.genTok)
	hc("vllm:request_max_num_generation_tokens", &h.maxGenTok)
	hc("vllm:request_params_max_tokens", &h.maxTokens)
	hc("vllm:request_params_n", &h.paramsN)
	hc("vllm:request_num_preemptions", &h.preempt)
	hc("vllm:iteration_tokens_total", &h.iterTok)
	if cfg.role != "" {
		c.collectNIXL(em, e)
	}
}

func (c *Cluster) collectVLLMV0(em emitter, e *engine) {
	mn := e.cfg.model.servedName
	em.gauge("vllm:num_requests_running", float64(len(e.running)), mn)
	em.gauge("vllm:num_requests_waiting", float64(len(e.waiting)), mn)
	em.gauge("vllm:num_requests_swapped", 0, mn)
	em.gauge("vllm:gpu_cache_usage_perc", e.kvUsage(), mn)
	em.gauge("vllm:cpu_cache_usage_perc", 0, mn)
	k, h := &e.c, &e.h
	em.counter("vllm:prompt_tokens_total", k.promptTokens, mn)
	em.counter("vllm:generation_tokens_total", k.generationTokens, mn)
	em.counter("vllm:num_preemptions_total", k.preemptions, mn)
	for i, r := range []string{"stop", "length", "abort"} {
		em.counter("vllm:request_success_total", k.success[i], mn, r)
	}
	em.hist("vllm:time_to_first_token_seconds", &h.ttft, mn)
	em.hist("vllm:time_per_output_token_seconds", &h.itl, mn)
	em.hist("vllm:e2e_request_latency_seconds", &h.e2e, mn)
	em.hist("vllm:request_prompt_tokens", &h.promptTok, mn)
	em.hist("vllm:request_generation_tokens", &h.genTok, mn)
	em.hist("vllm:request_params_n", &h.paramsN, mn)
}

func (c *Cluster) collectSGLang(em emitter, e *engine) {
	role := e.cfg.role
	if role == "" {
		role = "unified"
	}
	l := []string{e.cfg.model.servedName, role, "0", strconv.Itoa(e.index)}
	used := float64(e.usedBlocks * blockTokens)
	maxTok := float64(e.cfg.blocks * blockTokens)
	em.gauge("sglang:num_running_reqs", float64(len(e.running)), l...)
	em.gauge("sglang:num_queue_reqs", float64(len(e.waiting)), l...)
	em.gauge("sglang:num_used_tokens", used, l...)
	em.gauge("sglang:token_usage", e.kvUsage(), l...)
	em.gauge("sglang:max_total_num_tokens", maxTok, l...)
	em.gauge("sglang:gen_throughput", e.genThroughput(), l...)
	em.gauge("sglang:cache_hit_rate", 0, l...)
	em.gauge("sglang:num_retracted_reqs", 0, l...)
	accLen := 1.0
	if e.c.drafts > 0 {
		accLen = 1 + e.c.acceptedSpec/e.c.drafts
	}
	em.gauge("sglang:spec_accept_length", accLen, l...)
	accRate := 0.0
	if e.c.draftTokens > 0 {
		accRate = e.c.acceptedSpec / e.c.draftTokens
	}
	em.gauge("sglang:spec_accept_rate", accRate, l...)
	k := &e.c
	cr := func(name string, v float64) { em.counterCreated(name, v, e.created, l...) }
	cr("sglang:prompt_tokens_total", k.promptTokens)
	cr("sglang:generation_tokens_total", k.generationTokens)
	cr("sglang:cached_tokens_total", k.prefixHits)
	cr("sglang:num_requests_total", k.success[0]+k.success[1]+k.success[2])
	cr("sglang:num_aborted_requests_total", k.success[2])
	cr("sglang:num_retracted_requests_total", k.preemptions)
	hc := func(name string, x *hist) { em.histCreated(name, x, e.created, l...) }
	hc("sglang:time_to_first_token_seconds", &e.h.ttft)
	hc("sglang:inter_token_latency_seconds", &e.h.itl)
	hc("sglang:e2e_request_latency_seconds", &e.h.e2e)
	hc("sglang:queue_time_seconds", &e.h.queue)
	if e.cfg.role != "" {
		c.collectSGLangPD(em, e, l)
	}
}

func (c *Cluster) collectLlamaCpp(em emitter, e *engine) {
	k := &e.c
	em.counter("llamacpp:prompt_tokens_total", k.promptTokens)
	em.counter("llamacpp:prompt_seconds_total", k.promptSeconds)
	em.counter("llamacpp:tokens_predicted_total", k.generationTokens)
	em.counter("llamacpp:tokens_predicted_seconds_total", k.decodeSeconds)
	em.counter("llamacpp:n_decode_total", k.iterations)
	slots := 0.0
	if k.iterations > 0 {
		slots = k.generationTokens / k.iterations
	}
	em.counter("llamacpp:n_busy_slots_per_decode", slots)
	pt, gt := 0.0, 0.0
	if k.promptSeconds > 0 {
		pt = k.promptTokens / k.promptSeconds
	}
	if k.decodeSeconds > 0 {
		gt = k.generationTokens / k.decodeSeconds
	}
	em.gauge("llamacpp:prompt_tokens_seconds", pt)
	em.gauge("llamacpp:predicted_tokens_seconds", gt)
	em.gauge("llamacpp:requests_processing", float64(len(e.running)))
	em.gauge("llamacpp:requests_deferred", float64(len(e.waiting)))
}

// genThroughput is the engine's generation rate over the last tick, as
// SGLang's scheduler reports it.
func (e *engine) genThroughput() float64 { return e.lastGen }
