package simcheck

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/model"

	"github.com/servescope/servescope/internal/analyze/query"
	"github.com/servescope/servescope/internal/analyze/rules"
	"github.com/servescope/servescope/internal/analyze/slo"
	"github.com/servescope/servescope/internal/app"
	"github.com/servescope/servescope/internal/schema"
	"github.com/servescope/servescope/internal/sim"
	"github.com/servescope/servescope/internal/store/tsdb"
)

// sloRun backfills a scenario with the objectives' rules alone evaluated
// every evalEvery during the backfill, as the embedded rule manager would
// have, and returns when each alert fired (its FiredAt as the manager
// notified it, keyed "alertname slo model"), the backfill's result and an
// engine over the store.
func sloRun(t *testing.T, scenario string, gpus int, span time.Duration, end time.Time, set slo.Set, scrape, evalEvery time.Duration) (map[string][]time.Time, app.BackfillResult, *query.Engine) {
	t.Helper()
	sc, err := sim.OpenScenario("", scenario)
	if err != nil {
		t.Fatal(err)
	}
	cat, err := schema.New(schema.Options{})
	if err != nil {
		t.Fatal(err)
	}
	groups, err := slo.RuleGroups(cat, set, evalEvery)
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	fired := map[string][]time.Time{}
	notify := func(_ context.Context, _ string, alerts ...*rules.Alert) {
		mu.Lock()
		defer mu.Unlock()
		for _, a := range alerts {
			if !a.FiredAt.IsZero() && a.ResolvedAt.IsZero() {
				k := a.Labels.Get("alertname") + " " + a.Labels.Get("slo") + " " + a.Labels.Get("model_name")
				if !slices.Contains(fired[k], a.FiredAt) {
					fired[k] = append(fired[k], a.FiredAt)
				}
			}
		}
	}
	dir := t.TempDir()
	res, err := app.Backfill(t.Context(), app.BackfillOptions{Scenario: sc, GPUs: gpus, Seed: 1, Duration: span, End: end, Interval: scrape,
		StoragePath: dir, EvalInterval: evalEvery, OnlyRules: true, Notify: notify, Rules: []rules.Builtin{{Name: "slo", Groups: groups}}, Warmup: 5 * time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	db, err := tsdb.Open(tsdb.Options{Path: dir})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	eng := query.NewEngine(db.Queryable(), query.EngineOptions{Timeout: time.Minute, MaxSamples: 50e6, Registerer: prometheus.NewRegistry()})
	mu.Lock()
	defer mu.Unlock()
	return fired, res, eng
}

// regressionSet is the objective TestSLOTTFTRegression holds the
// ttft-regression scenario to: 99.9% of requests with TTFT ≤ 500 ms (a
// boundary of vLLM's TTFT buckets), 0.5% slow in its quiet minutes.
var regressionSet = slo.Set{MinRequestRate: 0.1, Objectives: []slo.Objective{
	{Name: "ttft-500ms", Model: slo.AllModels, Indicator: "ttft", Threshold: 500 * time.Millisecond, Target: 0.999, Window: 28 * 24 * time.Hour, Engine: "vllm"},
}}

// TestSLOTTFTRegression backfills the ttft-regression scenario (a 2×
// request spike 20 minutes in) with the objective's rules evaluated every
// 30 s, and checks the fast-burn page: silent before the regression the
// simulator's truth reports, then firing within the workbook's detection
// time for the burn rate measured over the regression, 14.4 × budget × 1h
// / error ratio (plus one evaluation interval and one scrape, the rules'
// and rates' sampling).
func TestSLOTTFTRegression(t *testing.T) {
	if raceEnabled {
		t.Skip("a simulated half hour with rules: not under -race")
	}
	const scrape, every = 15 * time.Second, 30 * time.Second
	end := time.Date(2026, 3, 2, 1, 0, 0, 0, time.UTC)
	fired, res, eng := sloRun(t, "ttft-regression", 8, 32*time.Minute, end, regressionSet, scrape, every)
	// The regression as the truth has it: the first and last minutes any
	// pod is in ttft_regression.
	var first, last time.Time
	for _, p := range res.Cluster.Truth().Pods {
		for _, m := range p.Minutes {
			if m.State == sim.StateTTFTRegression {
				if first.IsZero() || m.Time.Before(first) {
					first = m.Time
				}
				if m.Time.After(last) {
					last = m.Time
				}
			}
		}
	}
	if first.IsZero() {
		t.Fatal("the truth has no ttft_regression minute")
	}
	// The error ratio over the regression, from the histograms.
	cat, err := schema.New(schema.Options{})
	if err != nil {
		t.Fatal(err)
	}
	o := regressionSet.Objectives[0]
	span := last.Add(time.Minute).Sub(first)
	ratio := func(k slo.Kind) float64 {
		e, err := slo.Expr(cat, o, nil, k, span)
		if err != nil {
			t.Fatal(err)
		}
		r, err := eng.Query(t.Context(), e.String(), last.Add(time.Minute))
		if err != nil {
			t.Fatal(err)
		}
		v := r.Value.(model.Vector)
		if len(v) != 1 {
			t.Fatalf("%s: %d series, want 1", e, len(v))
		}
		return float64(v[0].Value)
	}
	errRatio := ratio(slo.Errors) / ratio(slo.Requests)
	detect := time.Duration(14.4 * o.Budget() * float64(time.Hour) / errRatio)
	got := fired["LatencyBudgetBurnFast ttft-500ms meta-llama/Llama-3.1-8B-Instruct"]
	t.Logf("regression %s–%s, error ratio %.3f over it, detection time %s, fast burn fired at %v", first.Format("15:04"), last.Add(time.Minute).Format("15:04"), errRatio, detect, got)
	if len(got) == 0 {
		t.Fatalf("the fast-burn page never fired (fired: %v)", fired)
	}
	if got[0].Before(first) {
		t.Errorf("the fast-burn page fired at %s, before the regression at %s", got[0].Format(time.TimeOnly), first.Format(time.TimeOnly))
	}
	if deadline := first.Add(detect + every + scrape); got[0].After(deadline) {
		t.Errorf("the fast-burn page fired at %s, after the detection time %s (%s)", got[0].Format(time.TimeOnly), detect, deadline.Format(time.TimeOnly))
	}
	// Every alert, the ticket included (its 3-day window holds only this
	// half hour of history), stays silent before the regression.
	for k, ts := range fired {
		if ts[0].Before(first) {
			t.Errorf("%s fired at %s, before the regression at %s", k, ts[0].Format(time.TimeOnly), first.Format(time.TimeOnly))
		}
	}
}

// TestSLOHealthy backfills 24 hours of the healthy scenario (scraped
// every 2 minutes, rules every 2 minutes, to keep it to a couple of
// minutes) and checks that objectives fitting its latencies fire no
// burn-rate alert. Not under -short: it is the one long SLO run.
func TestSLOHealthy(t *testing.T) {
	if testing.Short() || raceEnabled {
		t.Skip("24 simulated hours: not under -short or -race")
	}
	set := slo.Set{MinRequestRate: 0.1, Objectives: []slo.Objective{
		{Name: "ttft-2500ms", Model: slo.AllModels, Indicator: "ttft", Threshold: 2500 * time.Millisecond, Target: 0.99, Window: 28 * 24 * time.Hour, Engine: "vllm"},
		{Name: "e2e-60s", Model: slo.AllModels, Indicator: "e2e", Threshold: time.Minute, Target: 0.99, Window: 28 * 24 * time.Hour, Engine: "vllm"},
	}}
	fired, _, _ := sloRun(t, "healthy", 8, 24*time.Hour, time.Date(2026, 3, 3, 0, 0, 0, 0, time.UTC), set, 2*time.Minute, 2*time.Minute)
	if len(fired) > 0 {
		t.Errorf("burn-rate alerts fired on the healthy fleet: %v", fired)
	}
}
