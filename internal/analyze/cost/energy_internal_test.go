package cost

import (
	"strings"
	"testing"
)

func TestEnergySource(t *testing.T) {
	for _, tt := range []struct {
		gpus, power int
		want        string
	}{
		{0, 0, ""},
		{3, 0, "energy from DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION"},
		{3, 3, "integrated from DCGM_FI_DEV_POWER_USAGE: the energy counter is absent"},
		{3, 1, "for 1 of 3 GPUs without the energy counter"},
	} {
		got := energySource(tt.gpus, tt.power)
		if (tt.want == "") != (got == "") || !strings.Contains(got, tt.want) {
			t.Errorf("energySource(%d, %d) = %q, want it to say %q", tt.gpus, tt.power, got, tt.want)
		}
	}
}

func TestSetEnergy(t *testing.T) {
	for _, tt := range []struct {
		joules, intensity, kwh, kg float64
	}{
		{3.6e6, 0, 1, 0},
		{7.2e6, 400, 2, 0.8},
	} {
		c := &Calculator{opts: Options{CarbonIntensity: tt.intensity}}
		var a Allocation
		c.setEnergy(&a, tt.joules)
		if a.EnergyKWh != tt.kwh || a.EmissionsKgCO2e != tt.kg {
			t.Errorf("setEnergy(%g J, %g g/kWh) = %g kWh, %g kg; want %g, %g", tt.joules, tt.intensity, a.EnergyKWh, a.EmissionsKgCO2e, tt.kwh, tt.kg)
		}
	}
}
