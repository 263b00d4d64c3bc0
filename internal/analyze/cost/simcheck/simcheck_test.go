// Package simcheck holds tests only: cost attribution against the
// simulator's ground truth, per Kueue and exporter variant. It is, with
// schema/simcheck, app and cmd, one of the few importers of sim.
package simcheck

import (
	"bytes"
	"errors"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/model/value"
	"github.com/prometheus/prometheus/storage"
	"github.com/prometheus/prometheus/util/teststorage"

	"github.com/servescope/servescope/internal/analyze/cost"
	"github.com/servescope/servescope/internal/analyze/query"
	"github.com/servescope/servescope/internal/collect/parse"
	"github.com/servescope/servescope/internal/schema"
	"github.com/servescope/servescope/internal/sim"
	"github.com/servescope/servescope/internal/testutil/expo"
)

// scrapeEvery is the simulated scrape interval: coarser than production to
// keep the 24-hour runs short.
const scrapeEvery = time.Minute

// simulated is how much history each case simulates.
const simulated = 24 * time.Hour

// prices are per whole GPU; MIG slices pay their profile's share.
const prices = `currency: USD
gpus:
  - {gpu: H100, model_name: NVIDIA H100 80GB HBM3, hourly: "3.00"}
  - {flavor: a100-mig, hourly: "1.80"}
`

// teamPrice is the true hourly price of each team's only flavor.
func teamPrice(team string) float64 {
	return map[string]float64{"chat": 3.00, "batch": 3.00, "train": 1.80}[team]
}

// needed reports whether cost reads a metric; the rest is not stored, to
// keep the 24-hour runs short.
func needed(name string) bool {
	switch name {
	case "DCGM_FI_PROF_GR_ENGINE_ACTIVE", "DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION", "DCGM_FI_DEV_POWER_USAGE", "kueue_local_queue_resource_usage", "kueue_cluster_queue_resource_usage", "kueue_cluster_queue_nominal_quota":
		return true
	}
	return strings.HasPrefix(name, "kube_") || engineToken(name)
}

// engineToken reports whether cost reads an engine family: the catalog's
// token counters and requests_running of every engine (what cost per
// million tokens reads; only variants with engines render them).
func engineToken(name string) bool {
	switch name {
	case "vllm:prompt_tokens_total", "vllm:generation_tokens_total", "vllm:prompt_tokens_by_source_total", "vllm:num_requests_running",
		"sglang:prompt_tokens_total", "sglang:generation_tokens_total", "sglang:cached_tokens_total", "sglang:realtime_tokens_total", "sglang:num_running_reqs",
		"llamacpp:prompt_tokens_total", "llamacpp:tokens_predicted_total", "llamacpp:requests_processing":
		return true
	}
	return false
}

// store is one variant's storage and what each of its targets exposed at
// the last scrape.
type store struct {
	v    variant
	st   *teststorage.TestStorage
	last map[string]map[uint64]labels.Labels // target path → series
	// clusters, if set, stores every series once per cluster with the
	// external label cluster=<name>: the same fleet sent by several
	// clusters to one backend.
	clusters []string
}

// ingest appends one target's samples as Prometheus would: target labels
// attached per honor_labels, and a staleness marker for each series the
// target stopped exposing (a deleted pod, a finished workload).
func (s *store) ingest(t *testing.T, app storage.Appender, path string, samples []expo.Sample, target labels.Labels, honor bool, ms int64) {
	t.Helper()
	now := map[uint64]labels.Labels{}
	clusters := s.clusters
	if clusters == nil {
		clusters = []string{""}
	}
	lb := labels.NewBuilder(labels.EmptyLabels())
	for _, smp := range samples {
		if s.v.noEnergyCounter && smp.Labels.Get(model.MetricNameLabel) == "DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION" {
			continue
		}
		for _, cl := range clusters {
			ls := parse.WithTarget(lb, smp.Labels, target, honor)
			if cl != "" {
				ls = labels.NewBuilder(ls).Set("cluster", cl).Labels()
			}
			now[ls.Hash()] = ls
			if _, err := app.Append(0, ls, ms, smp.Value); err != nil {
				t.Fatalf("append: %v", err)
			}
		}
	}
	for k, ls := range s.last[path] {
		if _, ok := now[k]; !ok {
			if _, err := app.Append(0, ls, ms, math.Float64frombits(value.StaleNaN)); err != nil {
				t.Fatalf("append stale marker: %v", err)
			}
		}
	}
	s.last[path] = now
}

// render renders a target, parses it and keeps the samples cost reads.
func render(t *testing.T, c *sim.Cluster, path string) ([]expo.Sample, bool) {
	t.Helper()
	b, err := c.RenderBytes(path)
	if errors.Is(err, sim.ErrTargetDown) {
		return nil, false
	}
	if err != nil {
		t.Fatalf("render %s: %v", path, err)
	}
	all := expo.Parse(t, neededLines(b))
	out := all[:0]
	for _, smp := range all {
		if needed(smp.Labels.Get(model.MetricNameLabel)) {
			out = append(out, smp)
		}
	}
	return out, true
}

// neededLines keeps the lines of a text exposition that name a metric cost
// reads (samples, and the # HELP and # TYPE lines of their families): the
// parse of the rest was most of the simulation's time under -race. render
// still filters the parsed samples by name, so what it returns is the same.
func neededLines(b []byte) []byte {
	out := make([]byte, 0, len(b)/4)
	for len(b) > 0 {
		line, rest, _ := bytes.Cut(b, []byte{'\n'})
		b = rest
		name := line
		if c, ok := bytes.CutPrefix(line, []byte("# ")); ok {
			if _, c, ok = bytes.Cut(c, []byte{' '}); ok {
				name = c // after "# HELP " or "# TYPE "
			}
		}
		if i := bytes.IndexAny(name, "{ "); i >= 0 {
			name = name[:i]
		}
		if len(line) == 0 || needed(string(name)) {
			out = append(append(out, line...), '\n')
		}
	}
	return out
}

// simulate runs one simulation and scrapes it into every variant's store.
// The Kueue and exporter knobs only change what is exposed, not what
// happens, so one run serves every variant: the Kueue target is rendered
// once per variant with that variant's knobs, the dcgm-exporter targets are
// ingested with each variant's honor_labels.
func simulate(t *testing.T, sc *sim.Scenario, stores []*store, start, end time.Time) *sim.Cluster {
	t.Helper()
	return simulateWith(t, sc, stores, start, end, nil)
}

// simulateWith is simulate calling each, if set, after every step (before
// its scrape), e.g. to read the truth at a window's start.
func simulateWith(t *testing.T, sc *sim.Scenario, stores []*store, start, end time.Time, each func(time.Time, *sim.Cluster)) *sim.Cluster {
	t.Helper()
	c, err := sim.NewCluster(sim.Options{Scenario: sc, Seed: 11, Start: start, TruthRetention: end.Sub(start) + time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	for ts := start; !ts.After(end); ts = ts.Add(scrapeEvery) {
		c.Step(ts)
		if each != nil {
			each(ts, c)
		}
		ms := ts.UnixMilli()
		apps := make([]storage.Appender, len(stores))
		for i, s := range stores {
			apps[i] = s.st.Appender(t.Context())
		}
		for _, tg := range c.Targets() {
			if tg.Kind == sim.KindEngine && !slices.ContainsFunc(stores, func(s *store) bool { return s.v.engines }) {
				continue // only cost per million tokens reads engine metrics
			}
			target := labels.NewBuilder(labels.FromMap(tg.Labels)).Set("job", tg.Job).Labels()
			if tg.Kind == sim.KindKueue {
				for i, s := range stores {
					sc.Kueue.LocalQueueMetrics, sc.Kueue.ClusterQueueResources = s.v.lq, s.v.cq
					if samples, ok := render(t, c, tg.Path); ok {
						s.ingest(t, apps[i], tg.Path, samples, target, tg.HonorLabels, ms)
					}
				}
				continue
			}
			samples, ok := render(t, c, tg.Path)
			if !ok {
				continue
			}
			for i, s := range stores {
				if tg.Kind == sim.KindEngine && !s.v.engines {
					continue
				}
				honor := tg.HonorLabels
				if tg.Kind == sim.KindDCGM {
					honor = s.v.honor
				}
				s.ingest(t, apps[i], tg.Path, samples, target, honor, ms)
			}
		}
		for _, app := range apps {
			if err := app.Commit(); err != nil {
				t.Fatal(err)
			}
		}
	}
	return c
}

type variant struct {
	name   string
	lq, cq bool // Kueue LocalQueue metrics, ClusterQueue resource metrics
	honor  bool // dcgm-exporter scraped with honor_labels
	// noEnergyCounter drops DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION, as an
	// exporter whose field list leaves it out.
	noEnergyCounter bool
	// engines scrapes the engines too (cost per million tokens).
	engines    bool
	teamLabel  string
	queueTeams map[string]string
	source     string // expected allocation source
}

// TestCostMatchesSimulator simulates 24 hours (3 with -short or -race),
// scraping every minute, and checks, per variant, per-team allocated, used
// and reserved GPU-hours and cost against the simulator's ground truth
// within 0.5%. Used hours on the short span get 2%: the simulator exposes
// each GPU's busy ratio of the last one-second tick, so a one-minute scrape
// samples it, and the sampling noise only averages out over the day.
func TestCostMatchesSimulator(t *testing.T) {
	variants := []variant{
		{name: "kueue-localqueue-honor-on", lq: true, cq: true, honor: true, source: "kueue-local-queue"},
		// Teams come from neither pod nor namespace labels (the label key
		// "owner" is not allowlisted): only the config maps queues.
		{name: "kueue-clusterqueue-config-honor-off", cq: true, teamLabel: "owner",
			queueTeams: map[string]string{"chat": "chat", "batch": "batch", "train": "train"}, source: "kueue-cluster-queue"},
		{name: "no-kueue-honor-off", source: "pod-requests"},
		{name: "no-kueue-honor-on", honor: true, source: "pod-requests"},
	}
	sc, err := sim.LoadScenario(filepath.Join("testdata", "base.yml"))
	if err != nil {
		t.Fatal(err)
	}
	span, usedTolerance := spanOf()
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	end := start.Add(span)
	stores := newStores(t, variants)
	c := simulate(t, sc, stores, start, end)
	truth := c.Truth()
	for _, s := range stores {
		t.Run(s.v.name, func(t *testing.T) {
			t.Parallel()
			check(t, s, truth, start, end, usedTolerance)
		})
	}
}

// spanOf is the simulated span, 24 hours (3 with -short or -race), and the
// tolerance of used hours over it.
func spanOf() (time.Duration, float64) {
	if testing.Short() || raceEnabled {
		return 3 * time.Hour, 0.02
	}
	return simulated, 0.005
}

func newStores(t *testing.T, variants []variant) []*store {
	stores := make([]*store, len(variants))
	for i, v := range variants {
		stores[i] = &store{v: v, st: teststorage.New(t), last: map[string]map[uint64]labels.Labels{}}
	}
	return stores
}

// TestCostRelabelMatchesSimulator is the relabel case of issue 6: one of
// chat's two serving pods has its team label set to batch halfway through
// the span (kube-state-metrics exposes the same pod and uid with a new
// label_team; the old series goes stale). The pod stays in chat's
// namespace and LocalQueue, whose label still says chat, so only the pod
// label moves its hours. With allocation from pod requests, and with Kueue
// LocalQueue usage (split at each point among the teams of the queue's
// Running pods), each team must be charged within 0.5% of the truth for
// the time the pod carried its label.
func TestCostRelabelMatchesSimulator(t *testing.T) {
	base, err := os.ReadFile(filepath.Join("testdata", "base.yml"))
	if err != nil {
		t.Fatal(err)
	}
	span, usedTolerance := spanOf()
	half := span / 2
	event := "events:\n  - {at: " + half.String() + ", kind: relabel, deployment: chat-llama, pods: 1, label: team, value: batch}\n"
	sc, err := sim.ParseScenario("relabel.yml", append(base, event...))
	if err != nil {
		t.Fatal(err)
	}
	variants := []variant{
		{name: "relabel-no-kueue-honor-off", source: "pod-requests"},
		{name: "relabel-no-kueue-honor-on", honor: true, source: "pod-requests"},
		{name: "relabel-kueue-localqueue-honor-on", lq: true, cq: true, honor: true, source: "kueue-local-queue"},
		{name: "relabel-kueue-clusterqueue-honor-off", cq: true, source: "kueue-cluster-queue"},
	}
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	end := start.Add(span)
	stores := newStores(t, variants)
	c := simulate(t, sc, stores, start, end)
	truth := c.Truth()

	// The truth must split the pod's hours: chat held two GPUs before the
	// relabel and one after, so attribution that ignored the relabel (or
	// took the namespace's team) would be off by a quarter for chat.
	var before, after float64
	for _, tt := range truth.Teams {
		if tt.Team != "chat" {
			continue
		}
		for _, m := range tt.Minutes {
			if m.Time.Before(start.Add(half)) {
				before += m.AllocatedGPUHours
			} else {
				after += m.AllocatedGPUHours
			}
		}
	}
	if h := half.Hours(); math.Abs(before-2*h) > 1e-6 || math.Abs(after-h) > 1e-6 {
		t.Fatalf("truth: chat held %.4f GPU-hours before the relabel and %.4f after, want %g and %g", before, after, 2*h, h)
	}
	moved := 0
	for _, p := range truth.Pods {
		if p.Deployment == "chat-llama" && p.Team == "batch" && p.Namespace == "chat" {
			moved++
		}
	}
	if moved != 1 {
		t.Fatalf("truth: %d chat-llama pods labelled batch, want 1", moved)
	}
	for _, s := range stores {
		t.Run(s.v.name, func(t *testing.T) {
			t.Parallel()
			got := check(t, s, truth, start, end, usedTolerance)
			if s.v.lq || s.v.cq {
				// Kueue's own figure is split, not lost: the queue still
				// reports two GPUs over the span, chat's before the relabel
				// and shared between chat and batch after it.
				if k := got["chat"].KueueGPUHours; k > 1.5*span.Hours()*(1+0.005) {
					t.Errorf("chat kueue %.4f GPU-hours: the relabelled pod's share was not moved", k)
				}
			}
		})
	}
}

// check computes the variant's report and compares it with the truth; it
// returns the allocations by name.
func check(t *testing.T, s *store, truth sim.Truth, start, end time.Time, usedTolerance float64) map[string]cost.Allocation {
	v := s.v
	cat, err := schema.New(schema.Options{TeamLabel: v.teamLabel})
	if err != nil {
		t.Fatal(err)
	}
	pb, err := cost.ParsePriceBook("prices.yml", []byte(prices))
	if err != nil {
		t.Fatal(err)
	}
	set := compute(t, s, cost.Options{Catalog: cat, Prices: pb, TeamLabel: v.teamLabel, QueueTeams: v.queueTeams}, start, end)
	if set.AllocationSource != v.source {
		t.Errorf("allocation source %q, want %q", set.AllocationSource, v.source)
	}
	got := map[string]cost.Allocation{}
	for _, a := range set.Allocations {
		got[a.Name] = a
	}
	if a, ok := got[cost.Unattributed]; ok {
		t.Errorf("unattributed allocation: %+v", a)
	}
	var fleetAlloc float64
	for _, tt := range truth.Teams {
		a := got[tt.Team]
		fleetAlloc += a.PodGPUHours
		within(t, tt.Team+" allocated (charged)", a.AllocatedGPUHours, tt.AllocatedGPUHours)
		within(t, tt.Team+" allocated (pod requests)", a.PodGPUHours, tt.AllocatedGPUHours)
		withinTol(t, tt.Team+" used", a.UsedGPUHours, tt.UsedGPUHours, usedTolerance)
		if v.cq {
			within(t, tt.Team+" reserved", a.ReservedGPUHours, tt.ReservedGPUHours)
		}
		wantCost := tt.AllocatedGPUHours * teamPrice(tt.Team)
		within(t, tt.Team+" cost", float64(a.Cost)/1e6, wantCost)
		t.Logf("%s: allocated %.3f (truth %.3f, pods %.3f, kueue %.3f), used %.3f (truth %.3f), reserved %.3f (truth %.3f), cost %s (truth %.2f)",
			tt.Team, a.AllocatedGPUHours, tt.AllocatedGPUHours, a.PodGPUHours, a.KueueGPUHours, a.UsedGPUHours, tt.UsedGPUHours,
			a.ReservedGPUHours, tt.ReservedGPUHours, a.Cost, wantCost)
	}
	within(t, "fleet allocated", fleetAlloc, truth.Fleet.AllocatedGPUHours)
	if set.Idle == nil {
		t.Fatal("no idle allocation")
	}
	within(t, "fleet idle", set.Idle.IdleGPUHours, truth.Fleet.IdleGPUHours)
	return got
}

// compute is the report of a store over [start, end] at the scrape step.
func compute(t *testing.T, s *store, opts cost.Options, start, end time.Time) cost.Set {
	t.Helper()
	calc, err := cost.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	eng := query.NewEngine(s.st, query.EngineOptions{Registerer: prometheus.NewRegistry(), Timeout: time.Minute, MaxSamples: 50_000_000})
	rep, err := calc.Compute(t.Context(), eng, cost.Request{Start: start, End: end, Step: scrapeEvery})
	if err != nil {
		t.Fatal(err)
	}
	return rep.Sets[0]
}

// within checks got against want within 0.5%.
func within(t *testing.T, what string, got, want float64) {
	t.Helper()
	withinTol(t, what, got, want, 0.005)
}

// withinTol checks got against want within a relative tolerance.
func withinTol(t *testing.T, what string, got, want, tol float64) {
	t.Helper()
	if want == 0 {
		if got != 0 {
			t.Errorf("%s: got %.4f, want 0", what, got)
		}
		return
	}
	if d := math.Abs(got-want) / want; d > tol {
		t.Errorf("%s: got %.4f, want %.4f (off by %.2f%%)", what, got, want, 100*d)
	}
}

// TestNeededLines checks the line filter against the full parse: for every
// target of the base scenario over a few minutes, the samples parsed from
// the kept lines are the needed samples of the whole exposition.
func TestNeededLines(t *testing.T) {
	sc, err := sim.LoadScenario(filepath.Join("testdata", "base.yml"))
	if err != nil {
		t.Fatal(err)
	}
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	c, err := sim.NewCluster(sim.Options{Scenario: sc, Seed: 11, Start: start})
	if err != nil {
		t.Fatal(err)
	}
	kept := 0
	for ts := start; ts.Before(start.Add(5 * time.Minute)); ts = ts.Add(scrapeEvery) {
		c.Step(ts)
		for _, tg := range c.Targets() {
			b, err := c.RenderBytes(tg.Path)
			if errors.Is(err, sim.ErrTargetDown) {
				continue
			}
			if err != nil {
				t.Fatal(err)
			}
			var want []expo.Sample
			for _, smp := range expo.Parse(t, b) {
				if needed(smp.Labels.Get(model.MetricNameLabel)) {
					want = append(want, smp)
				}
			}
			got := expo.Parse(t, neededLines(b))
			if len(got) != len(want) {
				t.Fatalf("%s at %s: %d samples from the kept lines, %d needed", tg.Path, ts, len(got), len(want))
			}
			for i := range got {
				if !labels.Equal(got[i].Labels, want[i].Labels) || math.Float64bits(got[i].Value) != math.Float64bits(want[i].Value) ||
					got[i].Family != want[i].Family || got[i].Type != want[i].Type {
					t.Fatalf("%s at %s: sample %d is %s %g, want %s %g", tg.Path, ts, i, got[i].Labels, got[i].Value, want[i].Labels, want[i].Value)
				}
			}
			kept += len(got)
		}
	}
	if kept == 0 {
		t.Fatal("no needed sample at all")
	}
}
