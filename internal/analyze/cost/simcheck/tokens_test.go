package simcheck

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/servescope/servescope/internal/analyze/cost"
	"github.com/servescope/servescope/internal/schema"
	"github.com/servescope/servescope/internal/sim"
)

// TestTokenCostMatchesSimulator backfills 6 hours (2 with -short or -race)
// of the mixed fleet (vLLM of three eras, SGLang, llama.cpp; H100, H200,
// L4 and MIG A100 slices; Kueue) with a dcgm-exporter restart on the first
// node halfway, and checks over the window after the first 15 minutes
// (the 5m token rates whole): each served model's cost per million tokens
// on each GPU model within 1% of the simulator's truth (its pods'
// allocated GPU-hours at the price book's price over the tokens its
// engines processed), its used-only cost per million within 3% (used hours
// sample a busy ratio), and each team's energy within 1% across the
// counter reset.
func TestTokenCostMatchesSimulator(t *testing.T) {
	base, err := os.ReadFile(filepath.Join("..", "..", "..", "..", "examples", "scenarios", "mixed.yml"))
	if err != nil {
		t.Fatal(err)
	}
	span := 6 * time.Hour
	if testing.Short() || raceEnabled {
		span = 2 * time.Hour
	}
	half := span / 2
	event := "\nevents:\n  - {at: " + half.String() + ", kind: exporter_down, node: 0}\n  - {at: " + (half + scrapeEvery).String() + ", kind: exporter_up, node: 0}\n"
	sc, err := sim.ParseScenario("mixed-restart.yml", append(base, event...))
	if err != nil {
		t.Fatal(err)
	}
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	from, end := start.Add(15*time.Minute), start.Add(span)
	stores := newStores(t, []variant{{name: "mixed", lq: true, cq: true, engines: true, source: "kueue-local-queue"}})
	var truth0 sim.Truth
	c := simulateWith(t, sc, stores, start, end, func(ts time.Time, c *sim.Cluster) {
		if ts.Equal(from) {
			truth0 = c.Truth()
		}
	})
	truth := c.Truth()
	pricesFile := filepath.Join("..", "..", "..", "..", "examples", "scenarios", "prices.yml")
	pb, err := cost.LoadPriceBook(pricesFile)
	if err != nil {
		t.Fatal(err)
	}
	cat, err := schema.New(schema.Options{})
	if err != nil {
		t.Fatal(err)
	}
	set := compute(t, stores[0], cost.Options{Catalog: cat, Prices: pb}, from, end)
	if set.TokenCost == nil {
		t.Fatal("no cost per million tokens")
	}

	// The truth over the window: the models' figures at its end less
	// those at its start, per model and GPU product.
	type key struct{ model, gpu string }
	type want struct{ hours, used, money, usedMoney, tokens float64 }
	wants := map[key]*want{}
	add := func(ms []sim.ModelTruth, sign float64) {
		for _, m := range ms {
			hourly, ok := pb.Lookup(m.Flavor, m.GPUProduct)
			if !ok {
				t.Fatalf("no price for %s / %s", m.Flavor, m.GPUProduct)
			}
			// llama.cpp's metrics carry no model_name: cost names its
			// model unattributed.
			name := m.Model
			if m.Engine == "llamacpp" {
				name = cost.Unattributed
			}
			k := key{name, m.GPUProduct}
			w := wants[k]
			if w == nil {
				w = &want{}
				wants[k] = w
			}
			p := float64(hourly) / 1e6
			w.hours += sign * m.AllocatedGPUHours
			w.used += sign * m.UsedGPUHours
			w.money += sign * m.AllocatedGPUHours * p
			w.usedMoney += sign * m.UsedGPUHours * p
			w.tokens += sign * m.Tokens()
		}
	}
	add(truth.Models, 1)
	add(truth0.Models, -1)
	checked := 0
	for _, r := range set.TokenCost.ByModelGPU {
		var w *want
		for k, kw := range wants {
			if k.model+" / "+k.gpu == r.Name {
				w = kw
			}
		}
		if w == nil {
			t.Errorf("%s: not in the truth", r.Name)
			continue
		}
		if r.CostPerMillionTokens == nil || r.PromptTokens == nil || r.GenerationTokens == nil {
			t.Errorf("%s: cost per million tokens not reported", r.Name)
			continue
		}
		truePerM := w.money / w.tokens * 1e6
		gotPerM := float64(*r.CostPerMillionTokens) / 1e6
		t.Logf("%s: %.4f per million tokens (truth %.4f), %.0f tokens (truth %.0f), %.3f GPU-h (truth %.3f), used-only %.4f (truth %.4f)",
			r.Name, gotPerM, truePerM, *r.PromptTokens+*r.GenerationTokens, w.tokens, r.AllocatedGPUHours, w.hours,
			float64(*r.UsedCostPerMillionTokens)/1e6, w.usedMoney/w.tokens*1e6)
		withinTol(t, r.Name+" cost per million tokens", gotPerM, truePerM, 0.01)
		withinTol(t, r.Name+" used-only cost per million tokens", float64(*r.UsedCostPerMillionTokens)/1e6, w.usedMoney/w.tokens*1e6, 0.03)
		checked++
	}
	if checked != len(wants) || checked < 4 {
		t.Errorf("checked %d models on GPU models, the truth has %d", checked, len(wants))
	}

	// Energy per team over the window, across the exporter restart.
	teams0 := map[string]float64{}
	for _, tt := range truth0.Teams {
		teams0[tt.Team] = tt.EnergyKWh
	}
	alloc := map[string]cost.Allocation{}
	for _, a := range set.Allocations {
		alloc[a.Name] = a
	}
	for _, tt := range truth.Teams {
		wantKWh := tt.EnergyKWh - teams0[tt.Team]
		t.Logf("%s: %.4f kWh (truth %.4f)", tt.Team, alloc[tt.Team].EnergyKWh, wantKWh)
		withinTol(t, tt.Team+" energy", alloc[tt.Team].EnergyKWh, wantKWh, 0.01)
	}
}
