package diagnose

import (
	"math"
)

// Utilisation is the fleet utilisation report over the window.
type Utilisation struct {
	// GPUs counts those with busy data in the window.
	GPUs int `json:"gpus"`
	// MeanBusy is the time-weighted mean busy over every GPU and step.
	MeanBusy float64 `json:"mean_busy"`
	// Shares of GPUs whose mean busy is below LowBusy and above HighBusy,
	// and the same at the peak (the step of highest fleet busy).
	BelowLowMean  float64    `json:"below_low_mean"`
	AboveHighMean float64    `json:"above_high_mean"`
	BelowLowPeak  float64    `json:"below_low_peak"`
	AboveHighPeak float64    `json:"above_high_peak"`
	PeakAt        string     `json:"peak_at,omitempty"`
	Bands         [2]float64 `json:"bands"`
	// GPUHours observed; IdleGPUHours is Σ (1 − busy)·Δt, the unused part;
	// UnallocatedGPUHours the part held by no pod.
	GPUHours            float64 `json:"gpu_hours"`
	IdleGPUHours        float64 `json:"idle_gpu_hours"`
	UnallocatedGPUHours float64 `json:"unallocated_gpu_hours"`
	// Money in minor currency units (cents), at Prices; Unpriced counts
	// GPU-hours of models without a price.
	Cost               int64   `json:"cost_minor"`
	IdleCost           int64   `json:"idle_cost_minor"`
	SavingsPer10Points int64   `json:"savings_per_10_points_minor"`
	UnpricedGPUHours   float64 `json:"unpriced_gpu_hours"`
}

// Prices maps a GPU's modelName (as dcgm-exporter reports it) to its price
// per GPU-hour in minor currency units.
type Prices map[string]int64

// utilisation builds the report without prices; Price adds the money.
func utilisation(s *Snapshot, th Thresholds) Utilisation {
	u := Utilisation{Bands: [2]float64{th.LowBusy, th.HighBusy}}
	n := s.Window.Steps()
	if len(s.GPUs) == 0 || n == 0 {
		return u
	}
	dt := s.Window.Step.Hours()
	var sum float64
	var cnt int
	peak, peakI := math.Inf(-1), -1
	for i := range n {
		var si float64
		var ni int
		for g := range s.GPUs {
			if b := s.GPUs[g].Busy.at(i); !math.IsNaN(b) {
				si += b
				ni++
				u.GPUHours += dt
				u.IdleGPUHours += (1 - b) * dt
				if s.GPUs[g].Pod == "" {
					u.UnallocatedGPUHours += dt
				}
			}
		}
		sum += si
		cnt += ni
		if ni > 0 && si/float64(ni) > peak {
			peak, peakI = si/float64(ni), i
		}
	}
	if cnt == 0 {
		return u
	}
	u.MeanBusy = round(sum / float64(cnt))
	var low, high, lowP, highP, m, mp int
	for g := range s.GPUs {
		if st := s.GPUs[g].Busy.stats(0, n); st.n > 0 {
			m++
			u.GPUs++
			if st.mean < th.LowBusy {
				low++
			}
			if st.mean > th.HighBusy {
				high++
			}
		}
		if b := s.GPUs[g].Busy.at(peakI); !math.IsNaN(b) {
			mp++
			if b < th.LowBusy {
				lowP++
			}
			if b > th.HighBusy {
				highP++
			}
		}
	}
	share := func(a, b int) float64 { return round(float64(a) / float64(max(1, b))) }
	u.BelowLowMean, u.AboveHighMean = share(low, m), share(high, m)
	u.BelowLowPeak, u.AboveHighPeak = share(lowP, mp), share(highP, mp)
	u.PeakAt = s.Window.At(peakI).UTC().Format("2006-01-02T15:04:05Z")
	u.GPUHours, u.IdleGPUHours, u.UnallocatedGPUHours = round(u.GPUHours), round(u.IdleGPUHours), round(u.UnallocatedGPUHours)
	return u
}

// Price returns the report with costs at the given prices: the cost of the
// observed GPU-hours, of their idle part, and what 10 more points of mean
// busy would save (the same work on fewer GPU-hours: cost·(1 − u/(u+0.1))).
func Price(s *Snapshot, u Utilisation, prices Prices) Utilisation {
	n := s.Window.Steps()
	dtMilli := s.Window.Step.Milliseconds()
	var cost, idle float64 // minor units; summed as float, rounded once
	for g := range s.GPUs {
		gp := &s.GPUs[g]
		price, ok := prices[gp.ModelName]
		for i := range n {
			b := gp.Busy.at(i)
			if math.IsNaN(b) {
				continue
			}
			h := float64(dtMilli) / 3.6e6
			if !ok {
				u.UnpricedGPUHours += h
				continue
			}
			cost += float64(price) * h
			idle += float64(price) * h * (1 - b)
		}
	}
	u.UnpricedGPUHours = round(u.UnpricedGPUHours)
	u.Cost, u.IdleCost = int64(math.Round(cost)), int64(math.Round(idle))
	if m := u.MeanBusy; m > 0 {
		u.SavingsPer10Points = int64(math.Round(cost * (1 - m/min(1, m+0.1))))
	}
	return u
}
