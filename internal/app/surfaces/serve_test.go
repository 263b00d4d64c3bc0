package surfaces

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/servescope/servescope/internal/analyze/query"
	"github.com/servescope/servescope/internal/analyze/rules"
	"github.com/servescope/servescope/internal/analyze/slo"
	"github.com/servescope/servescope/internal/app"
	"github.com/servescope/servescope/internal/sim"
	"github.com/servescope/servescope/internal/testutil/proc"
)

// served is a shipped scenario's history backfilled as `sim backfill`
// writes it (the catalog's recording rules and the config's objectives'
// rules evaluated over it), then opened by `servescope serve` with the
// config: the dashboard, /api/v1/queues and /api/v1/diagnoses are the
// server's own, and the offline commands (`report`, `top`) read it over
// its API, as a person would run them.
type served struct {
	url      string
	end      time.Time
	settings app.Settings
	truth    sim.Truth
	// q is the server's own querier (the recorded series, for comparing).
	q query.Querier
}

// serveScenario backfills history of scenario (gpus GPUs, after warmup
// simulated but not written) ending at the last whole minute, the config's
// objectives' rules evaluated every eval (and the catalog's recording
// rules, which the dashboard's charts and fleet view read, when catalog is
// set: they are most of the backfill's time), and serves it with the
// config yml (written to servescope.yml). Each test calls it once and reads
// every surface from it; warm-up is cheap, history is not.
func serveScenario(t *testing.T, scenario string, gpus int, history, warmup, eval time.Duration, catalog bool, yml string) *served {
	t.Helper()
	dir := t.TempDir()
	cfgFile := filepath.Join(dir, "servescope.yml")
	if err := os.WriteFile(cfgFile, []byte(yml), 0o644); err != nil {
		t.Fatal(err)
	}
	st, err := app.LoadSettings(cfgFile, true)
	if err != nil {
		t.Fatal(err)
	}
	cat, err := app.Catalog(st)
	if err != nil {
		t.Fatal(err)
	}
	var extra []rules.Builtin
	if len(st.Objectives.Objectives) > 0 {
		groups, err := slo.RuleGroups(cat, st.Objectives, eval)
		if err != nil {
			t.Fatal(err)
		}
		extra = append(extra, rules.Builtin{Name: app.SLOBuiltin, Groups: groups})
	}
	sc, err := sim.OpenScenario("", scenario)
	if err != nil {
		t.Fatal(err)
	}
	data := filepath.Join(dir, "data")
	// Whole minutes, so the rules' evaluations (every eval from the
	// history's start) fall on the end.
	end := time.Now().UTC().Truncate(time.Minute)
	began := time.Now()
	res, err := app.Backfill(t.Context(), app.BackfillOptions{Scenario: sc, GPUs: gpus, Seed: 1, Duration: history, Warmup: warmup, End: end,
		Interval: scrapeEvery, EvalInterval: eval, OnlyRules: !catalog, Rules: extra, StoragePath: data})
	if err != nil {
		t.Fatal(err)
	}
	s := &served{end: res.End, settings: st, truth: res.Cluster.Truth()}
	t.Logf("backfill of %s: %d samples in %s", scenario, res.Samples, time.Since(began).Round(time.Millisecond))
	began = time.Now()

	srv, err := app.New(app.Options{ConfigFile: cfgFile, StoragePath: data, ListenAddress: "127.0.0.1:0",
		QueryTimeout: time.Minute, QueryMaxSamples: 50_000_000})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	})
	s.url = "http://" + srv.Addr()
	proc.WaitReady(t, "servescope", s.url, time.Minute)
	s.q = srv.Querier()
	t.Logf("serve ready in %s", time.Since(began).Round(time.Millisecond))
	return s
}
