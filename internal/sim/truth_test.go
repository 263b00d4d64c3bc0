package sim

import (
	"testing"
	"time"
)

// TestScenarioTruth checks that each scenario produces the ground truth it
// is named for: the state it exists to show is the most common one among
// its pod-minutes (or, for short events, is present).
func TestScenarioTruth(t *testing.T) {
	t.Parallel()
	tests := []struct {
		scenario string
		dominant State // the most common state
		present  State // a state that must appear at least once
	}{
		{"healthy", StateHealthy, ""},
		{"idle", StateIdle, ""},
		{"cpu-bound", StateHostBound, ""},
		{"memory-bound", StateMemoryBound, ""},
		{"kv-saturation", StateKVSaturated, ""},
		{"backlog", StateBacklog, ""},
		{"ttft-regression", StateHealthy, StateTTFTRegression},
		{"poor-spec-decode", StatePoorSpecDecode, ""},
		{"noisy-tenant", "", StateBacklog},
		{"exporter-down", "", StateExporterDown},
		{"mixed", StateHealthy, ""},
	}
	for _, tt := range tests {
		t.Run(tt.scenario, func(t *testing.T) {
			t.Parallel()
			gpus, d := 16, 35*time.Minute
			if tt.scenario == "noisy-tenant" { // needs room for a burst that reclaims borrowed quota
				gpus, d = 64, 70*time.Minute
			}
			c := newTestCluster(t, tt.scenario, gpus)
			c.Step(c.Start().Add(d))
			counts := c.Truth().StateCounts()
			var top State
			for s, n := range counts {
				if top == "" || n > counts[top] || (n == counts[top] && s < top) {
					top = s
				}
			}
			if tt.dominant != "" && top != tt.dominant {
				t.Errorf("most common state %s, want %s (%v)", top, tt.dominant, counts)
			}
			if tt.present != "" && counts[tt.present] == 0 {
				t.Errorf("no %s minute (%v)", tt.present, counts)
			}
		})
	}
}

func TestXIDEvent(t *testing.T) {
	t.Parallel()
	sc := loadExample(t, "healthy")
	sc.Events = append(sc.Events, Event{At: Duration(5 * time.Minute), Kind: "xid", Node: 0, GPU: 0, XID: 79, Nodes: 1})
	c, err := NewCluster(Options{Scenario: sc, GPUs: 8, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	c.Step(c.Start().Add(10 * time.Minute))
	if c.Truth().StateCounts()[StateXID] == 0 {
		t.Errorf("no xid minute: %v", c.Truth().StateCounts())
	}
	b, err := c.RenderBytes("/targets/dcgm/" + c.nodes[0].name + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, s := range parseExposition(t, b) {
		if s.name == "DCGM_FI_DEV_XID_ERRORS" && s.value == 79 && s.labels["err_code"] == "79" && s.labels["err_msg"] == "GPU has fallen off the bus" {
			found = true
		}
	}
	if !found {
		t.Error("DCGM_FI_DEV_XID_ERRORS 79 not exposed")
	}
}
