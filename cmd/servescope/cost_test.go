package main

import (
	"bytes"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/alecthomas/kingpin/v2"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/prometheus/promql/promqltest"

	"github.com/servescope/servescope/internal/analyze/query"
	"github.com/servescope/servescope/internal/present/api"
)

// costSeries is one H100 node of two GPUs for two hours, one held by
// team chat's pod and one idle, at the Unix epoch.
const costSeries = `load 1m
  kube_node_labels{node="n1",label_nvidia_com_gpu_product="NVIDIA-H100-80GB-HBM3",label_kueue_flavor="h100"} 1x120
  kube_node_status_allocatable{node="n1",resource="nvidia_com_gpu",unit="integer"} 2x120
  kube_namespace_labels{namespace="chat",label_team="chat"} 1x120
  kube_pod_labels{namespace="chat",pod="p",uid="u",label_kueue_x_k8s_io_cluster_queue_name="chat-cq"} 1x120
  kube_pod_status_phase{namespace="chat",pod="p",uid="u",phase="Running"} 1x120
  kube_pod_container_resource_requests{namespace="chat",pod="p",uid="u",container="c",node="n1",resource="nvidia_com_gpu",unit="integer"} 1x120
  DCGM_FI_PROF_GR_ENGINE_ACTIVE{gpu="0",UUID="GPU-0",Hostname="n1",namespace="chat",pod="p",container="c"} 0.5x120
`

// TestCostCommand runs `servescope cost` against a Prometheus-compatible
// API served by the embedded engine: the remote Querier path end to end.
func TestCostCommand(t *testing.T) {
	t.Parallel()
	st := promqltest.LoadedStorage(t, costSeries)
	eng := query.NewEngine(st, query.EngineOptions{Registerer: prometheus.NewRegistry(), MaxSamples: 1e7, Timeout: time.Minute})
	srv := httptest.NewServer(api.New(api.Options{Querier: eng}))
	t.Cleanup(srv.Close)
	prices := filepath.Join(t.TempDir(), "prices.yml")
	if err := os.WriteFile(prices, []byte("currency: USD\ngpus:\n  - {gpu: H100, hourly: \"2.50\"}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	bad := filepath.Join(t.TempDir(), "bad.yml")
	if err := os.WriteFile(bad, []byte("currency: USD\ngpus:\n  - {gpu: H100, hourly: \"-2.50\"}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	window := "1970-01-01T00:00:00Z,1970-01-01T02:00:00Z"
	tests := []struct {
		name string
		args []string
		want []string
		err  string
	}{
		{"table", []string{"--prices", prices}, []string{"TEAM", "chat", "2.000", "0.500", "5.00 USD", "__idle__", "__total__", "10.00 USD"}, ""},
		{"csv by queue", []string{"--prices", prices, "--by", "queue", "--output", "csv"}, []string{"window,queue,", ",chat-cq,0.000,2.000,2.000,", ",5.000000,"}, ""},
		{"json shared idle", []string{"--prices", prices, "--output", "json", "--share-idle"}, []string{`"shareIdle": true`, `"idleCost": "5.000000"`, `"totalCost": "10.000000"`}, ""},
		{"split", []string{"--split", "1h", "--output", "csv"}, []string{"1970-01-01T01:00:00Z/1970-01-01T02:00:00Z,chat,"}, ""},
		{"unpriced", []string{"--output", "csv"}, []string{"flavor=h100,model=NVIDIA-H100-80GB-HBM3"}, ""},
		{"bad price book", []string{"--prices", bad}, nil, bad + `:3: negative price "-2.50"`},
		{"bad queue team", []string{"--queue-team", "x"}, nil, `--queue-team "x"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var out bytes.Buffer
			a := kingpin.New("servescope", "")
			cmds := costCommands(a, env{stdout: &out, stderr: &out})
			if _, err := a.Parse(append([]string{"cost", "--server", srv.URL, "--window", window}, tc.args...)); err != nil {
				t.Fatal(err)
			}
			err := cmds[0].run(t.Context())
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("error %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			for _, w := range tc.want {
				if !strings.Contains(out.String(), w) {
					t.Errorf("output lacks %q:\n%s", w, out.String())
				}
			}
		})
	}
}
