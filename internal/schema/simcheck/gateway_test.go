package simcheck

import (
	"testing"
	"time"

	"github.com/prometheus/prometheus/util/teststorage"

	"github.com/servescope/servescope/internal/schema"
	"github.com/servescope/servescope/internal/schema/schematest"
	"github.com/servescope/servescope/internal/sim"
)

// TestGatewayQueueTruth scrapes the gateway-backlog scenario (an llm-d EPP
// dual-emitting its deprecated names, a Dynamo frontend, an EPP with
// headroom) for 3 minutes and compares gateway_queued_requests, summed per
// namespace (one gateway each) and averaged over the last minute, with the
// simulator's truth: the requests each gateway held, as its pods' shares.
func TestGatewayQueueTruth(t *testing.T) {
	t.Parallel()
	sc, err := sim.OpenScenario("", "gateway-backlog")
	if err != nil {
		t.Fatal(err)
	}
	c, err := sim.NewCluster(sim.Options{Scenario: sc, Seed: 7, GPUs: 16})
	if err != nil {
		t.Fatal(err)
	}
	st := teststorage.New(t)
	start := c.Start()
	end := start.Add(3 * time.Minute)
	for ts := start.Add(simScrapeEvery); ts.Before(end); ts = ts.Add(simScrapeEvery) {
		app := st.AppenderV2(t.Context())
		scrapeSim(t, app, c, ts)
		if err := app.Commit(); err != nil {
			t.Fatal(err)
		}
	}
	c.Step(end)
	minute, at := start.Add(2*time.Minute), end.Add(-simScrapeEvery)
	cat, err := schema.New(schema.Options{})
	if err != nil {
		t.Fatal(err)
	}
	q, err := cat.Query("gateway_queued_requests")
	if err != nil {
		t.Fatal(err)
	}
	if q, err = cat.AvgOverTime(q, time.Minute, simScrapeEvery); err != nil {
		t.Fatal(err)
	}
	got := map[string]float64{}
	for _, s := range schematest.Instant(t, schematest.NewEngine(), st, q, at) {
		got[s.Metric.Get("namespace")] += s.F
	}
	want := map[string]float64{}
	for _, p := range c.Truth().Pods {
		if m, ok := minuteOf(p.Minutes, minute); ok {
			want[p.Namespace] += m.GatewayQueued
		}
	}
	t.Logf("catalog %v, truth %v", got, want)
	if len(want) != 3 {
		t.Fatalf("truth for %d namespaces, want 3: %v", len(want), want)
	}
	for ns, w := range want {
		if !within(got[ns], w, 0.1, 1) {
			t.Errorf("gateway_queued_requests in %s = %.1f, truth %.1f", ns, got[ns], w)
		}
	}
	if want["chat"] < 100 || want["agents"] < 100 || want["search"] > 1 {
		t.Errorf("the scenario's gateways do not hold what it says: %v", want)
	}
}
