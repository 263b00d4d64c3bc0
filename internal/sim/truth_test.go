package sim

import (
	"cmp"
	"math"
	"slices"
	"testing"
	"time"
)

// character is what a scenario run shows: the share of pod-minutes in
// each state, and the mean engine-active share and waiting requests of a
// serving pod-minute.
type character struct {
	share         map[State]float64
	busy, waiting float64
	preempted     float64 // Kueue preemptions of workloads
}

func characterOf(c *Cluster) character {
	tr := c.Truth()
	ch := character{share: map[State]float64{}}
	n := 0.0
	for _, p := range tr.Pods {
		for _, m := range p.Minutes {
			ch.share[m.State]++
			ch.busy += m.Busy
			ch.waiting += m.Waiting
			n++
		}
	}
	for s := range ch.share {
		ch.share[s] /= n
	}
	ch.busy /= n
	ch.waiting /= n
	for _, tm := range c.teams {
		ch.preempted += tm.kq.preempted
	}
	return ch
}

// dominant is the most common state.
func (ch character) dominant() State {
	var top State
	for s, v := range ch.share {
		if top == "" || v > ch.share[top] || (v == ch.share[top] && s < top) {
			top = s
		}
	}
	return top
}

// TestScenarioTruth checks that each scenario produces the ground truth it
// is named for, and keeps it when --gpus sizes it: at two sizes, the state
// it exists to show is the most common one among its pod-minutes (or, for
// events and bursts, is present), and its share, the mean engine-active
// share and the mean waiting requests per pod stay within a band.
func TestScenarioTruth(t *testing.T) {
	t.Parallel()
	sizes := [2]int{16, 48}
	tests := []struct {
		scenario string
		dominant State // the most common state
		present  State // a state that must appear at least once
		d        time.Duration
	}{
		{"healthy", StateHealthy, "", 0},
		{"idle", StateIdle, "", 0},
		{"cpu-bound", StateHostBound, "", 0},
		{"memory-bound", StateMemoryBound, "", 0},
		{"kv-saturation", StateKVSaturated, "", 0},
		{"backlog", StateBacklog, "", 0},
		{"gateway-backlog", StateGatewayBacklog, "", 0},
		{"ttft-regression", StateHealthy, StateTTFTRegression, 0},
		{"poor-spec-decode", StatePoorSpecDecode, "", 0},
		// Training bursts that reclaim borrowed quota need time to come:
		// both sizes have preempted (4 and 12 workloads) by 25 minutes and
		// preempt no more by 40; 30 leaves a margin (it was 70).
		{"noisy-tenant", "", StateBacklog, 30 * time.Minute},
		// The exporters of a quarter of the nodes go down (two of eight as
		// written), rounded to whole nodes: a share that varies a little
		// with the size.
		{"exporter-down", "", StateExporterDown, 0},
		{"mixed", StateHealthy, "", 0},
		// A serving GPU fails for good 12 minutes in: its pod's later
		// minutes are unusable_gpu. One GPU at any size, so the share (and
		// the requests queued on the stalled pod, per pod) vary with it.
		{"gpu-failure", "", StateUnusableGPU, 0},
	}
	for _, tt := range tests {
		t.Run(tt.scenario, func(t *testing.T) {
			t.Parallel()
			d := cmp.Or(tt.d, 25*time.Minute) // each character is settled by then (35 minutes gave the same shares within 0.05)
			var chs [2]character
			for i, gpus := range sizes {
				c := newTestCluster(t, tt.scenario, gpus)
				c.Step(c.Start().Add(d))
				ch := characterOf(c)
				if tt.dominant != "" && ch.dominant() != tt.dominant {
					t.Errorf("%d GPUs: most common state %s, want %s (%v)", gpus, ch.dominant(), tt.dominant, ch.share)
				}
				if tt.present != "" && ch.share[tt.present] == 0 {
					t.Errorf("%d GPUs: no %s minute (%v)", gpus, tt.present, ch.share)
				}
				if tt.scenario == "noisy-tenant" && ch.preempted == 0 {
					t.Errorf("%d GPUs: no workload was preempted", gpus)
				}
				chs[i] = ch
				t.Logf("%d GPUs: %v busy %.2f waiting %.1f preempted %v", gpus, ch.share, ch.busy, ch.waiting, ch.preempted)
			}
			if tt.dominant == "" {
				return
			}
			a, b := chs[0], chs[1]
			if s, u := a.share[tt.dominant], b.share[tt.dominant]; math.Abs(s-u) > 0.15 {
				t.Errorf("%s share %.2f at %d GPUs, %.2f at %d", tt.dominant, s, sizes[0], u, sizes[1])
			}
			if math.Abs(a.busy-b.busy) > 0.05 {
				t.Errorf("engine active %.2f at %d GPUs, %.2f at %d", a.busy, sizes[0], b.busy, sizes[1])
			}
			if math.Abs(a.waiting-b.waiting) > 1+0.25*max(a.waiting, b.waiting) {
				t.Errorf("waiting %.1f per pod at %d GPUs, %.1f at %d", a.waiting, sizes[0], b.waiting, sizes[1])
			}
		})
	}
}

func TestXIDEvent(t *testing.T) {
	t.Parallel()
	sc := loadExample(t, "healthy")
	sc.Events = append(sc.Events, Event{At: Duration(5 * time.Minute), Kind: "xid", Node: 0, GPU: 0, XID: 79, Nodes: 1})
	c, err := NewCluster(Options{Scenario: sc, GPUs: 8, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	c.Step(c.Start().Add(10 * time.Minute))
	if c.Truth().StateCounts()[StateXID] == 0 {
		t.Errorf("no xid minute: %v", c.Truth().StateCounts())
	}
	b, err := c.RenderBytes("/targets/dcgm/" + c.nodes[0].name + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, s := range parseExposition(t, b) {
		if s.name == "DCGM_FI_DEV_XID_ERRORS" && s.value == 79 && s.labels["err_code"] == "79" && s.labels["err_msg"] == "GPU has fallen off the bus" {
			found = true
		}
	}
	if !found {
		t.Error("DCGM_FI_DEV_XID_ERRORS 79 not exposed")
	}
}

// TestMIGSliceWeight checks that the truth weighs a MIG slice by its
// profile's share of the card (n/7 for ng.* on an A100), as the price book
// charges it, whatever number of slices fits on a card.
func TestMIGSliceWeight(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		profile string
		perCard int
		weight  float64
	}{
		{"2g.20gb", 3, 2.0 / 7},
		{"3g.40gb", 2, 3.0 / 7},
		{"4g.40gb", 1, 4.0 / 7},
		{"7g.80gb", 1, 1},
	} {
		t.Run(tt.profile, func(t *testing.T) {
			t.Parallel()
			sc, err := ParseScenario("mig.yml", []byte(`
name: mig
gpus: 8
nodes:
  - {flavor: a100-mig, gpu: A100, share: 1, mig: `+tt.profile+`}
teams:
  - {name: chat, quota: {a100-mig: 1}}
deployments:
  - name: chat-qwen
    team: chat
    model: Qwen2.5-7B
    flavor: a100-mig
    share: 1
    load: {rate: 1, prompt_tokens: {mean: 300}, output_tokens: {mean: 100}}
`))
			if err != nil {
				t.Fatal(err)
			}
			c, err := NewCluster(Options{Scenario: sc, Seed: 1})
			if err != nil {
				t.Fatal(err)
			}
			c.Step(c.Start().Add(15 * time.Minute))
			tr := c.Truth()
			units := float64(8 * tt.perCard)
			want := units * tt.weight / 4 // every unit held for a quarter of an hour
			if got := tr.Teams[0].AllocatedGPUHours; math.Abs(got-want) > 1e-9 {
				t.Errorf("allocated %.4f GPU-hours, want %.0f slices × %.4f × 0.25 h = %.4f", got, units, tt.weight, want)
			}
			if got := tr.Teams[0].ReservedGPUHours; math.Abs(got-want) > 1e-9 {
				t.Errorf("reserved %.4f GPU-hours, want %.4f", got, want)
			}
			if got, wantIdle := tr.Fleet.IdleGPUHours, 2-want; math.Abs(got-wantIdle) > 1e-9 {
				t.Errorf("fleet idle %.4f GPU-hours, want 8 GPUs × 0.25 h − allocated = %.4f", got, wantIdle)
			}
		})
	}
}

// TestGPUFailureEvent: a gpu_failure breaks its GPU for good: the XID
// repeats, the row remapping fails (XID 64), the health collectors report
// MEM failing, the pod's minutes are unusable_gpu, no pod is placed on the
// GPU again, and the truth lists it.
func TestGPUFailureEvent(t *testing.T) {
	t.Parallel()
	c := newTestCluster(t, "gpu-failure", 8)
	c.Step(c.Start().Add(20 * time.Minute))
	tr := c.Truth()
	if len(tr.GPUFailures) != 2 {
		t.Fatalf("gpu failures %+v, want 2", tr.GPUFailures)
	}
	f := tr.GPUFailures[0]
	if f.XID != 64 || !f.Since.Equal(c.Start().Add(12*time.Minute)) {
		t.Errorf("first failure %+v, want XID 64 at 12m", f)
	}
	if tr.StateCounts()[StateUnusableGPU] == 0 {
		t.Errorf("no unusable_gpu minute: %v", tr.StateCounts())
	}
	for _, p := range tr.Pods {
		for _, m := range p.Minutes {
			broken := slices.Contains(p.GPUs, f.UUID) && !m.Time.Before(f.Since)
			if (m.State == StateUnusableGPU) != broken {
				t.Errorf("%s at %s: state %s, GPU broken %v", p.Pod, m.Time, m.State, broken)
			}
		}
	}
	var found struct{ remap, rows, count, health bool }
	for _, tg := range c.Targets() {
		if tg.Kind != KindDCGM {
			continue
		}
		b, err := c.RenderBytes(tg.Path)
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range parseExposition(t, b) {
			if s.labels["UUID"] != f.UUID {
				continue
			}
			switch {
			case s.name == "DCGM_FI_DEV_ROW_REMAP_FAILURE" && s.value == 1:
				found.remap = true
			case s.name == "DCGM_FI_DEV_UNCORRECTABLE_REMAPPED_ROWS" && s.value >= 3:
				found.rows = true // an XID at 12, 14, 16 and 18 minutes
			case s.name == "DCGM_EXP_XID_ERRORS_COUNT" && s.labels["xid"] == "64" && s.value >= 2 && s.labels["window_size_in_ms"] == "300000":
				found.count = true
			case s.name == "DCGM_EXP_GPU_HEALTH_STATUS" && s.labels["health_watch"] == "MEM" && s.value == 20 && s.labels["health_error_code"] == "DCGM_FR_ROW_REMAP_FAILURE":
				found.health = true
			}
		}
	}
	if !found.remap || !found.rows || !found.count || !found.health {
		t.Errorf("failed GPU's exposition: %+v, want every health signal", found)
	}
}
