package diagnose

import (
	"math"
	"testing"
	"time"
)

// TestAttributeGateways: a queue goes to the pods of its namespace serving
// its model (case aside), a queue without a model to the one model of its
// namespace, a queue whose namespace serves two models and that names none
// to nobody; each pod gets its share, and the report's statuses name the
// team of the fairness_id.
func TestAttributeGateways(t *testing.T) {
	t.Parallel()
	start := time.Unix(0, 0)
	s := &Snapshot{Window: Window{Start: start, End: start.Add(30 * time.Second), Step: 15 * time.Second}}
	tr := func(v ...float64) Track { return Track(v) }
	s.Pods = []Pod{
		{Namespace: "chat", Pod: "chat-0", Model: "Llama"},
		{Namespace: "chat", Pod: "chat-1", Model: "Llama"},
		{Namespace: "search", Pod: "search-0", Model: "Llama"},
		{Namespace: "agents", Pod: "agents-0", Model: "Qwen"},
		{Namespace: "mixed", Pod: "a-0", Model: "A"},
		{Namespace: "mixed", Pod: "b-0", Model: "B"},
	}
	nan := math.NaN()
	s.Gateways = []GatewayQueue{
		{Namespace: "chat", Pod: "epp", Model: "llama", FairnessID: "tenant-a", Queued: tr(4, 8, nan)},
		{Namespace: "chat", Pod: "epp", Model: "llama", FairnessID: "tenant-b", Queued: tr(2, 2, nan)},
		{Namespace: "agents", Pod: "frontend", Queued: tr(3, 3, 3)},
		{Namespace: "mixed", Pod: "frontend", Queued: tr(9, 9, 9)},
	}
	attributeGateways(s)
	want := map[string]Track{
		"chat-0": tr(3, 5, nan), "chat-1": tr(3, 5, nan), "search-0": nil, "agents-0": tr(3, 3, 3), "a-0": nil, "b-0": nil,
	}
	for _, p := range s.Pods {
		w := want[p.Pod]
		if len(w) != len(p.GatewayQueued) {
			t.Errorf("%s: GatewayQueued %v, want %v", p.Pod, p.GatewayQueued, w)
			continue
		}
		for i := range w {
			if !(w[i] == p.GatewayQueued[i] || math.IsNaN(w[i]) && math.IsNaN(p.GatewayQueued[i])) {
				t.Errorf("%s: GatewayQueued %v, want %v", p.Pod, p.GatewayQueued, w)
				break
			}
		}
	}
	st := gatewayStatuses(s, map[string]string{"tenant-a": "chat-team"})
	if len(st) != 4 || st[0].Team != "chat-team" || st[0].Serves != "Llama" || st[0].MeanQueued != 6 || st[0].PeakQueued != 8 ||
		st[1].Team != "" || st[2].Serves != "Qwen" || st[3].Serves != "" {
		t.Errorf("statuses %+v", st)
	}
}
