package simcheck

import (
	"math"
	"path/filepath"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/util/teststorage"

	"github.com/servescope/servescope/internal/analyze/cost"
	"github.com/servescope/servescope/internal/analyze/fleet"
	"github.com/servescope/servescope/internal/analyze/query"
	"github.com/servescope/servescope/internal/schema"
	"github.com/servescope/servescope/internal/sim"
)

// TestTwoClustersAddUp stores one simulated fleet alone, and the same fleet
// twice into one backend with cluster=a and cluster=b (every pod, node and
// queue name shared by both). Each cluster's figures equal the fleet
// alone, every team's total across clusters is twice it (the pods are two,
// not merged), the report grouped by cluster has one row per cluster, and
// the fleet model per cluster adds up to the whole.
func TestTwoClustersAddUp(t *testing.T) {
	sc, err := sim.LoadScenario(filepath.Join("testdata", "base.yml"))
	if err != nil {
		t.Fatal(err)
	}
	v := variant{name: "kueue-localqueue-honor-on", lq: true, cq: true, honor: true}
	alone := &store{v: v, st: teststorage.New(t), last: map[string]map[uint64]labels.Labels{}}
	two := &store{v: v, st: teststorage.New(t), last: map[string]map[uint64]labels.Labels{}, clusters: []string{"a", "b"}}
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	span := 2 * time.Hour
	if raceEnabled {
		span = 30 * time.Minute
	}
	end := start.Add(span)
	simulate(t, sc, []*store{alone, two}, start, end)

	cat, err := schema.New(schema.Options{})
	if err != nil {
		t.Fatal(err)
	}
	pb, err := cost.ParsePriceBook("prices.yml", []byte(prices))
	if err != nil {
		t.Fatal(err)
	}
	calc, err := cost.New(cost.Options{Catalog: cat, Prices: pb})
	if err != nil {
		t.Fatal(err)
	}
	engine := func(s *store) *query.Engine {
		return query.NewEngine(s.st, query.EngineOptions{Registerer: prometheus.NewRegistry(), Timeout: time.Minute, MaxSamples: 50_000_000})
	}
	ea, e2 := engine(alone), engine(two)
	run := func(q cost.Querier, by cost.Aggregate, cl string) cost.Set {
		t.Helper()
		rep, err := calc.Compute(t.Context(), q, cost.Request{Start: start, End: end, Step: scrapeEvery, By: by, Cluster: cl})
		if err != nil {
			t.Fatal(err)
		}
		return rep.Sets[0]
	}
	rows := func(s cost.Set) map[string]cost.Allocation {
		m := map[string]cost.Allocation{}
		for _, a := range s.Allocations {
			m[a.Name] = a
		}
		return m
	}
	base := run(ea, cost.ByTeam, "")
	if len(base.Allocations) < 2 || base.Totals.AllocatedGPUHours == 0 {
		t.Fatalf("the fleet alone has no allocations: %+v", base)
	}
	same := func(what string, got, want, times float64) {
		t.Helper()
		if math.Abs(got-times*want) > 1e-9*max(1, math.Abs(want)) {
			t.Errorf("%s: %.9f, want %g × %.9f", what, got, times, want)
		}
	}
	all := run(e2, cost.ByTeam, "")
	for _, cl := range []string{"a", "b"} {
		one := rows(run(e2, cost.ByTeam, cl))
		for team, w := range rows(base) {
			g := one[team]
			same("cluster "+cl+" team "+team+" allocated", g.AllocatedGPUHours, w.AllocatedGPUHours, 1)
			same("cluster "+cl+" team "+team+" used", g.UsedGPUHours, w.UsedGPUHours, 1)
			same("cluster "+cl+" team "+team+" reserved", g.ReservedGPUHours, w.ReservedGPUHours, 1)
			if g.Cost != w.Cost {
				t.Errorf("cluster %s team %s cost %s, want %s", cl, team, g.Cost, w.Cost)
			}
		}
	}
	for team, w := range rows(base) {
		g := rows(all)[team]
		same("team "+team+" allocated across clusters", g.AllocatedGPUHours, w.AllocatedGPUHours, 2)
		same("team "+team+" used across clusters", g.UsedGPUHours, w.UsedGPUHours, 2)
		if g.Cost != 2*w.Cost {
			t.Errorf("team %s cost across clusters %s, want 2 × %s", team, g.Cost, w.Cost)
		}
	}
	if all.Fleet.PhysicalGPUs != 2*base.Fleet.PhysicalGPUs || all.Totals.TotalCost != 2*base.Totals.TotalCost {
		t.Errorf("fleet %d GPUs, total %s; want twice %d and %s", all.Fleet.PhysicalGPUs, all.Totals.TotalCost, base.Fleet.PhysicalGPUs, base.Totals.TotalCost)
	}
	byCluster := rows(run(e2, cost.ByCluster, ""))
	for _, cl := range []string{"a", "b"} {
		same("by cluster "+cl, byCluster[cl].AllocatedGPUHours, base.Totals.AllocatedGPUHours, 1)
	}

	fc, err := fleet.New(fleet.Options{Cost: calc, Catalog: cat})
	if err != nil {
		t.Fatal(err)
	}
	whole, err := fc.Compute(t.Context(), e2, start, end, scrapeEvery)
	if err != nil {
		t.Fatal(err)
	}
	per, err := fc.PerCluster(t.Context(), e2, start, end, scrapeEvery)
	if err != nil {
		t.Fatal(err)
	}
	if len(per) != 2 || per[0].Cluster != "a" || per[1].Cluster != "b" {
		t.Fatalf("fleet per cluster: %d models", len(per))
	}
	var gpus int
	var allocatable float64
	var money cost.Micros
	for _, m := range per {
		gpus += m.GPUs.PhysicalGPUs
		allocatable += m.Hours.Allocatable
		money += m.Money.Allocated
	}
	if gpus != whole.GPUs.PhysicalGPUs || math.Abs(allocatable-whole.Hours.Allocatable) > 1e-9 || money != whole.Money.Allocated {
		t.Errorf("per cluster %d GPUs, %.6f h, %s; the whole %d, %.6f h, %s", gpus, allocatable, money, whole.GPUs.PhysicalGPUs, whole.Hours.Allocatable, whole.Money.Allocated)
	}
}
