package simcheck

import (
	"testing"
	"time"

	"github.com/prometheus/prometheus/promql"
	"github.com/prometheus/prometheus/util/teststorage"

	"github.com/servescope/servescope/internal/schema"
	"github.com/servescope/servescope/internal/schema/schematest"
	"github.com/servescope/servescope/internal/sim"
)

// checkPDRun compares the catalog's role, KV-transfer and sleep signals of
// a disaggregation scenario with the simulator's truth of the run's fifth
// minute: each pod's role (SGLang's engine_type, llm-d's pod label through
// kube-state-metrics), the decode pods' mean transfer time and failed
// transfers, and which engines sleep.
func checkPDRun(t *testing.T, r simRun) {
	checkPD(t, r.cat, r.st, r.c.Truth(), r.start.Add(4*time.Minute), r.end.Add(-r.every))
}

func checkPD(t *testing.T, cat *schema.Catalog, st *teststorage.TestStorage, tr sim.Truth, minute, at time.Time) {
	t.Helper()
	eng := schematest.NewEngine()
	q := func(name string, avg bool) string {
		out, err := cat.Query(name)
		if err != nil {
			t.Fatal(err)
		}
		if avg {
			if out, err = cat.AvgOverTime(out, time.Minute, simScrapeEvery); err != nil {
				t.Fatal(err)
			}
		}
		return out
	}
	byPod := func(v promql.Vector) map[string]promql.Sample {
		out := map[string]promql.Sample{}
		for _, s := range v {
			out[s.Metric.Get("namespace")+"/"+s.Metric.Get("pod")] = s
		}
		return out
	}
	roles := map[string]string{}
	for _, s := range schematest.Instant(t, eng, st, q("pod_role", false), at) {
		k := s.Metric.Get("namespace") + "/" + s.Metric.Get("pod")
		if old, dup := roles[k]; dup && old != s.Metric.Get("role") {
			t.Errorf("pod %s has roles %s and %s", k, old, s.Metric.Get("role"))
		}
		roles[k] = s.Metric.Get("role")
	}
	latency := byPod(schematest.Instant(t, eng, st, q("kv_transfer_latency_seconds", true), at))
	failures := byPod(schematest.Instant(t, eng, st, q("kv_transfer_failures_per_second", false), at))
	asleep := byPod(schematest.Instant(t, eng, st, q("engine_asleep_ratio", false), at))
	checked := 0
	for _, p := range tr.Pods {
		m, ok := minuteOf(p.Minutes, minute)
		if !ok {
			continue
		}
		key := p.Namespace + "/" + p.Pod
		checked++
		t.Run(key, func(t *testing.T) {
			if got := roles[key]; m.Role != "" && got != m.Role {
				t.Errorf("pod_role of %s = %q, truth %q", key, got, m.Role)
			}
			if m.Role == "" && roles[key] != "" {
				t.Errorf("pod_role of unified %s = %q, want none", key, roles[key])
			}
			if m.Role == sim.RoleDecode {
				// SGLang's gauge is the last transfer's time, averaged
				// over the minute's scrapes; vLLM's histogram a 5m rate.
				near(t, "kv_transfer_latency_seconds", latency, key, m.TransferLatency, 0.3, 0.01)
				// Failures are few per minute: the 5m rate covers the
				// whole run, so it is compared with the run's truth.
				var fails float64
				for _, pm := range p.Minutes {
					fails += pm.TransferFailures / float64(len(p.Minutes))
				}
				if fails > 0 {
					near(t, "kv_transfer_failures_per_second", failures, key, fails, 0.25, 0.01)
				} else if s, ok := failures[key]; ok && s.F > 0 {
					t.Errorf("kv_transfer_failures_per_second{%s} = %g, truth none", key, s.F)
				}
			}
			if s, ok := asleep[key]; p.Engine == sim.EngineVLLM && (!ok || (s.F == 1) != m.Asleep) {
				t.Errorf("engine_asleep_ratio{%s} = %v (reported %v), truth asleep %v", key, s.F, ok, m.Asleep)
			}
		})
	}
	if checked == 0 {
		t.Fatal("no pod has truth for the compared minute")
	}
}
