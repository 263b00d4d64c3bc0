package simcheck

import (
	"testing"
	"time"

	"github.com/servescope/servescope/internal/schema/schematest"
)

// checkGatewayQueue compares gateway_queued_requests, summed per namespace
// (one gateway each) and averaged over the run's third minute, with the
// simulator's truth: the requests each gateway held, as its pods' shares.
func checkGatewayQueue(t *testing.T, r simRun) {
	minute, at := r.start.Add(2*time.Minute), r.end.Add(-r.every)
	cat, st, c := r.cat, r.st, r.c
	q, err := cat.Query("gateway_queued_requests")
	if err != nil {
		t.Fatal(err)
	}
	if q, err = cat.AvgOverTime(q, time.Minute, r.every); err != nil {
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
