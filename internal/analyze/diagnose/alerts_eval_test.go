package diagnose_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/prometheus/promql/promqltest"

	"github.com/servescope/servescope/internal/analyze/diagnose"
	"github.com/servescope/servescope/internal/analyze/query"
	"github.com/servescope/servescope/internal/analyze/rules"
	"github.com/servescope/servescope/internal/schema"
)

// alertSeries: from 0 to 40m at 15 s, one pod whose KV cache is full and
// whose requests queue from 5m on, an idle allocated GPU, a GPU with an XID
// from 10m, a dcgm-exporter target down from 20m, and a target of another
// job (not servescope's) down throughout.
const alertSeries = `
load 15s
  vllm:kv_cache_usage_perc{namespace="docs",pod="llama-0",instance="10.0.0.1:8000",model_name="llama-8b"} 0.5x20 0.95x140
  vllm:num_requests_waiting{namespace="docs",pod="llama-0",instance="10.0.0.1:8000",model_name="llama-8b"} 0x20 40x140
  DCGM_FI_PROF_GR_ENGINE_ACTIVE{Hostname="node-1",UUID="GPU-1",gpu="0",modelName="NVIDIA A100-SXM4-80GB",namespace="docs",pod="llama-0",container="vllm"} 0.9x160
  DCGM_FI_PROF_GR_ENGINE_ACTIVE{Hostname="node-1",UUID="GPU-2",gpu="1",modelName="NVIDIA A100-SXM4-80GB",namespace="docs",pod="llama-1",container="vllm"} 0x160
  DCGM_FI_DEV_XID_ERRORS{Hostname="node-1",UUID="GPU-1",gpu="0",modelName="NVIDIA A100-SXM4-80GB",namespace="docs",pod="llama-0",container="vllm"} 0x40 79x120
  up{job="dcgm-exporter",instance="10.1.0.1:9400"} 1x80 0x80
  up{job="node-exporter",instance="10.2.0.1:9100"} 0x160
`

// TestAlertsEvaluated runs the catalog's recording rules and the alerting
// rules in the embedded rule manager every 30 s of simulated time and
// checks each alert fires, not before its condition has held for its
// `for`, and at most one evaluation interval plus one scrape after.
func TestAlertsEvaluated(t *testing.T) {
	t.Parallel()
	st := promqltest.LoadedStorage(t, alertSeries)
	reg := prometheus.NewRegistry()
	eng := query.NewEngine(st, query.EngineOptions{Timeout: time.Minute, MaxSamples: 1e7, Registerer: reg})
	var mu sync.Mutex
	fired := map[string]time.Time{}
	downJobs := map[string]bool{}
	m, err := rules.New(rules.Options{Appendable: st, Queryable: st, Engine: eng.Promql(), Registerer: reg,
		Notify: func(_ context.Context, _ string, alerts ...*rules.Alert) {
			mu.Lock()
			defer mu.Unlock()
			for _, a := range alerts {
				name := a.Labels.Get("alertname")
				if name == "ExporterDown" {
					downJobs[a.Labels.Get("job")] = true
				}
				if _, seen := fired[name]; !seen && !a.FiredAt.IsZero() && a.ResolvedAt.IsZero() {
					fired[name] = a.FiredAt
				}
			}
		}})
	if err != nil {
		t.Fatal(err)
	}
	cat, err := schema.New(schema.Options{})
	if err != nil {
		t.Fatal(err)
	}
	const interval = 30 * time.Second
	th := diagnose.DefaultThresholds()
	alerts, err := diagnose.ExternalAlertRules(cat, th, interval)
	if err != nil {
		t.Fatal(err)
	}
	if err := m.ApplyConfig(nil, rules.Builtin{Name: "catalog", Groups: cat.RuleGroups(interval)}, rules.Builtin{Name: "alerts", Groups: alerts}); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		alert string
		since time.Duration // when the condition starts holding
		dur   time.Duration // the rule's for
	}{
		{"KVCacheHigh", 5 * time.Minute, th.KVHighFor},
		{"KVCacheSaturated", 5 * time.Minute, th.KVSaturatedFor},
		{"RequestsQueued", 5 * time.Minute, th.QueuedFor},
		{"GPUIdle", 0, th.GPUIdleFor},
		{"GPUXIDError", 10 * time.Minute, th.XIDFor},
		{"ExporterDown", 20 * time.Minute, th.ExporterDownFor},
	}
	// The rules are evaluated until the last alert's deadline: after it
	// no check can change (the series hold still from 20m on, and an
	// alert that should never fire would have by then).
	last := time.Duration(0)
	for _, tc := range tests {
		last = max(last, tc.since+tc.dur+interval+15*time.Second)
	}
	start := time.Unix(0, 0).UTC()
	for at := start; !at.After(start.Add(last)); at = at.Add(interval) {
		m.EvalAt(t.Context(), at)
	}
	mu.Lock()
	defer mu.Unlock()
	for _, tc := range tests {
		got, ok := fired[tc.alert]
		if !ok {
			t.Errorf("%s never fired (fired: %v)", tc.alert, fired)
			continue
		}
		latency := got.Sub(start.Add(tc.since))
		if latency < tc.dur || latency > tc.dur+interval+15*time.Second {
			t.Errorf("%s fired %s after its condition began, want within [for %s, for + %s + 15s]", tc.alert, latency, tc.dur, interval)
		}
	}
	if downJobs["node-exporter"] || !downJobs["dcgm-exporter"] {
		t.Errorf("ExporterDown for jobs %v, want dcgm-exporter only (servescope's own jobs)", downJobs)
	}
	if _, ok := fired["TTFTp95Regression"]; ok {
		t.Error("TTFTp95Regression fired without a TTFT histogram")
	}
}
