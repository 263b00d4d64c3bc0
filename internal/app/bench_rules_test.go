package app

import (
	"cmp"
	"fmt"
	"slices"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/prometheus/model/rulefmt"
	"github.com/prometheus/prometheus/util/teststorage"

	"github.com/servescope/servescope/internal/analyze/query"
	"github.com/servescope/servescope/internal/analyze/rules"
	"github.com/servescope/servescope/internal/schema"
	"github.com/servescope/servescope/internal/store/tsdb"
)

// BenchmarkCatalogRules measures one evaluation of each of the catalog's
// rule groups, as the embedded rule manager runs them (label_replace
// pruning included), over the end of 10 minutes of the healthy scenario
// at 2,000 GPUs scraped every 15 s and stored as servescope stores them
// (native histograms with custom buckets). The store is written once into
// $SERVESCOPE_BENCH_CACHE or the user cache directory; what the rules
// record goes to a scratch store, so every iteration reads the same data.
// The groups run in order, as a live iteration does (teams read signals).
func BenchmarkCatalogRules(b *testing.B) {
	const gpus = 2000
	end := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	dir := benchStore(b, fmt.Sprintf("rules-healthy-%dgpus-10m-v1", gpus), func(dir string) {
		if _, err := Backfill(b.Context(), BackfillOptions{Scenario: loadSimScenario(b, "healthy"), GPUs: gpus, Seed: 1,
			Duration: 10 * time.Minute, End: end, StoragePath: dir, EvalInterval: -1}); err != nil {
			b.Fatal(err)
		}
	})
	db, err := tsdb.Open(tsdb.Options{Path: dir})
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	cat, err := schema.New(schema.Options{})
	if err != nil {
		b.Fatal(err)
	}
	eng := query.NewEngine(db.Queryable(), query.EngineOptions{Timeout: 2 * time.Minute, MaxSamples: 50_000_000, Registerer: prometheus.NewRegistry()})
	scratch := teststorage.New(b)
	for _, g := range cat.RuleGroups(15 * time.Second).Groups {
		b.Run(g.Name, func(b *testing.B) {
			rm, err := rules.New(rules.Options{Appendable: scratch, Queryable: db.Queryable(), Engine: eng.Promql(), Lookback: eng.LookbackDelta(), Interval: 15 * time.Second, MetricLabels: db.MetricLabelNames})
			if err != nil {
				b.Fatal(err)
			}
			if err := rm.ApplyConfig(nil, rules.Builtin{Name: "catalog", Groups: rulefmt.RuleGroups{Groups: []rulefmt.RuleGroup{g}}}); err != nil {
				b.Fatal(err)
			}
			cpu0 := processCPU(b)
			for b.Loop() {
				rm.EvalAt(b.Context(), end)
			}
			b.ReportMetric(float64((processCPU(b)-cpu0).Milliseconds())/float64(b.N), "cpu-ms/op")
			hs := rm.Health()
			for _, h := range hs {
				if h.Err != nil {
					b.Fatalf("%s: %v", h.Rule, h.Err)
				}
			}
			slices.SortFunc(hs, func(x, y rules.Health) int { return cmp.Compare(y.Took, x.Took) })
			for _, h := range hs[:min(25, len(hs))] {
				b.Logf("%-60s %v", h.Rule, h.Took.Round(time.Millisecond))
			}
		})
	}
}

// processCPU is the process's user and system CPU time so far: on a busy
// machine a benchmark's CPU time moves less than its wall time.
func processCPU(b *testing.B) time.Duration {
	b.Helper()
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatalf("getrusage: %v", err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
