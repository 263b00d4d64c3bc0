package diagnose

import (
	"bytes"
	"fmt"
	"slices"
	"time"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/model/rulefmt"
	"github.com/prometheus/prometheus/promql/parser"
	"go.yaml.in/yaml/v3"

	"github.com/servescope/servescope/internal/schema"
)

// AlertGroup is the name of the generated alerting rule group.
const AlertGroup = "servescope-alerts"

// AlertRules returns the alerting rules, each with its `for:`, written as
// PromQL text over placeholders and parsed here: a selector named after a
// catalog signal reads that signal's recorded series, ttft_p95 (and
// ttft_p95_baseline, the same TTFTBaseline earlier) the recorded TTFT p95,
// and a threshold's name is replaced by its value. The rules are evaluated
// where the catalog's recording rules are: the embedded rule manager, or a
// Prometheus loading `servescope rules`.
//
// ExporterDown reads every `up` of the rule manager's own targets: the
// embedded one scrapes only what servescope is configured to scrape. For
// a shared Prometheus use ExternalAlertRules.
func AlertRules(cat *schema.Catalog, th Thresholds, interval time.Duration) (rulefmt.RuleGroups, error) {
	return alertRules(cat, th, interval, nil)
}

// ExternalAlertRules are the alerting rules for a Prometheus that scrapes
// more than servescope's exporters (`servescope alert-rules`, the generated
// PrometheusRule): `up` is narrowed to servescope's own scrape jobs
// (schema.ScrapeJobs), leaving the rest of the cluster to that
// Prometheus's own TargetDown.
func ExternalAlertRules(cat *schema.Catalog, th Thresholds, interval time.Duration) (rulefmt.RuleGroups, error) {
	return alertRules(cat, th, interval, schema.ScrapeJobMatcher())
}

// alertRules builds the rules; jobs, when set, is added to every `up`
// selector.
func alertRules(cat *schema.Catalog, th Thresholds, interval time.Duration, jobs *labels.Matcher) (rulefmt.RuleGroups, error) {
	vars, err := alertVars(cat, th)
	if err != nil {
		return rulefmt.RuleGroups{}, err
	}
	type alert struct {
		name, severity string
		expr           string
		dur            time.Duration
		summary, desc  string
	}
	alerts := []alert{
		{"KVCacheHigh", "warning", `kv_cache_usage_ratio > kv_high`, th.KVHighFor,
			"KV cache of {{ $labels.namespace }}/{{ $labels.pod }} above " + pct(th.KVHigh),
			"KV-cache usage is {{ $value | humanizePercentage }}; above " + pct(th.KVSaturated) + " vLLM preempts requests."},
		{"KVCacheSaturated", "critical", `kv_cache_usage_ratio > kv_saturated`, th.KVSaturatedFor,
			"KV cache of {{ $labels.namespace }}/{{ $labels.pod }} saturated",
			"KV-cache usage is {{ $value | humanizePercentage }}: requests wait for blocks and are preempted; risk of OOM. Raise gpu_memory_utilization, lower max_model_len or add replicas."},
		{"RequestsQueued", "warning", `requests_waiting > 0`, th.QueuedFor,
			"Requests queued on {{ $labels.namespace }}/{{ $labels.pod }}",
			"{{ $value }} requests have been waiting: throughput is short of demand. Add replicas if the GPUs are busy."},
		{"TTFTp95Regression", "warning", `ttft_p95 > ttft_factor * ttft_p95_baseline and ttft_p95 - ttft_p95_baseline > ttft_min_increase`, th.TTFTFor,
			"TTFT p95 of {{ $labels.namespace }}/{{ $labels.pod }} regressed",
			"Time to first token p95 is {{ $value | humanizeDuration }}, over " + fmt.Sprintf("%g", th.TTFTFactor) + "× its value " + model.Duration(th.TTFTBaseline).String() + " earlier; check KV saturation and arrival spikes (servescope diagnose)."},
		// GPUs held by a pod and busy less than idle_busy, joined on the GPU key.
		{"GPUIdle", "warning", `gpu_busy_ratio < idle_busy and on (hostname, uuid, GPU_I_ID) gpu_pod{pod!=""}`, th.GPUIdleFor,
			"GPU {{ $labels.hostname }}/{{ $labels.uuid }} allocated but idle",
			"The GPU is allocated to a pod but its engine was active less than " + pct(th.IdleBusy) + " of the time: release it or scale down."},
		{"GPUXIDError", "critical", `gpu_last_xid > 0`, th.XIDFor,
			"GPU {{ $labels.hostname }}/{{ $labels.uuid }} reported XID {{ $value }}",
			"An XID error means a driver or hardware fault; drain the node and check the GPU."},
		{"ExporterDown", "warning", `up == 0`, th.ExporterDownFor,
			"Target {{ $labels.job }}/{{ $labels.instance }} is down",
			"A missing layer: the data this exporter provides (GPU, engine or scheduler) is absent, so diagnoses depending on it are not made."},
	}
	g := rulefmt.RuleGroup{Name: AlertGroup, Interval: model.Duration(interval)}
	p := parser.NewParser(parser.Options{})
	for _, a := range alerts {
		e, err := p.ParseExpr(a.expr)
		if err != nil {
			return rulefmt.RuleGroups{}, fmt.Errorf("alert %s: parse %q: %w", a.name, a.expr, err)
		}
		if e, err = substitute(e, vars); err != nil {
			return rulefmt.RuleGroups{}, fmt.Errorf("alert %s: %w", a.name, err)
		}
		if err := checkJoins(e); err != nil {
			return rulefmt.RuleGroups{}, fmt.Errorf("alert %s: %w", a.name, err)
		}
		cat.KeepCluster(e)
		if jobs != nil {
			parser.Inspect(e, func(n parser.Node, _ []parser.Node) error {
				if vs, ok := n.(*parser.VectorSelector); ok && vs.Name == "up" {
					vs.LabelMatchers = append(vs.LabelMatchers, jobs)
				}
				return nil
			})
		}
		g.Rules = append(g.Rules, rulefmt.Rule{Alert: a.name, Expr: e.String(), For: model.Duration(a.dur),
			Labels:      map[string]string{"severity": a.severity},
			Annotations: map[string]string{"summary": a.summary, "description": a.desc}})
	}
	return rulefmt.RuleGroups{Groups: []rulefmt.RuleGroup{g}}, nil
}

// alertRawMetrics are the series the alert texts read directly, not
// through a placeholder.
var alertRawMetrics = map[string]bool{"up": true}

// alertVars maps the placeholders of the alert texts to what they stand for.
func alertVars(cat *schema.Catalog, th Thresholds) (map[string]parser.Expr, error) {
	vars := map[string]parser.Expr{}
	for _, name := range []string{sigKV, sigWaiting, sigBusy, sigXID, sigGPUPod} {
		s, err := cat.Signal(name)
		if err != nil {
			return nil, fmt.Errorf("alert rules: %w", err)
		}
		vars[name] = &parser.VectorSelector{Name: s.RecordName()}
	}
	p95 := schema.QuantileName("ttft_seconds", 0.95)
	vars["ttft_p95"] = &parser.VectorSelector{Name: p95}
	vars["ttft_p95_baseline"] = &parser.VectorSelector{Name: p95, OriginalOffset: th.TTFTBaseline}
	for name, v := range map[string]float64{
		"kv_high": th.KVHigh, "kv_saturated": th.KVSaturated, "idle_busy": th.IdleBusy,
		"ttft_factor": th.TTFTFactor, "ttft_min_increase": th.TTFTMinIncrease.Seconds(),
	} {
		vars[name] = &parser.NumberLiteral{Val: v}
	}
	return vars, nil
}

// substitute returns e with every placeholder selector replaced
// (schema.Placeholders, the one substitution); a selector that is neither
// a placeholder nor one of alertRawMetrics is an error.
func substitute(e parser.Expr, vars map[string]parser.Expr) (parser.Expr, error) {
	return schema.Placeholders{Vars: vars, Raw: alertRawMetrics, Text: "alert text"}.Substitute(e)
}

// checkJoins refuses a join on labels other than the catalog's GPU key, so
// the text's `on (...)` cannot drift from schema.LevelGPU.
func checkJoins(e parser.Expr) error {
	var err error
	parser.Inspect(e, func(n parser.Node, _ []parser.Node) error {
		b, ok := n.(*parser.BinaryExpr)
		if !ok || b.VectorMatching == nil || !b.VectorMatching.On || len(b.VectorMatching.MatchingLabels) == 0 {
			return nil
		}
		if want := schema.LevelGPU.Key(); !slices.Equal(b.VectorMatching.MatchingLabels, want) {
			err = fmt.Errorf("joins on %v, want the GPU key %v", b.VectorMatching.MatchingLabels, want)
		}
		return nil
	})
	return err
}

func pct(v float64) string { return fmt.Sprintf("%g%%", v*100) }

// AlertRulesFile renders the alerting rules as a Prometheus rules file,
// checked with rulefmt as Prometheus would load it.
func AlertRulesFile(cat *schema.Catalog, th Thresholds, interval time.Duration) ([]byte, error) {
	groups, err := ExternalAlertRules(cat, th, interval)
	if err != nil {
		return nil, err
	}
	var b bytes.Buffer
	b.WriteString("# Generated by servescope from its diagnosis thresholds; do not edit.\n")
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	if err := enc.Encode(groups); err != nil {
		return nil, fmt.Errorf("encode alert rules: %w", err)
	}
	if err := enc.Close(); err != nil {
		return nil, fmt.Errorf("encode alert rules: %w", err)
	}
	if err := schema.CheckRulesFile(b.Bytes()); err != nil {
		return nil, fmt.Errorf("alert rules: %w", err)
	}
	return b.Bytes(), nil
}
