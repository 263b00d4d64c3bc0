package cli

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/servescope/servescope/internal/analyze/cost"
)

// TestWriteCostEmptySet: a window without data shows the requested window
// and the set's warning in the table and CSV, never a zero time.
func TestWriteCostEmptySet(t *testing.T) {
	t.Parallel()
	start := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	rep := &cost.Report{By: cost.ByTeam, Currency: "USD", Sets: []cost.Set{{Start: start, End: start.Add(24 * time.Hour),
		Warnings: []string{"no GPU data from 2026-03-01T00:00:00Z to 2026-03-02T00:00:00Z: nothing to attribute"}}}}
	for _, format := range []string{"table", "csv"} {
		var out bytes.Buffer
		if err := WriteCost(&out, rep, format); err != nil {
			t.Fatal(err)
		}
		s := out.String()
		if strings.Contains(s, "0001-01-01") || !strings.Contains(s, "2026-03-01T00:00:00Z/2026-03-02T00:00:00Z") {
			t.Errorf("%s: want the requested window, got\n%s", format, s)
		}
		if format == "table" && !strings.Contains(s, "warning: no GPU data") {
			t.Errorf("table: no warning in\n%s", s)
		}
	}
}

// TestWriteCostEnergy: the energy column is always there, the emissions
// column only with a carbon intensity, and the energy's source is said.
func TestWriteCostEnergy(t *testing.T) {
	t.Parallel()
	start := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	set := func(kg float64) cost.Set {
		return cost.Set{Start: start, End: start.Add(time.Hour), CoveredStart: start, CoveredEnd: start.Add(time.Hour),
			EnergySource:   "energy from DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION",
			TokensPerJoule: []cost.ModelEnergy{{Model: "llama", GPUModel: "H100", TokensPerJoule: 0.25, PromptPerJoule: 0.2, GeneratedPerJoule: 0.05, EnergyKWh: 1.25}},
			Allocations:    []cost.Allocation{{Name: "search", EnergyKWh: 1.25, EmissionsKgCO2e: kg}},
			Totals:         cost.Allocation{Name: "__total__", EnergyKWh: 1.25, EmissionsKgCO2e: kg}}
	}
	for _, tt := range []struct {
		kg        float64
		emissions bool
	}{{0, false}, {0.5, true}} {
		var out bytes.Buffer
		if err := WriteCost(&out, &cost.Report{By: cost.ByTeam, Sets: []cost.Set{set(tt.kg)}}, "table"); err != nil {
			t.Fatal(err)
		}
		s := out.String()
		if !strings.Contains(s, "ENERGY_KWH") || !strings.Contains(s, "1.250") || !strings.Contains(s, "energy from DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION") {
			t.Errorf("no energy column, figure or source in\n%s", s)
		}
		if !strings.Contains(s, "tokens per joule: llama on H100: 0.2500 (prompt 0.2000, generated 0.0500") {
			t.Errorf("no tokens per joule in\n%s", s)
		}
		if got := strings.Contains(s, "EMISSIONS_KG_CO2E") && strings.Contains(s, "0.500"); got != tt.emissions {
			t.Errorf("emissions %g kg: column shown %v, want %v in\n%s", tt.kg, got, tt.emissions, s)
		}
	}
}

// TestWriteCostTokens: the cost per million tokens table follows the
// allocations, a figure no engine reports shown as "-" (never 0), the
// per-million money to four decimals, and the pods without token counters
// said.
func TestWriteCostTokens(t *testing.T) {
	t.Parallel()
	start := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	f := func(v float64) *float64 { return &v }
	m := func(v cost.Micros) *cost.Micros { return &v }
	llama := cost.TokenCost{Name: "llama / H100", AllocatedGPUHours: 1, Cost: 3_000_000, PromptTokens: f(3.6e6), GenerationTokens: f(9e5),
		CostPerMillionTokens: m(666_667), UsedCostPerMillionTokens: m(333_333), ReferencePerMillionTokens: m(280_000)}
	mystery := cost.TokenCost{Name: "mystery / H100", AllocatedGPUHours: 1, Cost: 3_000_000, PodsWithoutTokens: 1}
	tc := &cost.TokenCosts{ByModelGPU: []cost.TokenCost{llama, mystery}, ByTeam: []cost.TokenCost{{Name: "chat"}},
		Totals: cost.TokenCost{Name: "__total__", Cost: 6_000_000, PodsWithoutTokens: 1}}
	rep := &cost.Report{By: cost.ByTeam, Currency: "USD", Sets: []cost.Set{{Start: start, End: start.Add(time.Hour), TokenCost: tc}}}
	var out bytes.Buffer
	if err := WriteCost(&out, rep, "table"); err != nil {
		t.Fatal(err)
	}
	s := out.String()
	for _, want := range []string{"cost per million tokens", "MODEL_ON_GPU", "PER_M_TOKENS", "USED_ONLY_PER_M", "0.6667 USD", "0.3333 USD", "0.2800 USD",
		"3600000", "TEAM", "1 serving pod(s) export no token counter"} {
		if !strings.Contains(s, want) {
			t.Errorf("no %q in\n%s", want, s)
		}
	}
	for _, line := range strings.Split(s, "\n") {
		if strings.HasPrefix(line, "mystery") && (!strings.Contains(line, " - ") || strings.Contains(line, " 0 ")) {
			t.Errorf("mystery's tokens must read not reported (-), never 0: %q", line)
		}
	}
}
