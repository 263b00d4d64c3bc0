package sim

import (
	"math"
	"testing"
	"time"
)

func newTestCluster(t testing.TB, name string, gpus int) *Cluster {
	t.Helper()
	c, err := NewCluster(Options{Scenario: loadExample(t, name), GPUs: gpus, Seed: 7})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// eachEngine visits every engine of the running serving pods.
func (c *Cluster) eachEngine(f func(*pod, *engine)) {
	for _, p := range c.pods {
		for _, e := range p.engines {
			f(p, e)
		}
	}
}

func TestTokensOutEqualRequestOutputs(t *testing.T) {
	t.Parallel()
	for _, name := range []string{"healthy", "kv-saturation", "poor-spec-decode", "backlog"} {
		c := newTestCluster(t, name, 8)
		c.Step(c.Start().Add(15 * time.Minute))
		n := 0
		c.eachEngine(func(p *pod, e *engine) {
			inflight := 0.0
			for _, r := range append(append([]*request{}, e.running...), e.waiting...) {
				inflight += float64(r.generated)
			}
			if got, want := e.c.generationTokens, e.finishedOutput+inflight+e.abortedGenerated; got != want {
				t.Errorf("%s %s engine %d: generation_tokens_total %v, want finished outputs + in flight + aborted = %v", name, p.name, e.index, got, want)
			}
			if e.h.genTok.sum != e.finishedOutput {
				t.Errorf("%s %s: request_generation_tokens_sum %v, want the finished requests' outputs %v", name, p.name, e.h.genTok.sum, e.finishedOutput)
			}
			n += int(e.h.genTok.count)
		})
		if n == 0 {
			t.Errorf("%s: no request finished", name)
		}
	}
}

func TestKVUsageNeverExceedsOne(t *testing.T) {
	t.Parallel()
	c := newTestCluster(t, "kv-saturation", 8)
	peak := 0.0
	for s := 1; s <= 900; s++ {
		c.Step(c.Start().Add(time.Duration(s) * time.Second))
		c.eachEngine(func(p *pod, e *engine) {
			u := e.kvUsage()
			if u > 1 || e.usedBlocks < 0 {
				t.Fatalf("t=%ds %s: KV usage %v (%d of %d blocks)", s, p.name, u, e.usedBlocks, e.cfg.blocks)
			}
			peak = max(peak, u)
		})
	}
	if peak < 0.9 {
		t.Errorf("kv-saturation never filled the cache: peak %v", peak)
	}
}

func TestPreemptionsOnlyWhenBlocksRunOut(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name    string
		preempt bool
	}{{"healthy", false}, {"memory-bound", false}, {"kv-saturation", true}} {
		c := newTestCluster(t, tt.name, 8)
		c.Step(c.Start().Add(20 * time.Minute))
		total := 0.0
		c.eachEngine(func(p *pod, e *engine) {
			total += e.c.preemptions
			if e.preemptNoPressure != 0 {
				t.Errorf("%s %s: %d preemptions with free blocks", tt.name, p.name, e.preemptNoPressure)
			}
		})
		if (total > 0) != tt.preempt {
			t.Errorf("%s: %v preemptions, want some: %v", tt.name, total, tt.preempt)
		}
		for _, p := range c.Truth().Pods {
			for _, m := range p.Minutes {
				if m.Preemptions > 0 && m.KVMax < 0.9 {
					t.Errorf("%s %s %v: %v preemptions at peak KV usage %v", tt.name, p.Pod, m.Time, m.Preemptions, m.KVMax)
				}
			}
		}
	}
}

func TestGPUBusyRisesWithBatch(t *testing.T) {
	t.Parallel()
	g, _ := lookupGPU("H100")
	m, _ := lookupModel("Llama-3.1-8B")
	cfg := &engineConfig{kind: EngineVLLM, model: m, gpu: g, tp: 1, maxNumSeqs: 256, maxBatched: 8192, cpuOverhead: 0.003,
		load: Load{PromptTokens: Tokens{Mean: 500, Spread: 0.5}, OutputTokens: Tokens{Mean: 300, Spread: 0.5}}, memUtil: 0.9}
	cfg.blocks = int(kvCapacityTokens(g, m, 1, 0.9)) / blockTokens
	b := newBucketSet(32768)
	prevRunning, prevBusy, prevTensor := -1.0, -1.0, -1.0
	for _, rate := range []float64{0.5, 2, 8, 24} {
		e := newEngine(cfg, b, 0, 1, 0)
		var running, busy, tensor float64
		for s := 0; s < 600; s++ {
			e.tick(float64(s), 1, rate, false)
			if s >= 120 {
				running += float64(len(e.running))
				busy += e.act.busy
				tensor += e.act.tensor
			}
		}
		running, busy, tensor = running/480, busy/480, tensor/480
		t.Logf("rate %v: batch %.1f engine active %.3f tensor %.3f", rate, running, busy, tensor)
		if running <= prevRunning || busy <= prevBusy || tensor <= prevTensor {
			t.Errorf("rate %v: batch %.1f busy %.3f tensor %.3f did not rise from %.1f %.3f %.3f", rate, running, busy, tensor, prevRunning, prevBusy, prevTensor)
		}
		if busy > 1 || tensor > 1 || e.act.dram > 1 {
			t.Errorf("rate %v: activity above 1: %+v", rate, e.act)
		}
		prevRunning, prevBusy, prevTensor = running, busy, tensor
	}
}

func TestFBUsedNearFullWhenIdle(t *testing.T) {
	t.Parallel()
	c := newTestCluster(t, "idle", 16)
	c.Step(c.Start().Add(5 * time.Minute))
	checked := 0
	for _, tg := range c.Targets() {
		if tg.Kind != KindDCGM {
			continue
		}
		b, err := c.RenderBytes(tg.Path)
		if err != nil {
			t.Fatal(err)
		}
		util := map[string]float64{}
		for _, s := range parseExposition(t, b) {
			if s.name == "DCGM_FI_DEV_GPU_UTIL" {
				util[s.labels["UUID"]] = s.value
			}
		}
		for _, s := range parseExposition(t, b) {
			if s.name != "DCGM_FI_DEV_FB_USED" || s.labels["pod"] == "" {
				continue
			}
			checked++
			total := 81559.0
			if s.value < 0.85*total {
				t.Errorf("%s: FB_USED %v MiB of %v on an idle vLLM GPU, want near full", s.labels["UUID"], s.value, total)
			}
			if util[s.labels["UUID"]] > 20 {
				t.Errorf("%s: GPU_UTIL %v on an idle engine", s.labels["UUID"], util[s.labels["UUID"]])
			}
		}
	}
	if checked == 0 {
		t.Fatal("no allocated GPU found")
	}
}

// TestKueueNeverAdmitsPastQuota checks the quota every 10 s over an hour:
// at 32 GPUs noisy-tenant borrows and preempts in its first 50 minutes and
// never again in the second hour; mixed borrows from the start on.
func TestKueueNeverAdmitsPastQuota(t *testing.T) {
	t.Parallel()
	for _, name := range []string{"noisy-tenant", "mixed"} {
		c := newTestCluster(t, name, 32)
		for s := 10; s <= 3600; s += 10 {
			c.Step(c.Start().Add(time.Duration(s) * time.Second))
			checkQuota(t, c, s)
		}
		if name == "noisy-tenant" {
			preempted := 0.0
			for _, tm := range c.teams {
				preempted += tm.kq.preempted
			}
			if preempted == 0 {
				t.Errorf("noisy-tenant: no workload was preempted")
			}
		}
	}
}

func checkQuota(t *testing.T, c *Cluster, s int) {
	t.Helper()
	cohortUse, cohortNom := map[string]int{}, map[string]int{}
	for _, tm := range c.teams {
		for fl := range tm.nominal {
			if _, ok := tm.usage[fl]; !ok {
				tm.usage[fl] = 0
			}
		}
		for fl, u := range tm.usage {
			n := tm.nominal[fl]
			switch {
			case u < 0:
				t.Fatalf("t=%ds %s/%s: negative usage %d", s, tm.cq, fl, u)
			case u > n && tm.spec.Cohort == "":
				t.Fatalf("t=%ds %s/%s: usage %d above nominal %d without a cohort", s, tm.cq, fl, u, n)
			case u > n+tm.borrow[fl]:
				t.Fatalf("t=%ds %s/%s: usage %d above nominal %d + borrowing limit %d", s, tm.cq, fl, u, n, tm.borrow[fl])
			}
			if tm.spec.Cohort != "" {
				cohortUse[tm.spec.Cohort+"/"+fl] += u
				cohortNom[tm.spec.Cohort+"/"+fl] += n
			}
		}
	}
	for k, u := range cohortUse {
		if u > cohortNom[k] {
			t.Fatalf("t=%ds cohort %s: usage %d above the cohort's nominal %d", s, k, u, cohortNom[k])
		}
	}
	// What Kueue reports equals what the pods hold.
	held := map[*team]int{}
	for _, p := range c.pods {
		if p.phase == phaseRunning {
			held[p.team] += len(p.units)
		}
	}
	for _, tm := range c.teams {
		sum := 0
		for _, u := range tm.usage {
			sum += u
		}
		if sum != held[tm] {
			t.Fatalf("t=%ds %s: Kueue usage %d but pods hold %d units", s, tm.cq, sum, held[tm])
		}
	}
}

func TestTeamGPUHoursMatchAllocation(t *testing.T) {
	t.Parallel()
	c := newTestCluster(t, "healthy", 16)
	c.Step(c.Start().Add(15 * time.Minute))
	tr := c.Truth()
	if f := tr.Fleet; math.Abs(f.GPUHours-4) > 1e-6 || math.Abs(f.AllocatedGPUHours-4) > 1e-6 || f.IdleGPUHours > 1e-6 {
		t.Errorf("fleet %+v, want 4 GPU-hours, all allocated", f)
	}
	idle := newTestCluster(t, "idle", 16)
	idle.Step(idle.Start().Add(15 * time.Minute))
	if f := idle.Truth().Fleet; f.IdleGPUHours < 1 || f.UsedGPUHours > 0.2*f.AllocatedGPUHours {
		t.Errorf("idle fleet %+v, want a quarter unallocated and little used", f)
	}
	for _, tt := range tr.Teams {
		// healthy holds all its GPUs from the start: 8 GPUs per team for 15 minutes.
		if math.Abs(tt.AllocatedGPUHours-2) > 1e-6 {
			t.Errorf("%s: allocated %v GPU-hours, want 2", tt.Team, tt.AllocatedGPUHours)
		}
		if math.Abs(tt.ReservedGPUHours-2) > 1e-6 {
			t.Errorf("%s: reserved %v GPU-hours, want 2 (half the quota of 16 GPUs)", tt.Team, tt.ReservedGPUHours)
		}
		if tt.UsedGPUHours <= 0 || tt.UsedGPUHours > tt.AllocatedGPUHours {
			t.Errorf("%s: used %v GPU-hours of %v allocated", tt.Team, tt.UsedGPUHours, tt.AllocatedGPUHours)
		}
	}
}

// quantile is the upper bound of the bucket holding the q-quantile of h
// (+Inf past the last bound).
func quantile(h *hist, q float64) float64 {
	want := uint64(math.Ceil(q * float64(h.count)))
	var cum uint64
	for i, n := range h.counts {
		cum += n
		if cum >= want && n > 0 {
			if i == len(h.bounds) {
				return math.Inf(1)
			}
			return h.bounds[i]
		}
	}
	return math.Inf(1)
}

// TestITLWithinDecodeBand checks that a decode step sharing a batch with a
// prefill chunk is slowed by that chunk, not stalled for the time of a
// full chunk it does not run. Per engine the p95 inter-token latency stays
// within the bucket holding the engine's normal band: a full batch over a
// full KV cache riding with a chunk of the prompts one replica receives in
// a second at its peak rate (the arrivals of one tick prefill together),
// capped by max_num_batched_tokens. Only
// whole max_num_batched_tokens chunks on a small MIG slice take over a
// second, as they would on the hardware: under 0.5% of the tokens.
func TestITLWithinDecodeBand(t *testing.T) {
	t.Parallel()
	for _, name := range []string{"mixed", "healthy"} {
		c := newTestCluster(t, name, 0)
		c.Step(c.Start().Add(10 * time.Minute)) // 24 thousand to 2 million tokens per engine
		n := 0
		c.eachEngine(func(p *pod, e *engine) {
			h := &e.h.itl
			if h.count == 0 {
				return
			}
			n++
			cfg := e.cfg
			peak := cfg.load.Rate * (1 + cfg.load.Diurnal) * cfg.load.PromptTokens.Mean
			_, _, kern := e.roofline(cfg.maxNumSeqs, cfg.blocks*blockTokens, min(cfg.maxBatched, int(peak)))
			band := kern + cfg.cpuOverhead
			bound := h.bounds[min(h.bucket(band), len(h.bounds)-1)]
			p95 := quantile(h, 0.95)
			if p95 > bound {
				t.Errorf("%s %s engine %d: ITL p95 %gs above the decode band (a step up to %.3fs, bucket %gs)", name, p.name, e.index, p95, band, bound)
			}
			var slow uint64
			for i, b := range h.bounds {
				if b > 1 {
					slow += h.counts[i]
				}
			}
			slow += h.counts[len(h.bounds)]
			if float64(slow) > 0.005*float64(h.count) {
				t.Errorf("%s %s engine %d: %d of %d tokens waited over 1s", name, p.name, e.index, slow, h.count)
			}
		})
		if n == 0 {
			t.Errorf("%s: no engine emitted tokens", name)
		}
	}
}
