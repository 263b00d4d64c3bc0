package api

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/prometheus/promql/promqltest"

	"github.com/servescope/servescope/internal/analyze/cost"
	"github.com/servescope/servescope/internal/analyze/fleet"
	"github.com/servescope/servescope/internal/analyze/query"
	"github.com/servescope/servescope/internal/schema"
)

// TestFleetClusters: /api/v1/fleet over two clusters (the cost series
// sent once as eu-1 and once as us-1) counts both, cluster= reads one, and
// aggregate=cluster answers each cluster's model with the total.
func TestFleetClusters(t *testing.T) {
	t.Parallel()
	var load strings.Builder
	load.WriteString("load 1m\n")
	for _, line := range strings.Split(strings.TrimPrefix(costSeries, "load 1m\n"), "\n") {
		if line = strings.TrimSpace(line); line == "" {
			continue
		}
		for _, cl := range []string{"eu-1", "us-1"} {
			load.WriteString("  " + strings.Replace(line, "{", `{cluster="`+cl+`",`, 1) + "\n")
		}
	}
	st := promqltest.LoadedStorage(t, load.String())
	eng := query.NewEngine(st, query.EngineOptions{Registerer: prometheus.NewRegistry(), MaxSamples: 1e7, Timeout: time.Minute})
	cat, err := schema.New(schema.Options{})
	if err != nil {
		t.Fatal(err)
	}
	calc, err := cost.New(cost.Options{Catalog: cat})
	if err != nil {
		t.Fatal(err)
	}
	fc, err := fleet.New(fleet.Options{Cost: calc, Catalog: cat})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Unix(0, 0).UTC().Add(2 * time.Hour)
	a := New(Options{Querier: eng, Targets: noTargets{}, Now: func() time.Time { return now }})
	a.Handle("/api/v1/fleet", a.Fleet(fc))
	get := func(params string, out any) int {
		t.Helper()
		rec := httptest.NewRecorder()
		a.ServeHTTP(rec, httptest.NewRequestWithContext(t.Context(), http.MethodGet, "/api/v1/fleet?since=1h"+params, nil))
		var body struct {
			Data json.RawMessage `json:"data"`
		}
		if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
			t.Fatal(err)
		}
		if out != nil && rec.Code == http.StatusOK {
			if err := json.Unmarshal(body.Data, out); err != nil {
				t.Fatal(err)
			}
		}
		return rec.Code
	}
	// model is the part of a fleet.Model read here.
	type model struct {
		Cluster string `json:"cluster"`
		GPUs    struct {
			PhysicalGPUs int `json:"physicalGpus"`
		} `json:"gpus"`
		Hours struct {
			Allocated float64 `json:"allocated"`
		} `json:"gpuHours"`
	}
	var all, one model
	get("", &all)
	get("&cluster=eu-1", &one)
	if all.GPUs.PhysicalGPUs != 2*one.GPUs.PhysicalGPUs || one.GPUs.PhysicalGPUs == 0 || one.Cluster != "eu-1" {
		t.Errorf("fleet %d GPUs, cluster eu-1 %d (%q); want twice as many in all", all.GPUs.PhysicalGPUs, one.GPUs.PhysicalGPUs, one.Cluster)
	}
	var per struct {
		Total    model   `json:"total"`
		Clusters []model `json:"clusters"`
	}
	get("&aggregate=cluster", &per)
	if len(per.Clusters) != 2 || per.Clusters[0].Cluster != "eu-1" || per.Clusters[1].Cluster != "us-1" ||
		per.Clusters[0].Hours.Allocated+per.Clusters[1].Hours.Allocated != per.Total.Hours.Allocated {
		t.Errorf("per cluster %+v", per)
	}
	if code := get("&aggregate=team", nil); code != http.StatusBadRequest {
		t.Errorf("aggregate=team: %d, want 400", code)
	}
}
