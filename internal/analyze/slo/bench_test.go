package slo_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/util/teststorage"

	"github.com/servescope/servescope/internal/analyze/query"
	"github.com/servescope/servescope/internal/analyze/rules"
	"github.com/servescope/servescope/internal/analyze/slo"
	"github.com/servescope/servescope/internal/schema"
)

// BenchmarkRules1000GPUs measures one evaluation of the latency
// objectives' rule groups (two objectives for every model: TTFT ≤ 500 ms
// at 99.9% and end-to-end ≤ 20 s at 99%) over 1,000 single-GPU vLLM pods
// serving 20 models: the extra cost the objectives add to each rule
// evaluation. The store holds what the rules read: per pod, each
// histogram's _count and the threshold's bucket over 6 hours at a 15 s
// scrape (the longest raw window), and the per-model 5m series the 3d
// and 28-day rules sum, over 3 days at the 30 s evaluation interval.
func BenchmarkRules1000GPUs(b *testing.B) {
	const (
		pods, models = 1000, 20
		scrape       = 15 * time.Second
		every        = 30 * time.Second
	)
	end := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	set := slo.Set{MinRequestRate: 0.1, Objectives: []slo.Objective{
		{Name: "ttft-500ms", Model: slo.AllModels, Indicator: "ttft", Threshold: 500 * time.Millisecond, Target: 0.999, Window: 28 * 24 * time.Hour, Engine: "vllm"},
		{Name: "e2e-20s", Model: slo.AllModels, Indicator: "e2e", Threshold: 20 * time.Second, Target: 0.99, Window: 28 * 24 * time.Hour, Engine: "vllm"},
	}}
	st := teststorage.New(b)
	type series struct {
		ls   labels.Labels
		rate float64
	}
	var raw []series
	for p := range pods {
		base := []string{"namespace", "serving", "pod", fmt.Sprintf("llm-%04d", p), "instance", fmt.Sprintf("10.0.%d.%d:8000", p/250, p%250),
			"model_name", fmt.Sprintf("model-%02d", p%models), "job", "vllm"}
		for _, h := range []struct{ name, le string }{{"vllm:time_to_first_token_seconds", "0.5"}, {"vllm:e2e_request_latency_seconds", "20"}} {
			raw = append(raw, series{labels.FromStrings(append([]string{"__name__", h.name + "_count"}, base...)...), 4},
				series{labels.FromStrings(append([]string{"__name__", h.name + "_bucket", "le", h.le}, base...)...), 3.99})
		}
	}
	var recorded []labels.Labels
	for _, o := range set.Objectives {
		for m := range models {
			for _, name := range []string{slo.RequestsName(5 * time.Minute), slo.ErrorsName(5 * time.Minute)} {
				recorded = append(recorded, labels.FromStrings("__name__", name, "slo", o.Name, "indicator", o.Indicator, "model_name", fmt.Sprintf("model-%02d", m)))
			}
		}
	}
	// Everything in time order: the head refuses samples older than an
	// hour before its newest.
	app := st.Appender(b.Context())
	n := 0
	rawFrom := end.Add(-6 * time.Hour)
	for ts := end.Add(-3 * 24 * time.Hour); !ts.After(end); ts = ts.Add(scrape) {
		if ts.Sub(end)%every == 0 {
			for _, ls := range recorded {
				if _, err := app.Append(0, ls, ts.UnixMilli(), 200); err != nil {
					b.Fatal(err)
				}
				n++
			}
		}
		if !ts.Before(rawFrom) {
			secs := ts.Sub(rawFrom).Seconds()
			for _, s := range raw {
				if _, err := app.Append(0, s.ls, ts.UnixMilli(), s.rate*secs); err != nil {
					b.Fatal(err)
				}
				n++
			}
		}
		if n > 200_000 {
			if err := app.Commit(); err != nil {
				b.Fatal(err)
			}
			app, n = st.Appender(b.Context()), 0
		}
	}
	if err := app.Commit(); err != nil {
		b.Fatal(err)
	}
	cat, err := schema.New(schema.Options{})
	if err != nil {
		b.Fatal(err)
	}
	groups, err := slo.RuleGroups(cat, set, every)
	if err != nil {
		b.Fatal(err)
	}
	eng := query.NewEngine(st, query.EngineOptions{Timeout: time.Minute, MaxSamples: 5e7, Registerer: prometheus.NewRegistry()})
	rm, err := rules.New(rules.Options{Appendable: st, Queryable: st, Engine: eng.Promql(), Interval: every})
	if err != nil {
		b.Fatal(err)
	}
	if err := rm.ApplyConfig(nil, rules.Builtin{Name: "slo", Groups: groups}); err != nil {
		b.Fatal(err)
	}
	at := end
	cpu0 := cpuTime()
	b.ResetTimer()
	for b.Loop() {
		at = at.Add(time.Millisecond) // each evaluation appends at a new time
		rm.EvalAt(b.Context(), at)
	}
	b.StopTimer()
	// CPU, not wall time: on a shared machine the wall time says how
	// loaded it was.
	cpu := (cpuTime() - cpu0).Seconds() / float64(b.N)
	rulesN := 0
	for _, h := range rm.Health() {
		if h.Err != nil {
			b.Fatalf("rule %s: %v", h.Rule, h.Err)
		}
		rulesN++
	}
	b.ReportMetric(float64(rulesN), "rules")
	b.ReportMetric(cpu, "cpu_s/op")
	b.ReportMetric(cpu/every.Seconds(), "cores_at_30s_eval")
}
