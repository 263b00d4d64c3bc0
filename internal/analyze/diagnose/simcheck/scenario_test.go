// Package simcheck holds tests only: the diagnosis against the simulator's
// ground truth, scenario by scenario (precision and recall per state over
// pod-minutes). It is, with schema/simcheck, cost/simcheck, app and cmd, one
// of the few importers of sim.
package simcheck

import (
	"cmp"
	"fmt"
	"math"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/servescope/servescope/internal/analyze/diagnose"
	"github.com/servescope/servescope/internal/analyze/query"
	"github.com/servescope/servescope/internal/app"
	"github.com/servescope/servescope/internal/schema"
	"github.com/servescope/servescope/internal/sim"
	"github.com/servescope/servescope/internal/store/tsdb"
	goldenfile "github.com/servescope/servescope/internal/testutil/golden"
)

// truthState maps the simulator's truth onto the diagnosis's states.
func truthState(s sim.State) diagnose.State {
	if s == sim.StateExporterDown {
		return diagnose.StateMissingLayer
	}
	return diagnose.State(s)
}

// scenarioRun is one scenario simulated, stored and diagnosed.
type scenarioRun struct {
	name   string
	expect diagnose.State
	// minPrecision and minRecall are the floors for the expected state,
	// over pod-minutes.
	minPrecision, minRecall float64
	// gpus sizes the fleet (0: 4 GPUs); healthy needs 8 for its TP=4 pod.
	gpus int
	// quick scenarios also run under -race and -short.
	quick bool
	// check, if set, tests the final report further.
	check func(t *testing.T, final *diagnose.Report)
	// scenario, if set, is the scenario file run under name, changed by
	// modify (e.g. the exporter without its health collectors).
	scenario string
	modify   func(*sim.Scenario)
	// checkTruth, if set, tests the final report against the truth.
	checkTruth func(t *testing.T, final *diagnose.Report, truth sim.Truth)
	// queues are the queue states the scenario must find, each at
	// precision and recall of at least 0.9 over queue-minutes.
	queues []diagnose.State
	// noPods: the scenario runs no serving pod (expect is not checked).
	noPods bool
}

const (
	simGPUs     = 4
	simDuration = 25 * time.Minute
	evalWindow  = 10 * time.Minute
)

// confusion counts, per state, pod-minutes predicted and true.
type confusion map[diagnose.State]*struct{ TP, FP, FN int }

func (c confusion) add(pred, truth diagnose.State) {
	for _, s := range []diagnose.State{pred, truth} {
		if c[s] == nil {
			c[s] = &struct{ TP, FP, FN int }{}
		}
	}
	if pred == truth {
		c[pred].TP++
		return
	}
	c[pred].FP++
	c[truth].FN++
}

func ratio(a, b int) float64 {
	if b == 0 {
		return math.NaN()
	}
	return float64(a) / float64(b)
}

// TestScenarios simulates each scenario for 25 minutes at 4 GPUs (8 for
// healthy), writes
// its exposition into a TSDB at a 15 s scrape (app.Backfill), reads one
// snapshot through the embedded Querier, and diagnoses every minute from
// the 10th on over a 10-minute window. Each pod's primary state is compared
// with the simulator's truth for the minute just closed: precision and
// recall per state over pod-minutes go to testdata/scenarios.golden.
func TestScenarios(t *testing.T) {
	runs := []scenarioRun{
		{name: "idle", expect: diagnose.StateIdle, minPrecision: 0.85, minRecall: 0.9},
		{name: "cpu-bound", expect: diagnose.StateHostBound, minPrecision: 0.9, minRecall: 0.9},
		{name: "memory-bound", expect: diagnose.StateMemoryBound, minPrecision: 0.9, minRecall: 0.9},
		{name: "kv-saturation", expect: diagnose.StateKVSaturated, minPrecision: 0.9, minRecall: 0.8, quick: true},
		{name: "backlog", expect: diagnose.StateBacklog, minPrecision: 0.9, minRecall: 0.8},
		{name: "gateway-backlog", expect: diagnose.StateGatewayBacklog, minPrecision: 0.9, minRecall: 0.9},
		{name: "ttft-regression", expect: diagnose.StateTTFTRegression, minPrecision: 0.3, minRecall: 0.5},
		{name: "poor-spec-decode", expect: diagnose.StatePoorSpecDecode, minPrecision: 0.9, minRecall: 0.9},
		{name: "exporter-down", expect: diagnose.StateMissingLayer, minPrecision: 0.9, minRecall: 0.9, quick: true},
		{name: "healthy", expect: diagnose.StateHealthy, minPrecision: 1, minRecall: 0.9, gpus: 8, check: noCapacityAdvice},
		{name: "busy-healthy", expect: diagnose.StateHealthy, minPrecision: 1, minRecall: 0.9, gpus: 8, check: noCapacityAdvice},
		{name: "llamacpp-no-kv", expect: diagnose.StateHealthy, minPrecision: 0.85, minRecall: 0.9, check: noKVNotZero},
		{name: "memory-bound-kv", expect: diagnose.StateMemoryBound, minPrecision: 0.9, minRecall: 0.9, check: midKV},
		{name: "gpu-failure", expect: diagnose.StateUnusableGPU, minPrecision: 0.9, minRecall: 0.9, quick: true, checkTruth: unusableAsTruth},
		// dcgm-exporter's default counters: no XID count, no health status;
		// the row-remap fields and the last-error gauge are enough.
		{name: "gpu-failure-default-exporter", scenario: "gpu-failure", modify: func(sc *sim.Scenario) { sc.Exporter.HealthCollectors = false },
			expect: diagnose.StateUnusableGPU, minPrecision: 0.9, minRecall: 0.9, checkTruth: unusableAsTruth},
		// Kueue's admission story: queue states over queue-minutes.
		// stranded-quota's serving pod is incidental (memory-bound at its
		// small batch); its queue states are the subject.
		{name: "stranded-quota", expect: diagnose.StateMemoryBound, minPrecision: 0.8, minRecall: 0.8, gpus: 16, quick: true,
			queues: []diagnose.State{diagnose.StateStrandedQuota}},
		{name: "quota-starved", gpus: 16, noPods: true,
			queues: []diagnose.State{diagnose.StateQuotaStarved, diagnose.StateAdmittedNotRunning}},
		{name: "pd-imbalance", expect: diagnose.StatePDImbalance, minPrecision: 0.9, minRecall: 0.9, gpus: 8, check: pdRatioAdvice},
		{name: "kv-transfer-slow", expect: diagnose.StateKVTransferBound, minPrecision: 0.9, minRecall: 0.9, gpus: 8},
		{name: "engine-asleep", expect: diagnose.StateEngineAsleep, minPrecision: 0.9, minRecall: 0.9, gpus: 8, check: asleepIsIdle},
	}
	var golden strings.Builder
	golden.WriteString("# scenario state precision recall tp fp fn (pod-minutes; primary state vs truth)\n")
	golden.WriteString("# scenario queue state precision recall tp fp fn (queue-minutes; each ClusterQueue's primary state vs truth)\n")
	quick := raceEnabled || testing.Short()
	for _, run := range runs {
		if quick && !run.quick {
			continue
		}
		t.Run(run.name, func(t *testing.T) {
			conf, qconf, latency, final := diagnoseScenario(t, run, run.expect)
			var states []diagnose.State
			for s := range conf {
				states = append(states, s)
			}
			slices.Sort(states)
			for _, s := range states {
				c := conf[s]
				fmt.Fprintf(&golden, "%s %s %.2f %.2f %d %d %d\n", run.name, s, ratio(c.TP, c.TP+c.FP), ratio(c.TP, c.TP+c.FN), c.TP, c.FP, c.FN)
			}
			var qstates []diagnose.State
			for s := range qconf {
				qstates = append(qstates, s)
			}
			slices.Sort(qstates)
			for _, s := range qstates {
				c := qconf[s]
				fmt.Fprintf(&golden, "%s queue %s %.2f %.2f %d %d %d\n", run.name, s, ratio(c.TP, c.TP+c.FP), ratio(c.TP, c.TP+c.FN), c.TP, c.FP, c.FN)
			}
			for _, s := range run.queues {
				c := qconf[s]
				if c == nil {
					t.Errorf("queue state %s: none at all", s)
					continue
				}
				if p, r := ratio(c.TP, c.TP+c.FP), ratio(c.TP, c.TP+c.FN); !(p >= 0.9) || !(r >= 0.9) {
					t.Errorf("queue state %s: precision %.2f recall %.2f, want ≥ 0.9 (tp %d fp %d fn %d)", s, p, r, c.TP, c.FP, c.FN)
				}
			}
			fmt.Fprintf(&golden, "%s latency %s\n", run.name, latency)
			u := final.Utilisation
			fmt.Fprintf(&golden, "%s utilisation mean_busy=%.2f below70=%.2f/%.2f above85=%.2f/%.2f\n",
				run.name, u.MeanBusy, u.BelowLowMean, u.BelowLowPeak, u.AboveHighMean, u.AboveHighPeak)
			for _, c := range final.Capacity {
				fmt.Fprintf(&golden, "%s capacity %s: %s\n", run.name, c.Model, c.Advice)
			}
			for _, f := range final.Findings {
				if f.Subject.Level == diagnose.LevelModel {
					fmt.Fprintf(&golden, "%s model %s %s gpus=%d\n", run.name, f.Subject, f.State, f.GPUs)
				}
			}
			for _, u := range final.Unusable {
				fmt.Fprintf(&golden, "%s unusable %s %s pod=%q xids=%v: %s\n", run.name, u.Hostname, u.UUID, u.Pod, u.XIDs, strings.Join(u.Reasons, "; "))
			}
			if run.check != nil {
				run.check(t, final)
			}
			if run.noPods {
				if len(conf) != 0 {
					t.Errorf("pod-minutes in a scenario without serving pods: %v", conf)
				}
				return
			}
			c := conf[run.expect]
			if c == nil {
				t.Fatalf("no %s at all", run.expect)
			}
			if p := ratio(c.TP, c.TP+c.FP); !(p >= run.minPrecision) {
				t.Errorf("%s precision %.2f < %.2f (tp %d fp %d)", run.expect, p, run.minPrecision, c.TP, c.FP)
			}
			if r := ratio(c.TP, c.TP+c.FN); !(r >= run.minRecall) {
				t.Errorf("%s recall %.2f < %.2f (tp %d fn %d)", run.expect, r, run.minRecall, c.TP, c.FN)
			}
		})
	}
	if quick {
		t.Log("-race or -short: a subset of the scenarios ran; golden file not compared")
		return
	}
	goldenfile.Compare(t, filepath.Join("testdata", "scenarios.golden"), []byte(golden.String()))
}

// diagnoseScenario returns the confusion over pod-minutes and over
// queue-minutes (each ClusterQueue's primary state), the final
// report (last 10 minutes, priced) and the worst detection latency of the expected state (simulated time from its
// first true minute to its first diagnosis, per pod).
func diagnoseScenario(t *testing.T, run scenarioRun, expect diagnose.State) (confusion, confusion, time.Duration, *diagnose.Report) {
	t.Helper()
	// The end of every run: 03:50 UTC, low on the simulator's diurnal
	// curve (peak 15:00), so healthy stays healthy.
	simEnd := time.Date(2026, 3, 2, 3, 50, 0, 0, time.UTC)
	name := run.name
	gpus := run.gpus
	if gpus == 0 {
		gpus = simGPUs
	}
	sc, err := sim.OpenScenario("", cmp.Or(run.scenario, name))
	if err != nil {
		t.Fatal(err)
	}
	if run.modify != nil {
		run.modify(sc)
	}
	dir := t.TempDir()
	// No recording rules (EvalInterval -1): the diagnosis reads the raw
	// series (Recorded false), whose selectors never match servescope:*,
	// so the rules' series would be written and not read.
	res, err := app.Backfill(t.Context(), app.BackfillOptions{Scenario: sc, GPUs: gpus, Seed: 1,
		Duration: simDuration, End: simEnd, StoragePath: dir, EvalInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	res.Cluster.Step(simEnd.Add(time.Minute)) // close the last minute
	truth := res.Cluster.Truth()
	db, err := tsdb.Open(tsdb.Options{Path: dir})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	eng := query.NewEngine(db.Queryable(), query.EngineOptions{Timeout: time.Minute, MaxSamples: 50e6, Registerer: prometheus.NewRegistry()})
	cat, err := schema.New(schema.Options{})
	if err != nil {
		t.Fatal(err)
	}
	d, err := diagnose.New(diagnose.Options{Querier: eng, Catalog: cat})
	if err != nil {
		t.Fatal(err)
	}
	snap, err := d.Snapshot(t.Context(), simEnd, simDuration)
	if err != nil {
		t.Fatal(err)
	}
	th := d.Thresholds()
	conf, qconf := confusion{}, confusion{}
	first := map[string][2]time.Time{} // pod → first true, first diagnosed
	for at := res.Start.Add(evalWindow); !at.After(simEnd); at = at.Add(time.Minute) {
		rep := diagnose.Analyze(snap.Until(at, evalWindow), th)
		primary := map[string]diagnose.State{}
		for _, p := range rep.Pods {
			primary[p.Subject.Namespace+"/"+p.Subject.Pod] = p.Primary
		}
		queues := map[string]diagnose.State{}
		for _, q := range rep.Queues {
			queues[q.Subject.ClusterQueue] = q.Primary
		}
		for _, q := range truth.Queues {
			i := slices.IndexFunc(q.Minutes, func(m sim.QueueMinute) bool { return m.Time.Equal(at.Add(-time.Minute)) })
			if i < 0 {
				continue
			}
			got, ok := queues[q.ClusterQueue]
			if !ok {
				got = "absent"
			}
			qconf.add(got, diagnose.State(q.Minutes[i].State))
		}
		for _, p := range truth.Pods {
			key := p.Namespace + "/" + p.Pod
			i := slices.IndexFunc(p.Minutes, func(m sim.PodMinute) bool { return m.Time.Equal(at.Add(-time.Minute)) })
			if i < 0 {
				continue
			}
			want := truthState(p.Minutes[i].State)
			got, ok := primary[key]
			if !ok {
				got = "absent"
			}
			conf.add(got, want)
			f := first[key]
			if f[0].IsZero() && want == expect {
				f[0] = at
			}
			if f[1].IsZero() && got == want && want == expect {
				f[1] = at
			}
			first[key] = f
		}
	}
	var latency time.Duration
	for _, f := range first {
		if !f[0].IsZero() && !f[1].IsZero() {
			latency = max(latency, f[1].Sub(f[0]))
		}
	}
	final := diagnose.Analyze(snap.Until(simEnd, evalWindow), th)
	if run.checkTruth != nil {
		run.checkTruth(t, final, truth)
	}
	return conf, qconf, latency, final
}

// noCapacityAdvice: a fleet that serves its demand gets no GPUs to add
// or free, and no model-level finding.
func noCapacityAdvice(t *testing.T, r *diagnose.Report) {
	t.Helper()
	for _, c := range r.Capacity {
		if c.Delta != 0 || c.Saturated || !strings.HasPrefix(c.Advice, "none") {
			t.Errorf("capacity %s on %s: delta %d, advice %q; want none", c.Model, c.Kind(), c.Delta, c.Advice)
		}
	}
	for _, f := range r.Findings {
		if f.Subject.Level == diagnose.LevelModel {
			t.Errorf("model finding %s %s: %s", f.Subject, f.State, f.Action)
		}
	}
}

// noKVNotZero: an engine without KV series is not memory-bound on
// nothing, its model has a name, and no evidence reads the absent KV as 0.
func noKVNotZero(t *testing.T, r *diagnose.Report) {
	t.Helper()
	for _, p := range r.Pods {
		if p.Subject.Model == "" {
			t.Errorf("pod %s has no model name", p.Subject)
		}
	}
	for _, f := range r.Findings {
		if f.State == diagnose.StateMemoryBound {
			t.Errorf("%s memory_bound without KV series: %s", f.Subject, f.Summary)
		}
		for _, e := range f.Evidence {
			if e.Signal == "kv_cache_usage_ratio" && !e.NotReported {
				t.Errorf("%s %s: evidence %s = %g, want not reported", f.Subject, f.State, e.Signal, e.Value)
			}
		}
		if strings.Contains(f.Action, "max_num_seqs") || strings.Contains(f.Action, "--max-num-seqs") {
			t.Errorf("%s %s: a vLLM flag for llama.cpp: %s", f.Subject, f.State, f.Action)
		}
	}
}

// midKV: the memory-bound pods' KV usage is above the old fixed 0.25,
// which must not veto the counters.
func midKV(t *testing.T, r *diagnose.Report) {
	t.Helper()
	n := 0
	for _, f := range r.Findings {
		if f.State != diagnose.StateMemoryBound {
			continue
		}
		for _, e := range f.Evidence {
			if e.Signal == "kv_cache_usage_ratio" && e.Value > 0.25 {
				n++
			}
		}
		if !strings.Contains(f.Action, "--max-num-seqs") {
			t.Errorf("%s: action names no vLLM flag: %s", f.Subject, f.Action)
		}
	}
	if n == 0 {
		t.Error("no memory-bound pod above 0.25 KV usage: the scenario does not test a mid KV usage")
	}
}

// unusableAsTruth: the report's unusable GPUs are the truth's failed
// GPUs, each with its XID, and neither counts as free capacity: no idle
// finding names them and the capacity advice holds none of them.
func unusableAsTruth(t *testing.T, r *diagnose.Report, truth sim.Truth) {
	t.Helper()
	want := map[string]int{}
	for _, f := range truth.GPUFailures {
		want[f.UUID] = f.XID
	}
	got := map[string][]int{}
	for _, u := range r.Unusable {
		got[u.UUID] = u.XIDs
	}
	if len(want) == 0 {
		t.Fatal("the truth has no failed GPU")
	}
	for uuid, xid := range want {
		if !slices.Contains(got[uuid], xid) {
			t.Errorf("failed GPU %s (XID %d): reported %v", uuid, xid, got[uuid])
		}
	}
	for uuid := range got {
		if _, ok := want[uuid]; !ok {
			t.Errorf("GPU %s reported unusable, healthy in the truth", uuid)
		}
	}
	held := 0
	for _, p := range r.Pods {
		if p.Primary != diagnose.StateUnusableGPU {
			held += len(p.GPUs)
		}
	}
	for _, f := range r.Findings {
		if _, broken := want[f.Subject.UUID]; broken && f.Subject.Level == diagnose.LevelGPU && f.State == diagnose.StateIdle {
			t.Errorf("broken GPU %s advised as idle capacity: %s", f.Subject.UUID, f.Summary)
		}
	}
	for _, c := range r.Capacity {
		if c.Held > held {
			t.Errorf("capacity of %s holds %d GPUs, more than the %d usable ones", c.Model, c.Held, held)
		}
	}
}
