package cost_test

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/servescope/servescope/internal/analyze/cost"
	"github.com/servescope/servescope/internal/schema"
)

// TestTokenCost checks testdata/tokens.test's per-million figures
// explicitly: the golden file is not the only record of what is right. A
// missing token counter is not reported (nil), zero tokens give no
// per-million figure (never Inf), and a reference price is shown beside.
func TestTokenCost(t *testing.T) {
	t.Parallel()
	eng, _ := loadScript(t, filepath.Join("testdata", "tokens.test"))
	cat, err := schema.New(schema.Options{})
	if err != nil {
		t.Fatal(err)
	}
	pb, err := cost.ParsePriceBook("prices.yml", []byte(testPrices))
	if err != nil {
		t.Fatal(err)
	}
	// llama's reference: 0.20 per million input, 0.60 per million output
	// tokens: 3.6 × 0.20 + 0.9 × 0.60 = 1.26 for its 4.5M tokens.
	calc, err := cost.New(cost.Options{Catalog: cat, Prices: pb, ReferencePrices: map[string]cost.ReferencePrice{"llama": {Input: 200_000, Output: 600_000}}})
	if err != nil {
		t.Fatal(err)
	}
	for _, step := range []time.Duration{time.Minute, 7 * time.Minute} {
		rep, err := calc.Compute(t.Context(), eng, cost.Request{Start: time.Unix(600, 0), End: time.Unix(4200, 0), Step: step})
		if err != nil {
			t.Fatal(err)
		}
		tc := rep.Sets[0].TokenCost
		if tc == nil {
			t.Fatal("no token cost")
		}
		got := map[string]cost.TokenCost{}
		for _, r := range tc.ByModel {
			got[r.Name] = r
		}
		micros := func(m *cost.Micros) any {
			if m == nil {
				return nil
			}
			return *m
		}
		tokens := func(f *float64) any {
			if f == nil {
				return nil
			}
			return *f
		}
		tests := []struct {
			model                                     string
			perM, usedPerM, perMPrompt, perMGen, comp any
			prompt, computed                          any
			ref                                       any
		}{
			{"llama", cost.Micros(666_667), cost.Micros(333_333), cost.Micros(833_333), cost.Micros(3_333_333), cost.Micros(1_388_889), 3.6e6, 2.16e6, cost.Micros(1_260_000)},
			{"qwen", cost.Micros(833_333), cost.Micros(666_667), cost.Micros(1_666_667), cost.Micros(1_666_667), cost.Micros(2_083_333), 1.8e6, 1.44e6, nil},
			{"mystery", nil, nil, nil, nil, nil, nil, nil, nil},
			{"idle-model", nil, nil, nil, nil, nil, 0.0, nil, nil},
		}
		for _, tt := range tests {
			r, ok := got[tt.model]
			if !ok {
				t.Fatalf("step %s: no row for %s in %+v", step, tt.model, tc.ByModel)
			}
			if r.Cost != 3_000_000 {
				t.Errorf("step %s %s: cost %s, want 3.00", step, tt.model, r.Cost)
			}
			for _, c := range []struct {
				what      string
				got, want any
			}{
				{"per million", micros(r.CostPerMillionTokens), tt.perM},
				{"used per million", micros(r.UsedCostPerMillionTokens), tt.usedPerM},
				{"per million prompt", micros(r.CostPerMillionPrompt), tt.perMPrompt},
				{"per million generated", micros(r.CostPerMillionGeneration), tt.perMGen},
				{"per million computed", micros(r.CostPerMillionComputed), tt.comp},
				{"prompt tokens", tokens(r.PromptTokens), tt.prompt},
				{"computed prompt tokens", tokens(r.ComputedPromptTokens), tt.computed},
				{"reference cost", micros(r.ReferenceCost), tt.ref},
			} {
				if c.got != c.want {
					t.Errorf("step %s %s %s: %v, want %v", step, tt.model, c.what, c.got, c.want)
				}
			}
		}
		if got["mystery"].PodsWithoutTokens != 1 {
			t.Errorf("mystery: %d pods without tokens, want 1", got["mystery"].PodsWithoutTokens)
		}
		// The totals leave mystery's 3.00 out of the per-token cost: 9.00
		// over 8.1M tokens.
		if m := tc.Totals.CostPerMillionTokens; m == nil || *m != 1_111_111 || tc.Totals.Cost != 12_000_000 {
			t.Errorf("totals: cost %s, per million %v, want 12.00 and 1.111111", tc.Totals.Cost, micros(m))
		}
		if len(tc.ByTeam) != 1 || tc.ByTeam[0].Name != "chat" || len(tc.ByGPUModel) != 1 || tc.ByGPUModel[0].Name != "NVIDIA-H100-80GB-HBM3" {
			t.Errorf("by team %+v, by GPU model %+v", tc.ByTeam, tc.ByGPUModel)
		}
	}
}
