package schema

import (
	"slices"
	"strings"
	"testing"

	"github.com/prometheus/prometheus/model/labels"
)

func TestReads(t *testing.T) {
	cat, err := New(Options{})
	if err != nil {
		t.Fatal(err)
	}
	ms := cat.Reads()
	matches := func(name string) bool {
		for _, m := range ms {
			if m.Matches(name) {
				return true
			}
		}
		return false
	}
	for _, tc := range []struct {
		name string
		want bool
	}{
		{"DCGM_FI_DEV_GPU_UTIL", true},
		{"DCGM_FI_PROF_GR_ENGINE_ACTIVE", true},
		{"kube_pod_labels", true},
		{"kube_namespace_labels", true},
		{"vllm:num_requests_running", true},
		{"vllm:e2e_request_latency_seconds_created", false},
		{"vllm:request_success_created", false},
		{"python_gc_objects_collected_total", false},
		{"go_goroutines", false},
		{"process_resident_memory_bytes", false},
	} {
		if got := matches(tc.name); got != tc.want {
			t.Errorf("%s: read %v, want %v", tc.name, got, tc.want)
		}
	}
	for i := 1; i < len(ms); i++ {
		if ms[i-1].String() >= ms[i].String() {
			t.Errorf("not sorted and unique: %s then %s", ms[i-1], ms[i])
		}
	}
}

func TestReadsOf(t *testing.T) {
	ms, err := ReadsOf(`sum(kube_node_labels) + on() group_left count({__name__=~"kueue_.*"})`, `kube_node_labels`)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, m := range ms {
		got = append(got, m.String())
	}
	want := []string{`__name__="kube_node_labels"`, `__name__=~"kueue_.*"`}
	if len(got) != len(want) || got[0] != want[0] || got[1] != want[1] {
		t.Errorf("ReadsOf = %q, want %q", got, want)
	}
	if _, err := ReadsOf(`sum(`); err == nil {
		t.Error("a query that does not parse: no error")
	}
}

// TestTopologyFields: gpu_pod reads exactly the dcgm-exporter fields the
// other signals read, and the SM clock: a field no signal reads is not
// stored (the scrape keeps only what is read), so topology must not need
// one, and a field a signal reads must also place its GPU.
func TestTopologyFields(t *testing.T) {
	cat, err := New(Options{})
	if err != nil {
		t.Fatal(err)
	}
	var topology *labels.Matcher
	read := map[string]bool{"DCGM_FI_DEV_SM_CLOCK": true}
	for _, s := range cat.signals {
		for _, src := range s.Sources {
			if src.Exporter != "dcgm-exporter" {
				continue
			}
			ms := cat.nameMatchers(src)
			if s.Name == "gpu_pod" {
				if strings.HasPrefix(src.Versions, "≥2") {
					if len(ms) != 1 || ms[0].Type != labels.MatchRegexp {
						t.Fatalf("gpu_pod %s: name matchers %v, want one regex", src.Versions, ms)
					}
					topology = ms[0]
				}
				continue
			}
			for _, m := range ms {
				if m.Type != labels.MatchEqual {
					t.Fatalf("%s: name matcher %v, want =", s.Name, m)
				}
				if strings.HasPrefix(m.Value, "DCGM_FI_") {
					read[m.Value] = true
				}
			}
		}
	}
	if topology == nil {
		t.Fatal("gpu_pod has no dcgm-exporter ≥2 source")
	}
	// The fields of dcgm-exporter's default CSV and its commented-out
	// profiling fields (../shared/reference/gpu-kueue-cost.md, 1.1).
	fields := []string{
		"DCGM_FI_DEV_SM_CLOCK", "DCGM_FI_DEV_MEM_CLOCK", "DCGM_FI_DEV_MEMORY_TEMP", "DCGM_FI_DEV_GPU_TEMP",
		"DCGM_FI_DEV_POWER_USAGE", "DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION", "DCGM_FI_DEV_PCIE_REPLAY_COUNTER",
		"DCGM_FI_DEV_GPU_UTIL", "DCGM_FI_DEV_MEM_COPY_UTIL", "DCGM_FI_DEV_ENC_UTIL", "DCGM_FI_DEV_DEC_UTIL",
		"DCGM_FI_DEV_XID_ERRORS", "DCGM_FI_DEV_FB_FREE", "DCGM_FI_DEV_FB_USED", "DCGM_FI_DEV_FB_RESERVED",
		"DCGM_FI_DEV_NVLINK_BANDWIDTH_TOTAL", "DCGM_FI_DEV_VGPU_LICENSE_STATUS",
		"DCGM_FI_DEV_UNCORRECTABLE_REMAPPED_ROWS", "DCGM_FI_DEV_CORRECTABLE_REMAPPED_ROWS",
		"DCGM_FI_DEV_ROW_REMAP_FAILURE", "DCGM_FI_PROF_GR_ENGINE_ACTIVE", "DCGM_FI_PROF_PIPE_TENSOR_ACTIVE",
		"DCGM_FI_PROF_DRAM_ACTIVE", "DCGM_FI_PROF_PCIE_TX_BYTES", "DCGM_FI_PROF_PCIE_RX_BYTES",
		"DCGM_FI_PROF_SM_ACTIVE", "DCGM_FI_PROF_SM_OCCUPANCY", "DCGM_FI_PROF_PIPE_FP16_ACTIVE",
	}
	for name := range read {
		fields = append(fields, name)
	}
	for _, f := range fields {
		if got := topology.Matches(f); got != read[f] {
			t.Errorf("gpu_pod reads %s: %v, want %v (read by a signal or the SM clock: %v)", f, got, read[f], read[f])
		}
	}
}

// TestSumCountOnly: the histograms of which only the sum and count are
// read, from the catalog and from queries beside it.
func TestSumCountOnly(t *testing.T) {
	cat, err := New(Options{})
	if err != nil {
		t.Fatal(err)
	}
	got, err := cat.SumCountOnly()
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(got, "vllm:iteration_tokens_total") {
		t.Errorf("SumCountOnly() = %q, want vllm:iteration_tokens_total", got)
	}
	for _, name := range []string{"vllm:time_to_first_token_seconds", "vllm:e2e_request_latency_seconds"} {
		if slices.Contains(got, name) {
			t.Errorf("SumCountOnly() holds %s, whose buckets the quantiles read", name)
		}
	}
	for _, tc := range []struct {
		query string
		in    bool
	}{
		{`rate(vllm:iteration_tokens_total_bucket[5m])`, false},
		{`histogram_quantile(0.5, rate(vllm:iteration_tokens_total[5m]))`, false},
		{`{__name__=~"vllm:iteration_.+"}`, false},
		{`rate(vllm:iteration_tokens_total_count[5m])`, true},
	} {
		got, err := cat.SumCountOnly(tc.query)
		if err != nil {
			t.Fatal(err)
		}
		if in := slices.Contains(got, "vllm:iteration_tokens_total"); in != tc.in {
			t.Errorf("with %s: iteration_tokens_total sum and count only %v, want %v", tc.query, in, tc.in)
		}
	}
	if _, err := cat.SumCountOnly(`sum(`); err == nil {
		t.Error("a query that does not parse: no error")
	}
}

// TestValueReads: names read only for some values of a label, from the
// catalog and from queries beside it; a read without the label, a name
// regex, histogram parts and le leave a name out.
func TestValueReads(t *testing.T) {
	cat, err := New(Options{})
	if err != nil {
		t.Fatal(err)
	}
	find := func(vrs []ValueRead, name string) *ValueRead {
		for i := range vrs {
			if vrs[i].Name == name {
				return &vrs[i]
			}
		}
		return nil
	}
	vrs, err := cat.ValueReads(`kube_pod_container_resource_requests{resource=~"nvidia_com_gpu|nvidia_com_mig_.+",node!=""}`)
	if err != nil {
		t.Fatal(err)
	}
	phase := find(vrs, "kube_pod_status_phase")
	if phase == nil || phase.Label != "phase" || len(phase.Matchers) != 1 || phase.Matchers[0].String() != `phase="Running"` {
		t.Errorf("kube_pod_status_phase: %+v, want phase=\"Running\"", phase)
	}
	req := find(vrs, "kube_pod_container_resource_requests")
	if req == nil || req.Label != "resource" || len(req.Matchers) != 2 {
		t.Errorf("kube_pod_container_resource_requests: %+v, want the catalog's and the query's resource matchers", req)
	}
	for _, tc := range []struct {
		query string
		name  string
	}{
		{`sum(kube_pod_status_phase)`, "kube_pod_status_phase"},
		{`{__name__=~"kube_pod_status_.+"}`, "kube_pod_status_phase"},
		{`{phase="Running"}`, "kube_pod_status_phase"},
		{`kube_pod_status_phase{phase=~"Running|"}`, "kube_pod_status_phase"}, // matches a series without phase
		{`x_bucket{le="+Inf"}`, "x_bucket"},
		{`x{le="+Inf"}`, "x"},
		{`x_count{code="200"}`, "x_count"},
	} {
		vrs, err := cat.ValueReads(tc.query)
		if err != nil {
			t.Fatal(err)
		}
		if vr := find(vrs, tc.name); vr != nil {
			t.Errorf("with %s: %s read for values of %s, want it read whole", tc.query, tc.name, vr.Label)
		}
	}
	vrs, err = cat.ValueReads(`y{code="200"}`, `rate(y{code=~"5.."}[5m])`)
	if err != nil {
		t.Fatal(err)
	}
	if y := find(vrs, "y"); y == nil || y.Label != "code" || len(y.Matchers) != 2 {
		t.Errorf("y: %+v, want code=\"200\" and code=~\"5..\"", y)
	}
	if _, err := cat.ValueReads(`sum(`); err == nil {
		t.Error("a query that does not parse: no error")
	}
}
