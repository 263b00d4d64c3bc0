package simcheck

import (
	"testing"
	"time"

	"github.com/prometheus/prometheus/util/teststorage"

	"github.com/servescope/servescope/internal/schema"
	"github.com/servescope/servescope/internal/sim"
)

// simRun is one simulated run scraped into a store as Prometheus would
// have, with the catalog that reads it.
type simRun struct {
	c          *sim.Cluster
	st         *teststorage.TestStorage
	cat        *schema.Catalog
	start, end time.Time
	every      time.Duration
}

// TestScenarioSignals runs each scenario (a shipped one by name, a variant
// in testdata by file) at gpus GPUs (0: the scenario's), scrapes every
// target every `every` until before span is over, steps the cluster to the
// end (closing its last minute) and compares the catalog's signals with
// the simulator's truth by the row's check:
//   - the variants: the topology join exactly, and per-pod values averaged
//     over the last whole minute within a tolerance (the truth averages every
//     engine step; the test samples every 5 s);
//   - gateway-backlog (an llm-d EPP dual-emitting its deprecated names, a
//     Dynamo frontend, an EPP with headroom): gateway_queued_requests per
//     namespace against the requests each gateway held;
//   - the disaggregation scenarios: roles, KV transfers and sleep;
//   - gpu-failure (dcgm-exporter with its health collectors): the health
//     signals show the truth's failed GPUs and only them.
func TestScenarioSignals(t *testing.T) {
	t.Parallel()
	runs := []struct {
		name, scenario string
		gpus           int
		span, every    time.Duration
		check          func(t *testing.T, r simRun)
	}{
		{"honor-on-localqueue.yml", "testdata/honor-on-localqueue.yml", 0, 3 * time.Minute, simScrapeEvery, checkVariant},
		{"honor-off-clusterqueue-ha.yml", "testdata/honor-off-clusterqueue-ha.yml", 0, 3 * time.Minute, simScrapeEvery, checkVariant},
		{"gateway-backlog", "gateway-backlog", 16, 3 * time.Minute, simScrapeEvery, checkGatewayQueue},
		{"kv-transfer-slow", "kv-transfer-slow", 8, 5 * time.Minute, simScrapeEvery, checkPDRun},
		{"engine-asleep", "engine-asleep", 8, 5 * time.Minute, simScrapeEvery, checkPDRun},
		{"gpu-failure", "gpu-failure", 0, 19 * time.Minute, 15 * time.Second, checkGPUHealth},
	}
	for _, r := range runs {
		t.Run(r.name, func(t *testing.T) {
			t.Parallel()
			sc, err := sim.OpenScenario("", r.scenario)
			if err != nil {
				t.Fatal(err)
			}
			r.check(t, simulateRun(t, sc, r.gpus, r.span, r.every))
		})
	}
}

// simulateRun runs sc for span from its start, scraping every target every
// `every` (from start+every to before the end) into a test store, and steps
// the cluster to the end.
func simulateRun(t *testing.T, sc *sim.Scenario, gpus int, span, every time.Duration) simRun {
	t.Helper()
	c, err := sim.NewCluster(sim.Options{Scenario: sc, Seed: 7, GPUs: gpus})
	if err != nil {
		t.Fatal(err)
	}
	r := simRun{c: c, st: teststorage.New(t), start: c.Start(), end: c.Start().Add(span), every: every}
	for ts := r.start.Add(every); ts.Before(r.end); ts = ts.Add(every) {
		app := r.st.AppenderV2(t.Context())
		scrapeSim(t, app, c, ts)
		if err := app.Commit(); err != nil {
			t.Fatal(err)
		}
	}
	c.Step(r.end)
	if r.cat, err = schema.New(schema.Options{}); err != nil {
		t.Fatal(err)
	}
	return r
}
