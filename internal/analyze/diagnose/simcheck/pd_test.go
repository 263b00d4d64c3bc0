package simcheck

import (
	"strings"
	"testing"

	"github.com/servescope/servescope/internal/analyze/diagnose"
)

// pdRatioAdvice: the imbalance's action moves GPUs from the idle decode
// pool to the queueing prefill pool, and names both pools.
func pdRatioAdvice(t *testing.T, r *diagnose.Report) {
	t.Helper()
	n := 0
	for _, f := range r.Findings {
		if f.State != diagnose.StatePDImbalance {
			continue
		}
		n++
		if !strings.Contains(f.Action, "from decode to prefill") || !strings.Contains(f.Summary, "the prefill pool queues while the decode pool idles") {
			t.Errorf("%s: pd_imbalance %q / %q: want GPUs moved from decode to prefill", f.Subject, f.Summary, f.Action)
		}
	}
	if n == 0 {
		t.Error("no pd_imbalance finding in the final report")
	}
}

// asleepIsIdle: an asleep engine's GPUs are offered back (negative GPUs),
// as idle ones are.
func asleepIsIdle(t *testing.T, r *diagnose.Report) {
	t.Helper()
	n := 0
	for _, f := range r.Findings {
		if f.State == diagnose.StateEngineAsleep {
			n++
			if f.GPUs >= 0 {
				t.Errorf("%s: engine_asleep with GPUs %d; want its GPUs freed", f.Subject, f.GPUs)
			}
		}
	}
	if n == 0 {
		t.Error("no engine_asleep finding in the final report")
	}
}
