// Package health decides which GPUs are unusable from dcgm-exporter's
// health signals (the catalog's gpu_row_remap_failure,
// gpu_uncorrectable_remapped_rows, gpu_xid_errors, gpu_health_status and
// gpu_last_xid): one reader and one judgement, called by the diagnosis
// (findings, idle and capacity advice) and by the fleet model (its
// unusable GPUs), so that every surface names the same GPUs. It reads
// only through a Querier and never imports the simulator.
package health

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Thresholds are the limits of the unusable-GPU judgement; they sit in
// the diagnosis thresholds (servescope.yml's diagnosis section, inline),
// the one place every threshold is read from.
type Thresholds struct {
	// Lookback is the trailing span the judgement reads at the end of a
	// window: a GPU is unusable when it shows a failure within it.
	Lookback time.Duration `yaml:"unusable_lookback"`
	// XIDRepeat is how many XIDs within dcgm-exporter's count window
	// (gpu_xid_errors, Σ over codes) are repeated XIDs.
	XIDRepeat float64 `yaml:"unusable_xid_repeat"`
	// XIDPersist: without the XID count, a code of UnusableXIDs that the
	// last-error gauge (gpu_last_xid) keeps reporting this long was never
	// cleared by a GPU reset.
	XIDPersist time.Duration `yaml:"unusable_xid_persist"`
}

// DefaultThresholds are the documented defaults (docs/diagnosis.md).
func DefaultThresholds() Thresholds {
	return Thresholds{Lookback: 15 * time.Minute, XIDRepeat: 2, XIDPersist: 5 * time.Minute}
}

// Validate checks the thresholds; each error names the YAML key.
func (th Thresholds) Validate() error {
	var errs []error
	if th.Lookback <= 0 {
		errs = append(errs, fmt.Errorf("diagnosis threshold unusable_lookback: %s must be positive", th.Lookback))
	}
	if th.XIDRepeat < 2 {
		errs = append(errs, fmt.Errorf("diagnosis threshold unusable_xid_repeat: %g must be at least 2 (one XID is not repeated)", th.XIDRepeat))
	}
	if th.XIDPersist <= 0 {
		errs = append(errs, fmt.Errorf("diagnosis threshold unusable_xid_persist: %s must be positive", th.XIDPersist))
	} else if th.Lookback > 0 && th.XIDPersist > th.Lookback {
		errs = append(errs, fmt.Errorf("diagnosis threshold unusable_xid_persist: %s is longer than unusable_lookback %s", th.XIDPersist, th.Lookback))
	}
	return errors.Join(errs...)
}

// UnusableXIDs are the XID codes NVIDIA's XID catalog says need a GPU
// reset or replacement (48 double-bit ECC, 64 row-remapper failure, 79
// fallen off the bus, 92 high single-bit ECC rate, 94/95 contained and
// uncontained ECC errors, 119/120 GSP errors): with only the last-error
// gauge, one of them still reported after XIDPersist was never cleared.
var UnusableXIDs = []int{48, 64, 79, 92, 94, 95, 119, 120}

// HealthFail is DCGM's health-check result for a failed watch
// (dcgmHealthWatchResult_t: PASS 0, WARN 10, FAIL 20).
const HealthFail = 20

// Track is one signal of one GPU, a value per step; NaN where the signal
// had no value.
type Track []float64

// NewTrack returns a track of n steps without values.
func NewTrack(n int) Track {
	t := make(Track, n)
	for i := range t {
		t[i] = math.NaN()
	}
	return t
}

func (t Track) at(i int) float64 {
	if i < 0 || i >= len(t) {
		return math.NaN()
	}
	return t[i]
}

func (t Track) slice(from, to int) Track {
	if t == nil {
		return nil
	}
	return append(Track(nil), t[min(from, len(t)):min(to, len(t))]...)
}

// Tracks are one GPU's health signals over a window of steps. Absent
// signals are nil (not reported, never 0).
type Tracks struct {
	RemapFailure Track
	// UncorrectableRows is the counter of rows remapped for uncorrectable
	// errors.
	UncorrectableRows Track
	// XIDCount is gpu_xid_errors per XID code (dcgm-exporter's windowed
	// count); the code-less zero series is under 0.
	XIDCount map[int]Track
	// XIDWindow is the count's window (label window_size_in_ms); 0 when
	// not reported.
	XIDWindow time.Duration
	// LastXID is the last-error gauge.
	LastXID Track
	// Status is gpu_health_status per "watch error_code" (e.g. "MEM
	// DCGM_FR_ROW_REMAP_FAILURE").
	Status map[string]Track
}

// Slice returns the steps [from, to) of every track.
func (t Tracks) Slice(from, to int) Tracks {
	out := Tracks{RemapFailure: t.RemapFailure.slice(from, to), UncorrectableRows: t.UncorrectableRows.slice(from, to),
		XIDWindow: t.XIDWindow, LastXID: t.LastXID.slice(from, to)}
	if t.XIDCount != nil {
		out.XIDCount = map[int]Track{}
		for k, v := range t.XIDCount {
			out.XIDCount[k] = v.slice(from, to)
		}
	}
	if t.Status != nil {
		out.Status = map[string]Track{}
		for k, v := range t.Status {
			out.Status[k] = v.slice(from, to)
		}
	}
	return out
}

// Reported says whether any health signal has a value: a GPU without
// them cannot be judged (dcgm-exporter without the fields).
func (t Tracks) Reported() bool {
	return t.RemapFailure != nil || t.UncorrectableRows != nil || t.XIDCount != nil || t.LastXID != nil || t.Status != nil
}

// Verdict is the judgement of one GPU at the end of its tracks: Unusable
// with the reasons (each a sentence fragment) and the facts behind them.
type Verdict struct {
	Unusable bool
	Reasons  []string
	// XIDs are the XID codes reported within the lookback, ascending.
	XIDs []int
	// RemapFailure is the last value of gpu_row_remap_failure in the
	// lookback (NaN: not reported).
	RemapFailure float64
	// RowsIncrease is the rise of gpu_uncorrectable_remapped_rows within
	// the lookback (NaN: not reported).
	RowsIncrease float64
	// XIDsInWindow is the most XIDs (Σ over codes) dcgm-exporter counted
	// within its window at a step of the lookback (NaN: the count is not
	// reported, the judgement fell back to the last-error gauge).
	XIDsInWindow float64
	// Failing lists the failed health watches ("MEM DCGM_FR_…").
	Failing []string
	// Since is the first step of the lookback showing a failure sign (-1
	// when unusable is false).
	Since int
}

// Judge decides whether the GPU is unusable at the end of its tracks
// (step apart), reading the trailing Lookback. A GPU is unusable when,
// within the lookback, any of:
//
//   - its row remapping failed: gpu_row_remap_failure's last value is 1;
//   - DCGM's health check fails: a watch of gpu_health_status is last at
//     20 (FAIL; a warning is not enough);
//   - an uncorrectable memory error remapped a row: gpu_uncorrectable_remapped_rows
//     rose (a drop is a counter reset);
//   - XIDs repeat. With dcgm-exporter's XID count (gpu_xid_errors), the
//     count over codes reaches XIDRepeat at a step, or a code stays
//     counted for longer than the count's window plus a step (only a
//     second XID keeps it up past the window). Without it, only from the
//     last-error gauge gpu_last_xid, still non-zero at the end (a GPU
//     reset clears it to 0): it changed from one non-zero code to another
//     within the lookback (two XIDs), or it has held its current code, one
//     of UnusableXIDs, for at least XIDPersist (no reset cleared it).
func Judge(t Tracks, step time.Duration, th Thresholds) Verdict {
	n := max(len(t.RemapFailure), len(t.UncorrectableRows), len(t.LastXID))
	for _, tr := range t.XIDCount {
		n = max(n, len(tr))
	}
	for _, tr := range t.Status {
		n = max(n, len(tr))
	}
	from := max(0, n-stepsIn(th.Lookback, step))
	v := Verdict{RemapFailure: math.NaN(), RowsIncrease: math.NaN(), XIDsInWindow: math.NaN(), Since: -1}
	since := n
	mark := func(i int) { since = min(since, i) }

	// Row remapping failure.
	if x, i := last(t.RemapFailure, from, n); !math.IsNaN(x) {
		v.RemapFailure = x
		if x >= 1 {
			v.Reasons = append(v.Reasons, "HBM row remapping failed (gpu_row_remap_failure 1)")
			mark(firstAtLeast(t.RemapFailure, from, i, 1))
		}
	}
	// Health check.
	for _, k := range sortedKeys(t.Status) {
		if x, i := last(t.Status[k], from, n); x >= HealthFail {
			v.Failing = append(v.Failing, k)
			mark(firstAtLeast(t.Status[k], from, i, HealthFail))
		}
	}
	if len(v.Failing) > 0 {
		v.Reasons = append(v.Reasons, "DCGM health check fails ("+strings.Join(v.Failing, ", ")+")")
	}
	// Uncorrectable remapped rows rising.
	if t.UncorrectableRows != nil {
		inc, first := increase(t.UncorrectableRows, from, n)
		v.RowsIncrease = inc
		if inc > 0 {
			v.Reasons = append(v.Reasons, fmt.Sprintf("%g HBM rows remapped for uncorrectable errors", inc))
			mark(first)
		}
	}
	// Repeated XIDs.
	codes := map[int]bool{}
	if len(t.XIDCount) > 0 {
		v.XIDsInWindow = 0
		winSteps := stepsIn(t.XIDWindow, step)
		repeated := false
		for i := from; i < n; i++ {
			var sum float64
			seen := false
			for code, tr := range t.XIDCount {
				if x := tr.at(i); !math.IsNaN(x) {
					seen = true
					sum += x
					if x > 0 && code > 0 {
						codes[code] = true
						mark(i)
					}
				}
			}
			if seen {
				v.XIDsInWindow = max(v.XIDsInWindow, sum)
			}
			if sum >= th.XIDRepeat {
				repeated = true
			}
		}
		for code, tr := range t.XIDCount {
			if code > 0 && t.XIDWindow > 0 && longestRun(tr, from, n, func(x float64) bool { return x > 0 }) > winSteps+1 {
				repeated = true
			}
		}
		if repeated {
			v.Reasons = append(v.Reasons, fmt.Sprintf("XIDs repeat (%g within the exporter's %s window)", v.XIDsInWindow, t.XIDWindow))
		}
	} else if t.LastXID != nil {
		var prev float64
		changed, persisted := false, false
		persist := stepsIn(th.XIDPersist, step)
		for i := from; i < n; i++ {
			x := t.LastXID.at(i)
			if math.IsNaN(x) || x <= 0 {
				continue
			}
			codes[int(x)] = true
			if prev > 0 && x != prev {
				changed = true
			}
			prev = x
		}
		// A reset clears the gauge to 0: only a code still reported counts.
		now, _ := last(t.LastXID, from, n)
		if !(now > 0) {
			changed = false
		} else if code := int(now); slices.Contains(UnusableXIDs, code) && trailingRun(t.LastXID, from, n, now) >= persist {
			persisted = true
		}
		switch {
		case changed:
			v.Reasons = append(v.Reasons, "XIDs repeat (the last-error gauge changed between codes)")
		case persisted:
			v.Reasons = append(v.Reasons, fmt.Sprintf("a fatal XID stayed reported for %s or more with no reset", th.XIDPersist))
		}
		if changed || persisted {
			for i := from; i < n; i++ {
				if x := t.LastXID.at(i); x > 0 {
					mark(i)
					break
				}
			}
		}
	}
	for c := range codes {
		v.XIDs = append(v.XIDs, c)
	}
	slices.Sort(v.XIDs)
	v.Unusable = len(v.Reasons) > 0
	if v.Unusable {
		v.Since = min(since, n-1)
	}
	return v
}

// XIDText lists XID codes for people: "XID 64, 79" or "no XID".
func XIDText(codes []int) string {
	if len(codes) == 0 {
		return "no XID"
	}
	s := make([]string, len(codes))
	for i, c := range codes {
		s[i] = strconv.Itoa(c)
	}
	return "XID " + strings.Join(s, ", ")
}

// stepsIn is how many steps of length step cover d, at least one.
func stepsIn(d, step time.Duration) int {
	if step <= 0 {
		return 1
	}
	return max(1, int((d+step-1)/step))
}

// last returns the last value in [from, to) and its step (NaN, -1 when none).
func last(t Track, from, to int) (float64, int) {
	for i := min(to, len(t)) - 1; i >= from; i-- {
		if !math.IsNaN(t[i]) {
			return t[i], i
		}
	}
	return math.NaN(), -1
}

// firstAtLeast is the first step of the run ending at i whose values are
// at least v (gaps skipped).
func firstAtLeast(t Track, from, i int, v float64) int {
	j := i
	for k := i - 1; k >= from; k-- {
		x := t.at(k)
		if math.IsNaN(x) {
			continue
		}
		if x < v {
			break
		}
		j = k
	}
	return j
}

// increase is a counter's rise over [from, to) as increase() reads it (a
// drop is a reset from 0), and the first step that rose (-1 when none).
func increase(t Track, from, to int) (float64, int) {
	var inc float64
	first := -1
	prev := math.NaN()
	for i := from; i < min(to, len(t)); i++ {
		x := t[i]
		if math.IsNaN(x) {
			continue
		}
		if !math.IsNaN(prev) {
			d := x - prev
			if d < 0 {
				d = x
			}
			if d > 0 && first < 0 {
				first = i
			}
			inc += d
		}
		prev = x
	}
	return inc, first
}

// trailingRun is how many steps up to the last value of [from, to) hold
// v (steps without a value skipped).
func trailingRun(t Track, from, to int, v float64) int {
	run := 0
	for i := min(to, len(t)) - 1; i >= from; i-- {
		x := t[i]
		if math.IsNaN(x) {
			continue
		}
		if x != v {
			break
		}
		run++
	}
	return run
}

// longestRun is the longest run of steps in [from, to) whose values meet
// cond (steps without a value break it).
func longestRun(t Track, from, to int, cond func(float64) bool) int {
	best, run := 0, 0
	for i := from; i < min(to, len(t)); i++ {
		if x := t[i]; !math.IsNaN(x) && cond(x) {
			run++
			best = max(best, run)
		} else {
			run = 0
		}
	}
	return best
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}
