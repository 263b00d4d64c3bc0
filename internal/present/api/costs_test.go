package api

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/prometheus/promql/promqltest"

	"github.com/servescope/servescope/internal/analyze/cost"
	"github.com/servescope/servescope/internal/analyze/query"
	"github.com/servescope/servescope/internal/schema"
)

// costSeries is two H100s on one node for two hours, one of them held by
// team chat's pod.
const costSeries = `load 1m
  kube_node_labels{node="n1",label_nvidia_com_gpu_product="NVIDIA-H100-80GB-HBM3",label_kueue_flavor="h100"} 1x120
  kube_node_status_allocatable{node="n1",resource="nvidia_com_gpu",unit="integer"} 2x120
  kube_namespace_labels{namespace="chat",label_team="chat"} 1x120
  kube_pod_labels{namespace="chat",pod="p",uid="u"} 1x120
  kube_pod_status_phase{namespace="chat",pod="p",uid="u",phase="Running"} 1x120
  kube_pod_container_resource_requests{namespace="chat",pod="p",uid="u",container="c",node="n1",resource="nvidia_com_gpu",unit="integer"} 1x120
  DCGM_FI_PROF_GR_ENGINE_ACTIVE{gpu="0",UUID="GPU-0",Hostname="n1",namespace="chat",pod="p",container="c"} 0.5x120
`

func TestCosts(t *testing.T) {
	t.Parallel()
	st := promqltest.LoadedStorage(t, costSeries)
	eng := query.NewEngine(st, query.EngineOptions{Registerer: prometheus.NewRegistry(), MaxSamples: 1e7, Timeout: time.Minute})
	cat, err := schema.New(schema.Options{})
	if err != nil {
		t.Fatal(err)
	}
	pb, err := cost.ParsePriceBook("prices.yml", []byte("currency: USD\ngpus: [{gpu: H100, hourly: \"2.50\"}]\n"))
	if err != nil {
		t.Fatal(err)
	}
	calc, err := cost.New(cost.Options{Catalog: cat, Prices: pb})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Unix(0, 0).UTC().Add(2 * time.Hour)
	a := New(Options{Querier: eng, Targets: noTargets{}, Now: func() time.Time { return now }})
	a.Handle("/api/v1/costs", a.Costs(calc))
	srv := httptest.NewServer(a)
	t.Cleanup(srv.Close)

	tests := []struct {
		params    url.Values
		code      int
		sets      int
		allocated float64 // chat's; 0: no allocations expected
		idleCost  string  // chat's
	}{
		// No data at all in the window: an empty set saying so, not a 500.
		{url.Values{"window": {"1970-01-01T05:00:00Z,1970-01-01T06:00:00Z"}}, 200, 1, 0, ""},
		{url.Values{"window": {"1h"}, "resolution": {"2h"}}, 400, 0, 0, ""},
		{url.Values{"window": {"2h"}}, 200, 1, 2, "0.000000"},
		{url.Values{"window": {"2h"}, "shareIdle": {"true"}, "aggregate": {"team"}}, 200, 1, 2, "5.000000"},
		{url.Values{"window": {"1970-01-01T00:00:00Z,1970-01-01T02:00:00Z"}, "step": {"1h"}}, 200, 2, 1, "0.000000"},
		{url.Values{"window": {"2h"}, "aggregate": {"namespace"}, "resolution": {"5m"}}, 200, 1, 2, "0.000000"},
		// A cluster the series do not name: nothing of it to attribute.
		{url.Values{"window": {"2h"}, "cluster": {"eu-1"}}, 200, 1, 0, ""},
		{url.Values{"window": {"soon"}}, 400, 0, 0, ""},
		{url.Values{"aggregate": {"pod"}}, 400, 0, 0, ""},
		{url.Values{"shareIdle": {"maybe"}}, 400, 0, 0, ""},
		{url.Values{"step": {"-1h"}}, 400, 0, 0, ""},
	}
	for _, tc := range tests {
		t.Run(tc.params.Encode(), func(t *testing.T) {
			t.Parallel()
			req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, srv.URL+"/api/v1/costs?"+tc.params.Encode(), nil)
			if err != nil {
				t.Fatal(err)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			var body struct {
				Status    string `json:"status"`
				ErrorType string `json:"errorType"`
				Data      struct {
					Currency string `json:"currency"`
					Sets     []struct {
						CoveredStart *time.Time `json:"coveredStart"`
						Warnings     []string   `json:"warnings"`
						Allocations  []struct {
							Name              string  `json:"name"`
							AllocatedGPUHours float64 `json:"allocatedGpuHours"`
							IdleCost          string  `json:"idleCost"`
							Cost              string  `json:"cost"`
						} `json:"allocations"`
					} `json:"sets"`
				} `json:"data"`
			}
			if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
				t.Fatal(err)
			}
			if resp.StatusCode != tc.code {
				t.Fatalf("status %d (%s), want %d", resp.StatusCode, body.ErrorType, tc.code)
			}
			if tc.code != 200 {
				if body.ErrorType != string(query.ErrBadData) {
					t.Errorf("errorType %q, want bad_data", body.ErrorType)
				}
				return
			}
			if len(body.Data.Sets) != tc.sets || body.Data.Currency != "USD" {
				t.Fatalf("%d sets in %s, want %d in USD", len(body.Data.Sets), body.Data.Currency, tc.sets)
			}
			set := body.Data.Sets[0]
			if tc.allocated == 0 {
				if set.Allocations == nil || len(set.Allocations) != 0 || set.CoveredStart != nil || len(set.Warnings) != 1 || !strings.Contains(set.Warnings[0], "no GPU data") {
					t.Errorf("got %+v, want no allocations, no covered span and a no-data warning", set)
				}
				return
			}
			a := set.Allocations[0]
			if a.Name != "chat" || a.AllocatedGPUHours != tc.allocated || a.IdleCost != tc.idleCost {
				t.Errorf("got %+v, want chat with %.1f GPU-hours and idle cost %s", a, tc.allocated, tc.idleCost)
			}
		})
	}
}
