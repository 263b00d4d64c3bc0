package sim

import (
	"errors"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/model"

	"github.com/servescope/servescope/internal/testutil/expo"
)

// sample is one parsed series value.
type sample struct {
	name   string
	labels map[string]string
	value  float64
}

// parsed is an exposition read back with the product's parser
// (internal/collect/parse, through the test kit).
type parsed struct {
	types   map[string]string // family → type from # TYPE, for the families with series
	samples []sample
}

func parseWithPrometheus(t testing.TB, b []byte) parsed {
	t.Helper()
	out := parsed{types: map[string]string{}}
	for _, s := range expo.Parse(t, b) {
		if s.Family != "" {
			out.types[s.Family] = string(s.Type)
		}
		smp := sample{name: s.Labels.Get(model.MetricNameLabel), labels: s.Labels.Map(), value: s.Value}
		delete(smp.labels, model.MetricNameLabel)
		out.samples = append(out.samples, smp)
	}
	return out
}

func parseExposition(t testing.TB, b []byte) []sample { return parseWithPrometheus(t, b).samples }

// famExpect is a family as the reference documents record it.
type famExpect struct {
	typ      string
	labels   string // required label names, space-separated
	optional string // labels that appear on some series only
}

// expectedFamilies is the schema from ../shared/reference (serving-metrics.md
// §1.2/§1.5/§5/§7, gpu-kueue-cost.md §1.1/§1.2/§2.2/§3).
func expectedFamilies() map[string]famExpect {
	me := "model_name engine"
	f := map[string]famExpect{}
	add := func(typ, labels string, names ...string) {
		for _, n := range names {
			f[n] = famExpect{typ: typ, labels: labels}
		}
	}
	// vLLM V1 (and 0.10 deprecated names).
	add("gauge", me, "vllm:num_requests_running", "vllm:num_requests_waiting", "vllm:kv_cache_usage_perc", "vllm:gpu_cache_usage_perc")
	add("gauge", me+" reason", "vllm:num_requests_waiting_by_reason")
	add("gauge", me+" sleep_state", "vllm:engine_sleep_state")
	add("gauge", "block_size cache_dtype enable_prefix_caching engine gpu_memory_utilization num_cpu_blocks num_gpu_blocks num_gpu_blocks_override", "vllm:cache_config_info")
	counters := map[string]string{
		"vllm:prompt_tokens_total": "", "vllm:generation_tokens_total": "", "vllm:prompt_tokens_by_source_total": " source",
		"vllm:prompt_tokens_cached_total": "", "vllm:num_preemptions_total": "", "vllm:request_success_total": " finished_reason",
		"vllm:prefix_cache_queries_total": "", "vllm:prefix_cache_hits_total": "", "vllm:spec_decode_num_drafts_total": "",
		"vllm:spec_decode_num_draft_tokens_total": "", "vllm:spec_decode_num_accepted_tokens_total": "",
		"vllm:spec_decode_num_accepted_tokens_per_pos_total": " position",
		"vllm:gpu_prefix_cache_queries_total":                "", "vllm:gpu_prefix_cache_hits_total": "",
	}
	for n, extra := range counters {
		add("counter", me+extra, n)
		add("gauge", me+extra, strings.TrimSuffix(n, "_total")+"_created")
	}
	for _, n := range []string{"time_to_first_token_seconds", "inter_token_latency_seconds", "request_time_per_output_token_seconds",
		"e2e_request_latency_seconds", "request_queue_time_seconds", "request_inference_time_seconds", "request_prefill_time_seconds",
		"request_decode_time_seconds", "request_prompt_tokens", "request_generation_tokens", "request_max_num_generation_tokens",
		"request_params_max_tokens", "request_params_n", "request_num_preemptions", "iteration_tokens_total", "time_per_output_token_seconds"} {
		add("histogram", me, "vllm:"+n)
		add("gauge", me, "vllm:"+n+"_created")
	}
	// vLLM V0: model_name only; same wire names, so only the V0-only gauges differ.
	add("gauge", "model_name", "vllm:num_requests_swapped", "vllm:cpu_cache_usage_perc")
	// SGLang.
	sg := "model_name engine_type tp_rank dp_rank"
	add("gauge", sg, "sglang:num_running_reqs", "sglang:num_queue_reqs", "sglang:num_used_tokens", "sglang:token_usage",
		"sglang:max_total_num_tokens", "sglang:gen_throughput", "sglang:cache_hit_rate", "sglang:num_retracted_reqs", "sglang:spec_accept_length",
		"sglang:spec_accept_rate")
	for _, n := range []string{"prompt_tokens", "generation_tokens", "cached_tokens", "num_requests", "num_aborted_requests", "num_retracted_requests"} {
		add("counter", sg, "sglang:"+n+"_total")
		add("gauge", sg, "sglang:"+n+"_created")
	}
	for _, n := range []string{"time_to_first_token_seconds", "inter_token_latency_seconds", "e2e_request_latency_seconds", "queue_time_seconds"} {
		add("histogram", sg, "sglang:"+n)
		add("gauge", sg, "sglang:"+n+"_created")
	}
	// llama.cpp: no labels.
	add("counter", "", "llamacpp:prompt_tokens_total", "llamacpp:prompt_seconds_total", "llamacpp:tokens_predicted_total",
		"llamacpp:tokens_predicted_seconds_total", "llamacpp:n_decode_total", "llamacpp:n_busy_slots_per_decode")
	add("gauge", "", "llamacpp:prompt_tokens_seconds", "llamacpp:predicted_tokens_seconds", "llamacpp:requests_processing", "llamacpp:requests_deferred")
	// dcgm-exporter.
	for _, fl := range dcgmFields() {
		typ := "gauge"
		if fl.typ == counterT {
			typ = "counter"
		}
		opt := "GPU_I_PROFILE GPU_I_ID DCGM_FI_DRIVER_VERSION container namespace pod pod_uid"
		req := "gpu UUID pci_bus_id device modelName"
		if fl.name == "DCGM_FI_DEV_XID_ERRORS" {
			req += " err_code err_msg"
		}
		f[fl.name] = famExpect{typ: typ, labels: req, optional: opt}
	}
	// Kueue: every metric carries replica_role.
	rr := " replica_role"
	add("counter", "result"+rr, "kueue_admission_attempts_total")
	add("gauge", "git_version git_commit build_date go_version compiler platform"+rr, "kueue_build_info")
	add("gauge", "cluster_queue status"+rr, "kueue_pending_workloads", "kueue_cluster_queue_status")
	add("gauge", "cluster_queue"+rr, "kueue_reserving_active_workloads", "kueue_admitted_active_workloads", "kueue_finished_workloads")
	add("counter", "cluster_queue priority_class"+rr, "kueue_quota_reserved_workloads_total", "kueue_admitted_workloads_total", "kueue_finished_workloads_total")
	add("histogram", "cluster_queue priority_class"+rr, "kueue_admission_wait_time_seconds")
	add("counter", "cluster_queue reason underlying_cause priority_class"+rr, "kueue_evicted_workloads_total")
	add("counter", "preempting_cluster_queue reason"+rr, "kueue_preempted_workloads_total")
	add("gauge", "cluster_queue parent_cohort root_cohort"+rr, "kueue_cluster_queue_info")
	add("gauge", "cohort cluster_queue flavor resource"+rr, "kueue_cluster_queue_resource_reservation", "kueue_cluster_queue_resource_usage",
		"kueue_cluster_queue_nominal_quota", "kueue_cluster_queue_borrowing_limit", "kueue_cluster_queue_lending_limit")
	lq := "name namespace"
	add("gauge", lq+" status"+rr, "kueue_local_queue_pending_workloads")
	add("gauge", lq+rr, "kueue_local_queue_reserving_active_workloads", "kueue_local_queue_admitted_active_workloads")
	add("counter", lq+" priority_class"+rr, "kueue_local_queue_quota_reserved_workloads_total", "kueue_local_queue_admitted_workloads_total", "kueue_local_queue_finished_workloads_total")
	add("counter", lq+" reason underlying_cause priority_class"+rr, "kueue_local_queue_evicted_workloads_total")
	add("histogram", lq+" priority_class"+rr, "kueue_local_queue_admission_wait_time_seconds")
	add("gauge", lq+" active"+rr, "kueue_local_queue_status")
	add("gauge", lq+" flavor resource"+rr, "kueue_local_queue_resource_reservation", "kueue_local_queue_resource_usage")
	// Kueue's admission story (gpu-kueue-cost.md §2.2; pkg/metrics/metrics.go at v0.19.0).
	add("gauge", "cluster_queue resource"+rr, "kueue_cluster_queue_resource_pending")
	add("gauge", "cluster_queue reason underlying_cause"+rr, "kueue_unadmitted_workloads")
	add("gauge", lq+" cluster_queue reason underlying_cause"+rr, "kueue_local_queue_unadmitted_workloads")
	add("gauge", "cohort flavor resource"+rr, "kueue_cohort_subtree_quota")
	add("histogram", "cluster_queue priority_class"+rr, "kueue_ready_wait_time_seconds", "kueue_admitted_until_ready_wait_time_seconds")
	add("histogram", lq+" priority_class"+rr, "kueue_local_queue_ready_wait_time_seconds", "kueue_local_queue_admitted_until_ready_wait_time_seconds")
	// kube-state-metrics.
	add("gauge", "namespace label_team", "kube_namespace_labels")
	add("gauge", "namespace pod uid label_app label_team label_kueue_x_k8s_io_local_queue_name label_kueue_x_k8s_io_cluster_queue_name", "kube_pod_labels")
	add("gauge", "namespace pod uid host_ip pod_ip node created_by_kind created_by_name priority_class host_network", "kube_pod_info")
	add("gauge", "namespace pod uid phase", "kube_pod_status_phase")
	add("gauge", "namespace pod uid container node resource unit", "kube_pod_container_resource_requests")
	add("gauge", "node resource unit", "kube_node_status_allocatable")
	add("gauge", "node label_nvidia_com_gpu_product label_kueue_flavor", "kube_node_labels")
	addGatewayFamilies(add)
	return f
}

// familyOf maps a series name to its family, given the declared types.
func familyOf(name string, types map[string]string) string {
	for _, suf := range []string{"_bucket", "_sum", "_count"} {
		if base, ok := strings.CutSuffix(name, suf); ok && types[base] == "histogram" {
			return base
		}
	}
	return name
}

func TestSchemaOfEveryFamily(t *testing.T) {
	t.Parallel()
	want := expectedFamilies()
	seen := map[string]bool{}
	for _, name := range []string{"mixed", "poor-spec-decode", "noisy-tenant", "exporter-down", "quota-starved", "gateway-backlog"} {
		c := newTestCluster(t, name, 32)
		c.Step(c.Start().Add(11 * time.Minute)) // every family is out by then; exporter-down's exporters went down at 10m
		for _, tg := range c.Targets() {
			if !tg.Up {
				if _, err := c.RenderBytes(tg.Path); !errors.Is(err, ErrTargetDown) {
					t.Errorf("%s %s: down target rendered, err %v", name, tg.Path, err)
				}
				continue
			}
			b, err := c.RenderBytes(tg.Path)
			if err != nil {
				t.Fatalf("%s %s: %v", name, tg.Path, err)
			}
			p := parseWithPrometheus(t, b)
			for fam, typ := range p.types {
				exp, ok := want[fam]
				if !ok {
					t.Errorf("%s %s: family %s is not in the reference schema", name, tg.Path, fam)
					continue
				}
				if exp.typ != typ {
					t.Errorf("%s: %s has type %s, want %s", tg.Path, fam, typ, exp.typ)
				}
				seen[fam] = true
			}
			for _, s := range p.samples {
				fam := familyOf(s.name, p.types)
				exp := want[fam]
				if tg.Engine == EngineVLLMV0 {
					exp.labels = strings.Replace(exp.labels, "engine", "", 1) // V0 had model_name only
				}
				checkLabels(t, tg.Path, fam, s, exp, c.sc.Exporter.HostnameLabel)
			}
		}
	}
	var missing []string
	for fam := range want {
		if !seen[fam] {
			missing = append(missing, fam)
		}
	}
	sort.Strings(missing)
	// Families the chosen scenarios do not switch on.
	allowed := map[string]bool{
		// Gateway errors come once clients give up (5 minutes of waiting),
		// later than 11 minutes into gateway-backlog.
		"llm_d_epp_request_error_total": true, "inference_objective_request_error_total": true,
	}
	for _, m := range missing {
		if !allowed[m] {
			t.Errorf("family %s never emitted", m)
		}
	}
}

func checkLabels(t *testing.T, path, fam string, s sample, exp famExpect, hostname string) {
	t.Helper()
	got := map[string]bool{}
	for k := range s.labels {
		if k != "le" {
			got[k] = true
		}
	}
	if strings.HasSuffix(s.name, "_bucket") && s.labels["le"] == "" {
		t.Errorf("%s %s: bucket without le", path, s.name)
	}
	req := strings.Fields(exp.labels)
	if strings.HasPrefix(fam, "DCGM_") {
		req = append(req, hostname)
	}
	for _, l := range req {
		if !got[l] {
			t.Errorf("%s %s: missing label %q (has %v)", path, s.name, l, s.labels)
		}
		delete(got, l)
	}
	for _, l := range strings.Fields(exp.optional) {
		delete(got, l)
	}
	for l := range got {
		t.Errorf("%s %s: unexpected label %q", path, s.name, l)
	}
	if strings.HasPrefix(fam, "DCGM_") && (s.labels["pod"] != "") != (s.labels["namespace"] != "") {
		t.Errorf("%s %s: pod and namespace must come together: %v", path, s.name, s.labels)
	}
}
