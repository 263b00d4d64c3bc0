package web

import (
	"context"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/servescope/servescope/internal/analyze/cost"
	"github.com/servescope/servescope/internal/analyze/fleet"
	"github.com/servescope/servescope/internal/schema"
)

// clusterQuerier names two clusters.
type clusterQuerier struct{ fakeQuerier }

func (clusterQuerier) LabelValues(_ context.Context, name string, _ []string, _, _ time.Time) ([]string, error) {
	if name == "k8s_cluster" {
		return []string{"us-1", "eu-1"}, nil
	}
	return nil, nil
}

// namedFindings says which cluster's findings it is.
type namedFindings string

func (n namedFindings) Findings(context.Context, time.Time, time.Duration) ([]Finding, error) {
	return []Finding{{Subject: "pod of " + string(n), State: "idle", Severity: "warning", Confidence: 0.9}}, nil
}

// TestClusterState: cluster= in the URL reads every panel through that
// cluster's sources, the picker lists the clusters and keeps the choice in
// links; without a selection, every cluster's sources are read.
func TestClusterState(t *testing.T) {
	cat, err := schema.New(schema.Options{ClusterLabel: "k8s_cluster"})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 3, 2, 12, 0, 0, 0, time.UTC)
	q := clusterQuerier{fakeQuerier{end: now}}
	var mu sync.Mutex
	var asked []string
	opts := Options{Querier: q, Catalog: cat, Findings: namedFindings("all"), Now: func() time.Time { return now }, ClusterLabel: "k8s_cluster"}
	opts.ForCluster = func(name string) (Options, error) {
		mu.Lock()
		asked = append(asked, name)
		mu.Unlock()
		o := opts
		o.Findings, o.ForCluster = namedFindings(name), nil
		return o, nil
	}
	h, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)

	_, body := get(t, srv.URL+"/findings?cluster=eu-1")
	for _, want := range []string{`name="cluster"`, `<option value="eu-1" selected>eu-1</option>`, `<option value="us-1">us-1</option>`, "pod of eu-1", `href="/?cluster=eu-1"`} {
		if !strings.Contains(body, want) {
			t.Errorf("/findings?cluster=eu-1 lacks %s", want)
		}
	}
	if strings.Contains(body, "pod of all") {
		t.Error("the selected cluster's page shows every cluster's findings")
	}
	if len(asked) != 1 || asked[0] != "eu-1" {
		t.Errorf("ForCluster asked %q, want [eu-1]", asked)
	}
	_, body = get(t, srv.URL+"/findings")
	if !strings.Contains(body, "pod of all") || !strings.Contains(body, `name="cluster"`) {
		t.Error("without a selection the page does not show every cluster with the picker")
	}
}

// TestFleetTablePerCluster: with two clusters the fleet table gains a
// column per cluster for GPUs, GPU-hours and busy; with one it has none.
func TestFleetTablePerCluster(t *testing.T) {
	m := func(name string, gpus int, alloc float64) *fleet.Model {
		return &fleet.Model{Cluster: name, GPUs: cost.ModelGPUs{PhysicalGPUs: gpus, GPUEquivalents: float64(gpus)},
			Hours: fleet.Quantities{Allocatable: float64(gpus), Allocated: alloc}, Busy: 0.5}
	}
	total := m("", 12, 9)
	tb := fleetTable(&FleetSummary{Model: total, Clusters: []*fleet.Model{m("eu-1", 4, 3), m("us-1", 8, 6)}})
	if got := strings.Join(tb.Head, "|"); got != "quantity|GPUs or GPU-hours|eu-1|us-1" {
		t.Errorf("head %s", got)
	}
	if got := strings.Join(tb.Rows[0], "|"); got != "physical GPUs|12 GPUs|4 GPUs|8 GPUs" {
		t.Errorf("GPUs row %s", got)
	}
	if got := strings.Join(tb.Rows[4], "|"); got != "allocated|9.0|3.0|6.0" {
		t.Errorf("allocated row %s", got)
	}
	if one := fleetTable(&FleetSummary{Model: total, Clusters: []*fleet.Model{m("eu-1", 4, 3)}}); len(one.Head) != 2 {
		t.Errorf("one cluster: head %v", one.Head)
	}
}
