package simcheck

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/servescope/servescope/internal/analyze/diagnose"
	"github.com/servescope/servescope/internal/analyze/query"
	"github.com/servescope/servescope/internal/app"
	"github.com/servescope/servescope/internal/schema"
	"github.com/servescope/servescope/internal/sim"
	"github.com/servescope/servescope/internal/store/tsdb"
)

// longHistory is how much history TestLongWindows simulates. A week of
// simulation takes many minutes on a small machine, so the windows reach
// back past the start of the data: the queries still span 48 hours and
// 7 days at the steps chosen for them (the full week at 64 GPUs is timed
// in BENCHMARKS.md instead).
const longHistory = 6 * time.Hour

// TestLongWindows simulates the memory-bound scenario for longHistory at 4
// GPUs (scraped every minute, to keep the backfill short), then diagnoses the
// last 48 hours and the last 7 days through the embedded engine, which
// refuses a query of more than 11,000 points as Prometheus does. Each
// window must answer at the step chosen for it, every pod must be
// memory-bound as the simulator's truth says for the last minute, and the
// capacity advice must add nothing (no unmet demand).
func TestLongWindows(t *testing.T) {
	if testing.Short() || raceEnabled {
		t.Skip("hours of simulated history: not under -short or -race")
	}
	end := time.Date(2026, 3, 2, 3, 50, 0, 0, time.UTC)
	sc, err := sim.LoadScenario(filepath.Join("..", "..", "..", "..", "examples", "scenarios", "memory-bound.yml"))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	res, err := app.Backfill(t.Context(), app.BackfillOptions{Scenario: sc, GPUs: simGPUs, Seed: 1,
		Duration: longHistory, End: end, Interval: time.Minute, EvalInterval: -1, StoragePath: dir})
	if err != nil {
		t.Fatal(err)
	}
	res.Cluster.Step(end.Add(time.Minute))
	truth := map[string]sim.State{}
	for _, p := range res.Cluster.Truth().Pods {
		for _, m := range p.Minutes {
			if m.Time.Equal(end.Add(-time.Minute)) {
				truth[p.Namespace+"/"+p.Pod] = m.State
			}
		}
	}
	db, err := tsdb.Open(tsdb.Options{Path: dir})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	eng := query.NewEngine(db.Queryable(), query.EngineOptions{Timeout: 5 * time.Minute, MaxSamples: 50e6, Registerer: prometheus.NewRegistry()})
	cat, err := schema.New(schema.Options{})
	if err != nil {
		t.Fatal(err)
	}
	d, err := diagnose.New(diagnose.Options{Querier: eng, Catalog: cat})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		window, step time.Duration
	}{{48 * time.Hour, 2 * time.Minute}, {7 * 24 * time.Hour, 6 * time.Minute}} {
		t.Run(c.window.String(), func(t *testing.T) {
			s, err := d.Snapshot(t.Context(), end, c.window)
			if err != nil {
				t.Fatal(err)
			}
			if s.Window.Step != c.step || s.Window.Steps() > diagnose.MaxSteps+1 {
				t.Errorf("step %s (%d steps), want %s", s.Window.Step, s.Window.Steps(), c.step)
			}
			r := diagnose.Analyze(s, d.Thresholds())
			if len(r.Pods) == 0 {
				t.Fatal("no pods diagnosed")
			}
			for _, p := range r.Pods {
				want, ok := truth[p.Subject.Namespace+"/"+p.Subject.Pod]
				if !ok {
					continue
				}
				if got := p.Primary; got != truthState(want) {
					t.Errorf("%s: primary %s, truth %s", p.Subject, got, want)
				}
			}
			for _, cp := range r.Capacity {
				if cp.Delta > 0 {
					t.Errorf("capacity %s: %s (no demand is unmet)", cp.Model, cp.Advice)
				}
			}
		})
	}
}
