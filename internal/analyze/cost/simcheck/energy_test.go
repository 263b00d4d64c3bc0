package simcheck

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/servescope/servescope/internal/analyze/cost"
	"github.com/servescope/servescope/internal/schema"
	"github.com/servescope/servescope/internal/sim"
)

// TestEnergyMatchesSimulator simulates 6 hours (2 with -short or -race) of
// the base fleet with a dcgm-exporter restart on the first node halfway
// (down one scrape, its energy counters back at zero), and checks each
// team's energy, the idle energy and the fleet's against the simulator's
// truth within 1%: from the energy counter (resets handled as increase
// does), and from the power gauge where the counter is absent (2% on the
// short span: the simulator exposes the power of the last one-second
// tick, so a one-minute scrape samples it, and the sampling noise only
// averages out over hours).
func TestEnergyMatchesSimulator(t *testing.T) {
	base, err := os.ReadFile(filepath.Join("testdata", "base.yml"))
	if err != nil {
		t.Fatal(err)
	}
	span, gaugeTol := 6*time.Hour, 0.01
	if testing.Short() || raceEnabled {
		span, gaugeTol = 2*time.Hour, 0.02
	}
	half := span / 2
	event := "events:\n  - {at: " + half.String() + ", kind: exporter_down, node: 0}\n  - {at: " + (half + scrapeEvery).String() + ", kind: exporter_up, node: 0}\n"
	sc, err := sim.ParseScenario("restart.yml", append(base, event...))
	if err != nil {
		t.Fatal(err)
	}
	variants := []variant{
		{name: "energy-counter-honor-on", honor: true},
		{name: "energy-counter-honor-off"},
		{name: "power-gauge", noEnergyCounter: true},
	}
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	end := start.Add(span)
	stores := newStores(t, variants)
	c := simulate(t, sc, stores, start, end)
	truth := c.Truth()
	if truth.Fleet.EnergyKWh <= 0 {
		t.Fatal("the truth has no energy")
	}
	for _, s := range stores {
		t.Run(s.v.name, func(t *testing.T) {
			t.Parallel()
			cat, err := schema.New(schema.Options{})
			if err != nil {
				t.Fatal(err)
			}
			set := compute(t, s, cost.Options{Catalog: cat, CarbonIntensity: 400}, start, end)
			tol := 0.01
			if s.v.noEnergyCounter {
				tol = gaugeTol
			}
			wantSource := "energy from DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION"
			if s.v.noEnergyCounter {
				wantSource = "energy integrated from DCGM_FI_DEV_POWER_USAGE"
			}
			if !strings.HasPrefix(set.EnergySource, wantSource) {
				t.Errorf("energy source %q, want %q", set.EnergySource, wantSource)
			}
			got := map[string]cost.Allocation{}
			for _, a := range set.Allocations {
				got[a.Name] = a
			}
			for _, tt := range truth.Teams {
				a := got[tt.Team]
				withinTol(t, tt.Team+" energy", a.EnergyKWh, tt.EnergyKWh, tol)
				withinTol(t, tt.Team+" emissions", a.EmissionsKgCO2e, tt.EnergyKWh*0.4, tol)
				t.Logf("%s: %.4f kWh (truth %.4f)", tt.Team, a.EnergyKWh, tt.EnergyKWh)
			}
			if set.Idle == nil {
				t.Fatal("no idle allocation")
			}
			t.Logf("idle %.4f (truth %.4f), fleet %.4f (truth %.4f)", set.Idle.EnergyKWh, truth.Fleet.IdleEnergyKWh, set.Fleet.EnergyKWh, truth.Fleet.EnergyKWh)
			withinTol(t, "idle energy", set.Idle.EnergyKWh, truth.Fleet.IdleEnergyKWh, tol)
			withinTol(t, "fleet energy", set.Fleet.EnergyKWh, truth.Fleet.EnergyKWh, tol)
			withinTol(t, "total energy", set.Totals.EnergyKWh, truth.Fleet.EnergyKWh, tol)
			if len(set.GPUEnergy) != len(truth.GPUEnergy) {
				t.Errorf("energy of %d GPUs, truth has %d", len(set.GPUEnergy), len(truth.GPUEnergy))
			}
		})
	}
}
