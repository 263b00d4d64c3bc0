package diagnose

import (
	"strings"
	"testing"
	"time"
)

// TestCapacityTTFTTarget: a busy model whose TTFT p95 is seconds with
// nothing waiting and no preemptions (long prompts on MIG slices, as in the
// demo) is told to add GPUs only when the user set a TTFT target it misses.
func TestCapacityTTFTTarget(t *testing.T) {
	t.Parallel()
	const n = 41
	w := Window{Start: time.Unix(0, 0), End: time.Unix(0, 0).Add(10 * time.Minute), Step: 15 * time.Second}
	fill := func(v float64) Track {
		tr := newTrack(n)
		for i := range tr {
			tr[i] = v
		}
		return tr
	}
	s := &Snapshot{Window: w}
	for i, pod := range []string{"qwen-0", "qwen-1"} {
		s.GPUs = append(s.GPUs, GPU{Hostname: "node-1", UUID: "GPU-" + pod, MIG: "1", MIGProfile: "3g.40gb", ModelName: "NVIDIA A100-SXM4-80GB",
			Namespace: "search", Pod: pod, Busy: fill(0.95)})
		s.Pods = append(s.Pods, Pod{Namespace: "search", Pod: pod, Model: "qwen-7b", Running: fill(40), Waiting: fill(0),
			Preemptions: fill(0), TTFTp95: fill(2.2), GPUs: []int{i}})
	}
	for _, tc := range []struct {
		target time.Duration
		delta  int
		advice string
	}{
		{0, 0, "none: demand is met on 2 × NVIDIA A100-SXM4-80GB MIG 3g.40gb slice (nothing waits, no preemptions)"},
		{5 * time.Second, 0, "none: demand is met on 2 × NVIDIA A100-SXM4-80GB MIG 3g.40gb slice (nothing waits, no preemptions, TTFT p95 within 5s)"},
		{2 * time.Second, 1, "add at least 1 × NVIDIA A100-SXM4-80GB MIG 3g.40gb slice: demand is unmet (TTFT p95 above 2s"},
	} {
		th := DefaultThresholds() // target 0: the default, no latency objective
		if tc.target != 0 {
			th.TTFTTarget = tc.target
		}
		cs := capacity(s, th)
		if len(cs) != 1 {
			t.Fatalf("target %s: %d capacity lines, want 1: %+v", tc.target, len(cs), cs)
		}
		if c := cs[0]; c.Delta < tc.delta || (tc.delta == 0 && c.Delta != 0) || !strings.HasPrefix(c.Advice, tc.advice) {
			t.Errorf("target %s: delta %d, advice %q; want delta %d and %q", tc.target, c.Delta, c.Advice, tc.delta, tc.advice)
		}
	}
}
