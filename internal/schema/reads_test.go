package schema

import (
	"testing"
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
