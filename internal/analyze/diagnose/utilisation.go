package diagnose

import (
	"math"

	"github.com/servescope/servescope/internal/analyze/fleet"
)

// Utilisation is the fleet utilisation report over the window: how busy
// the GPUs were (the distribution, from the snapshot) and the fleet model
// over the same window (GPU counts, GPU-hours and money, read from
// internal/analyze/fleet like every other surface).
type Utilisation struct {
	// MeanBusy is the fleet's busy: used ÷ allocated from the fleet model
	// when there is one, else the time-weighted mean over every GPU series.
	MeanBusy float64 `json:"mean_busy"`
	// Shares of GPUs whose mean busy is below LowBusy and above HighBusy,
	// and the same at the peak (the step of highest fleet busy).
	BelowLowMean  float64    `json:"below_low_mean"`
	AboveHighMean float64    `json:"above_high_mean"`
	BelowLowPeak  float64    `json:"below_low_peak"`
	AboveHighPeak float64    `json:"above_high_peak"`
	PeakAt        string     `json:"peak_at,omitempty"`
	Bands         [2]float64 `json:"bands"`
	// Fleet is the fleet model over the window; nil when the diagnoser has
	// no fleet calculator.
	Fleet *fleet.Model `json:"fleet,omitempty"`
}

// utilisation builds the report without prices; Price adds the money.
func utilisation(s *Snapshot, th Thresholds) Utilisation {
	u := Utilisation{Bands: [2]float64{th.LowBusy, th.HighBusy}}
	n := s.Window.Steps()
	if len(s.GPUs) == 0 || n == 0 {
		return u
	}
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
	return u
}

// WithFleet puts the fleet model on the report: the utilisation's GPU
// counts, GPU-hours and money, and its mean busy (used ÷ allocated).
func (u Utilisation) WithFleet(m *fleet.Model) Utilisation {
	u.Fleet = m
	if m != nil && m.Hours.Allocated > 0 {
		u.MeanBusy = round(m.Busy)
	}
	return u
}
