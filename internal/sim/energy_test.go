package sim

import (
	"math"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/servescope/servescope/internal/testutil/expo"
)

// TestEnergyTruthAndCounterReset checks that the energy truth adds up
// (teams + idle = fleet = Σ GPUs) and that an exporter restart resets the
// rendered energy counter of its node's GPUs while the truth runs on.
func TestEnergyTruthAndCounterReset(t *testing.T) {
	t.Parallel()
	base, err := os.ReadFile(filepath.Join(scenarioDir, "exporter-down.yml"))
	if err != nil {
		t.Fatal(err)
	}
	sc, err := ParseScenario("restart.yml", append(base, "  - {at: 12m, kind: exporter_up, node: 0, nodes: 2}\n"...))
	if err != nil {
		t.Fatal(err)
	}
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	c, err := NewCluster(Options{Scenario: sc, Seed: 3, GPUs: 16, Start: start, TruthRetention: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	counters := func(node int) map[string]float64 {
		t.Helper()
		b, err := c.RenderBytes("/targets/dcgm/" + c.nodes[node].name + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		out := map[string]float64{}
		for _, s := range expo.Parse(t, b) {
			if s.Labels.Get("__name__") == "DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION" {
				out[s.Labels.Get("UUID")+"/"+s.Labels.Get("GPU_I_ID")] = s.Value
			}
		}
		return out
	}
	c.Step(start.Add(9 * time.Minute))
	before := counters(0)
	if len(before) == 0 {
		t.Fatal("no energy counter rendered")
	}
	c.Step(start.Add(13 * time.Minute))
	after, other := counters(0), counters(1)
	for k, v := range after {
		// One minute since the restart: at most a card's full power.
		if v <= 0 || v >= before[k] || v > 700*60*1000 {
			t.Errorf("GPU %s: counter %.0f mJ after the restart, %.0f before: not reset", k, v, before[k])
		}
	}
	for k, v := range other {
		if v < 68*13*60*1000*0.99 {
			t.Errorf("GPU %s of a node without restart: counter %.0f mJ, reset or not counting", k, v)
		}
	}
	c.Step(start.Add(40 * time.Minute))
	tr := c.Truth()
	var teams, gpus float64
	for _, tt := range tr.Teams {
		teams += tt.EnergyKWh
	}
	for _, g := range tr.GPUEnergy {
		gpus += g.EnergyKWh
	}
	f := tr.Fleet
	if f.EnergyKWh <= 0 || math.Abs(teams+f.IdleEnergyKWh-f.EnergyKWh) > 1e-9*f.EnergyKWh || math.Abs(gpus-f.EnergyKWh) > 1e-6*f.EnergyKWh {
		t.Errorf("energy truth: teams %.6f + idle %.6f, fleet %.6f, Σ GPUs %.6f kWh", teams, f.IdleEnergyKWh, f.EnergyKWh, gpus)
	}
	// 16 GPUs for 40 minutes draw between their idle and full power.
	if lo, hi := 16*0.016*40.0/60, 16*0.7*40.0/60; f.EnergyKWh < lo || f.EnergyKWh > hi {
		t.Errorf("fleet energy %.3f kWh, want within [%.3f, %.3f]", f.EnergyKWh, lo, hi)
	}
}
