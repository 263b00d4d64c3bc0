package diagnose

import (
	"bytes"
	"fmt"
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

// AlertRules returns the alerting rules, each with its `for:`, built as
// syntax trees over the catalog's recorded series (so they are evaluated
// where the catalog's recording rules are: the embedded rule manager, or a
// Prometheus loading `servescope rules`).
func AlertRules(cat *schema.Catalog, th Thresholds, interval time.Duration) (rulefmt.RuleGroups, error) {
	rec := func(name string) (*parser.VectorSelector, error) {
		s, err := cat.Signal(name)
		if err != nil {
			return nil, fmt.Errorf("alert rules: %w", err)
		}
		return &parser.VectorSelector{Name: s.RecordName()}, nil
	}
	kv, err := rec(sigKV)
	if err != nil {
		return rulefmt.RuleGroups{}, err
	}
	waiting, err := rec(sigWaiting)
	if err != nil {
		return rulefmt.RuleGroups{}, err
	}
	busy, err := rec(sigBusy)
	if err != nil {
		return rulefmt.RuleGroups{}, err
	}
	xid, err := rec(sigXID)
	if err != nil {
		return rulefmt.RuleGroups{}, err
	}
	gpuPod, err := rec(sigGPUPod)
	if err != nil {
		return rulefmt.RuleGroups{}, err
	}
	// GPUs held by a pod: gpu_pod{pod!=""}.
	allocated := &parser.VectorSelector{Name: gpuPod.Name,
		LabelMatchers: []*labels.Matcher{labels.MustNewMatcher(labels.MatchNotEqual, "pod", "")}}
	p95 := &parser.VectorSelector{Name: schema.QuantileName("ttft_seconds", 0.95)}
	base := &parser.VectorSelector{Name: p95.Name, OriginalOffset: th.TTFTBaseline}
	// Only servescope's own scrape jobs: a shared Prometheus has its own
	// alert (TargetDown) for the rest of the cluster.
	up := &parser.VectorSelector{Name: "up", LabelMatchers: []*labels.Matcher{schema.ScrapeJobMatcher()}}

	gt := func(l parser.Expr, v float64) parser.Expr { return cmp(parser.GTR, l, num(v)) }
	regression := &parser.BinaryExpr{Op: parser.LAND,
		LHS: cmp(parser.GTR, p95, &parser.BinaryExpr{Op: parser.MUL, LHS: num(th.TTFTFactor), RHS: base}),
		RHS: cmp(parser.GTR, &parser.BinaryExpr{Op: parser.SUB, LHS: p95, RHS: base,
			VectorMatching: &parser.VectorMatching{Card: parser.CardOneToOne}}, num(th.TTFTMinIncrease.Seconds())),
		VectorMatching: &parser.VectorMatching{Card: parser.CardManyToMany}}
	regression.LHS.(*parser.BinaryExpr).VectorMatching = &parser.VectorMatching{Card: parser.CardOneToOne}
	idle := &parser.BinaryExpr{Op: parser.LAND,
		LHS: cmp(parser.LSS, busy, num(th.IdleBusy)),
		RHS: allocated,
		VectorMatching: &parser.VectorMatching{Card: parser.CardManyToMany, On: true,
			MatchingLabels: schema.LevelGPU.Key()}}

	type alert struct {
		name, severity string
		expr           parser.Expr
		dur            time.Duration
		summary, desc  string
	}
	alerts := []alert{
		{"KVCacheHigh", "warning", gt(kv, th.KVHigh), th.KVHighFor,
			"KV cache of {{ $labels.namespace }}/{{ $labels.pod }} above " + pct(th.KVHigh),
			"KV-cache usage is {{ $value | humanizePercentage }}; above " + pct(th.KVSaturated) + " vLLM preempts requests."},
		{"KVCacheSaturated", "critical", gt(kv, th.KVSaturated), th.KVSaturatedFor,
			"KV cache of {{ $labels.namespace }}/{{ $labels.pod }} saturated",
			"KV-cache usage is {{ $value | humanizePercentage }}: requests wait for blocks and are preempted; risk of OOM. Raise gpu_memory_utilization, lower max_model_len or add replicas."},
		{"RequestsQueued", "warning", gt(waiting, 0), th.QueuedFor,
			"Requests queued on {{ $labels.namespace }}/{{ $labels.pod }}",
			"{{ $value }} requests have been waiting: throughput is short of demand. Add replicas if the GPUs are busy."},
		{"TTFTp95Regression", "warning", regression, th.TTFTFor,
			"TTFT p95 of {{ $labels.namespace }}/{{ $labels.pod }} regressed",
			"Time to first token p95 is {{ $value | humanizeDuration }}, over " + fmt.Sprintf("%g", th.TTFTFactor) + "× its value " + model.Duration(th.TTFTBaseline).String() + " earlier; check KV saturation and arrival spikes (servescope diagnose)."},
		{"GPUIdle", "warning", idle, th.GPUIdleFor,
			"GPU {{ $labels.hostname }}/{{ $labels.uuid }} allocated but idle",
			"The GPU is allocated to a pod but its engine was active less than " + pct(th.IdleBusy) + " of the time: release it or scale down."},
		{"GPUXIDError", "critical", gt(xid, 0), th.XIDFor,
			"GPU {{ $labels.hostname }}/{{ $labels.uuid }} reported XID {{ $value }}",
			"An XID error means a driver or hardware fault; drain the node and check the GPU."},
		{"ExporterDown", "warning", cmp(parser.EQLC, up, num(0)), th.ExporterDownFor,
			"Target {{ $labels.job }}/{{ $labels.instance }} is down",
			"A missing layer: the data this exporter provides (GPU, engine or scheduler) is absent, so diagnoses depending on it are not made."},
	}
	g := rulefmt.RuleGroup{Name: AlertGroup, Interval: model.Duration(interval)}
	p := parser.NewParser(parser.Options{})
	for _, a := range alerts {
		q := a.expr.String()
		if _, err := p.ParseExpr(q); err != nil {
			return rulefmt.RuleGroups{}, fmt.Errorf("alert %s: parse %q: %w", a.name, q, err)
		}
		g.Rules = append(g.Rules, rulefmt.Rule{Alert: a.name, Expr: q, For: model.Duration(a.dur),
			Labels:      map[string]string{"severity": a.severity},
			Annotations: map[string]string{"summary": a.summary, "description": a.desc}})
	}
	return rulefmt.RuleGroups{Groups: []rulefmt.RuleGroup{g}}, nil
}

func cmp(op parser.ItemType, l, r parser.Expr) *parser.BinaryExpr {
	return &parser.BinaryExpr{Op: op, LHS: l, RHS: r}
}

func num(v float64) *parser.NumberLiteral { return &parser.NumberLiteral{Val: v} }

func pct(v float64) string { return fmt.Sprintf("%g%%", v*100) }

// AlertRulesFile renders the alerting rules as a Prometheus rules file,
// checked with rulefmt as Prometheus would load it.
func AlertRulesFile(cat *schema.Catalog, th Thresholds, interval time.Duration) ([]byte, error) {
	groups, err := AlertRules(cat, th, interval)
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
