package slo

import (
	"bytes"
	"fmt"
	"strconv"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/model/rulefmt"
	"github.com/prometheus/prometheus/promql/parser"

	"github.com/servescope/servescope/internal/schema"
)

// Rule group names of the objectives' rules.
const (
	GroupRecords = "servescope-slo"
	GroupAlerts  = "servescope-slo-alerts"
)

// Labels every objective series carries besides the model and cluster.
const (
	LabelSLO       = "slo"
	LabelIndicator = "indicator"
)

// RawWindows are the burn-rate windows short of LongWindow. The rules read
// those up to GateWindow from the engines' histograms and sum the longer
// ones, and LongWindow, from the per-model 5m series; Evaluate reads every
// window from the histograms.
var (
	RawWindows = []time.Duration{5 * time.Minute, 30 * time.Minute, time.Hour, 6 * time.Hour}
	LongWindow = 3 * 24 * time.Hour
)

// GateWindow is the window of the request rate gating every burn-rate
// alert: the model served at least Set.MinRequestRate over the last hour.
// (A 3-day or 6-hour rate would understate a model younger than it.)
const GateWindow = time.Hour

// Burn is one multi-window burn-rate alert of the Google SRE workbook
// (chapter 5, "Alerting on SLOs", table 5-8): it fires when the error
// ratio over both windows exceeds Factor times the budget.
type Burn struct {
	Alert, Severity string
	Factor          float64
	Long, Short     time.Duration
}

// Burns are the workbook's recommended pairs: page on 2% of a 30-day
// budget spent in an hour or 5% in six hours, ticket on 10% in three days.
var Burns = []Burn{
	{"LatencyBudgetBurnFast", "page", 14.4, time.Hour, 5 * time.Minute},
	{"LatencyBudgetBurnMedium", "page", 6, 6 * time.Hour, 30 * time.Minute},
	{"LatencyBudgetBurnSlow", "ticket", 1, 3 * 24 * time.Hour, 6 * time.Hour},
}

// RequestsName, ErrorsName and RatioName are the recorded per-model
// requests per second, slow requests per second and their ratio over w;
// BudgetName the error budget remaining over the objective's window.
func RequestsName(w time.Duration) string { return "servescope:slo_requests:rate" + window(w) }

// ErrorsName is the recorded slow requests per second over w.
func ErrorsName(w time.Duration) string { return "servescope:slo_errors:rate" + window(w) }

// RatioName is the recorded error ratio over w.
func RatioName(w time.Duration) string { return "servescope:slo_error_ratio:rate" + window(w) }

// BudgetName is the recorded error budget remaining.
const BudgetName = "servescope:slo_error_budget_remaining"

// WindowName writes a window as the series names do: 5m, 1h, 3d, 4w.
func WindowName(w time.Duration) string { return model.Duration(w).String() }

func window(w time.Duration) string { return WindowName(w) }

// Text of the recorded series over placeholders: errors and requests are
// the recorded 5m series of one objective, ratio_long, ratio_short and
// requests_gate the series of one burn alert's windows and of GateWindow, budget and burn the
// objective's budget and a burn factor times it.
const (
	ratioText     = `errors / (requests > 0)`
	longRatioText = `sum_over_time(errors[1m]) / (sum_over_time(requests[1m]) > 0)`
	longRateText  = `avg_over_time(requests[1m])`
	budgetText    = `1 - sum_over_time(errors[1m]) / (sum_over_time(requests[1m]) > 0) / budget`
	alertText     = `ratio_long > burn and ratio_short > burn and requests_gate >= min_rate`
)

// others lists, per indicator, the models with an objective of their own.
func (s Set) others() map[string][]string {
	out := map[string][]string{}
	for _, o := range s.Objectives {
		if o.Model != AllModels {
			out[o.Indicator] = append(out[o.Indicator], o.Model)
		}
	}
	return out
}

// RuleGroups returns the recording rules of every objective (requests,
// slow requests and error ratio over 5m; requests and error ratio over
// 30m, 1h, 6h and 3d summed from them; the budget remaining over its
// window) and the burn-rate alerts, evaluated
// every interval. No objectives give no groups.
func RuleGroups(cat *schema.Catalog, s Set, interval time.Duration) (rulefmt.RuleGroups, error) {
	if len(s.Objectives) == 0 {
		return rulefmt.RuleGroups{}, nil
	}
	rec := rulefmt.RuleGroup{Name: GroupRecords, Interval: model.Duration(interval)}
	alerts := rulefmt.RuleGroup{Name: GroupAlerts, Interval: model.Duration(interval)}
	others := s.others()
	for _, o := range s.Objectives {
		if err := Check(cat, o); err != nil {
			return rulefmt.RuleGroups{}, fmt.Errorf("objective %s: %w", o.Name, err)
		}
		lbls := map[string]string{LabelSLO: o.Name, LabelIndicator: o.Indicator}
		add := func(name string, e parser.Expr) {
			rec.Rules = append(rec.Rules, rulefmt.Rule{Record: name, Expr: e.String(), Labels: lbls})
		}
		// Requests and slow requests per second over 5m, 30m and 1h from
		// the engines' histograms (the fast page reads them, so they do
		// not lag); 6h and 3d sum the per-model 5m series (as Sloth does),
		// so a rule reads 20 models' series, not a thousand pods' raw
		// buckets over six hours.
		base := RawWindows[0]
		var e parser.Expr
		var err error
		for _, w := range RawWindows {
			if w > GateWindow {
				for _, t := range []struct{ name, text string }{{RequestsName(w), longRateText}, {RatioName(w), longRatioText}} {
					if e, err = recorded(cat, o, t.text, base, w, nil); err != nil {
						return rulefmt.RuleGroups{}, err
					}
					add(t.name, e)
				}
				continue
			}
			for _, k := range []Kind{Requests, Errors} {
				if e, err = Expr(cat, o, others[o.Indicator], k, w); err != nil {
					return rulefmt.RuleGroups{}, err
				}
				add([2]string{RequestsName(w), ErrorsName(w)}[k], e)
			}
			if e, err = recorded(cat, o, ratioText, w, 0, nil); err != nil {
				return rulefmt.RuleGroups{}, err
			}
			add(RatioName(w), e)
		}
		for _, t := range []struct{ name, text string }{{RequestsName(LongWindow), longRateText}, {RatioName(LongWindow), longRatioText}} {
			if e, err = recorded(cat, o, t.text, base, LongWindow, nil); err != nil {
				return rulefmt.RuleGroups{}, err
			}
			add(t.name, e)
		}
		e, err = recorded(cat, o, budgetText, RawWindows[0], o.Window, map[string]float64{"budget": o.Budget()})
		if err != nil {
			return rulefmt.RuleGroups{}, err
		}
		add(BudgetName, e)
		for _, b := range Burns {
			r, err := alertRule(cat, o, b, s.MinRequestRate)
			if err != nil {
				return rulefmt.RuleGroups{}, err
			}
			alerts.Rules = append(alerts.Rules, r)
		}
	}
	return rulefmt.RuleGroups{Groups: []rulefmt.RuleGroup{rec, alerts}}, nil
}

// sloSelector selects one objective's recorded series named name.
func sloSelector(o Objective, name string) *parser.VectorSelector {
	return &parser.VectorSelector{Name: name, LabelMatchers: []*labels.Matcher{
		labels.MustNewMatcher(labels.MatchEqual, model.MetricNameLabel, name),
		labels.MustNewMatcher(labels.MatchEqual, LabelSLO, o.Name),
	}}
}

// recorded parses text over the objective's recorded errors and requests
// of window src, with ranges w and numbers nums.
func recorded(cat *schema.Catalog, o Objective, text string, src, w time.Duration, nums map[string]float64) (parser.Expr, error) {
	vars := map[string]parser.Expr{
		"errors":   sloSelector(o, ErrorsName(src)),
		"requests": sloSelector(o, RequestsName(src)),
	}
	for k, v := range nums {
		vars[k] = &parser.NumberLiteral{Val: v}
	}
	return parseWith(cat, o, text, vars, w)
}

func parseWith(cat *schema.Catalog, o Objective, text string, vars map[string]parser.Expr, w time.Duration) (parser.Expr, error) {
	e, err := parse(text)
	if err != nil {
		return nil, fmt.Errorf("objective %s: parse %q: %w", o.Name, text, err)
	}
	if e, err = substitute(e, vars, w, nil); err != nil {
		return nil, fmt.Errorf("objective %s: %w", o.Name, err)
	}
	cat.KeepCluster(e)
	if _, err := parse(e.String()); err != nil {
		return nil, fmt.Errorf("objective %s: %w", o.Name, err)
	}
	return e, nil
}

// alertRule is one burn-rate alert of one objective.
func alertRule(cat *schema.Catalog, o Objective, b Burn, minRate float64) (rulefmt.Rule, error) {
	vars := map[string]parser.Expr{
		"ratio_long":    sloSelector(o, RatioName(b.Long)),
		"ratio_short":   sloSelector(o, RatioName(b.Short)),
		"requests_gate": sloSelector(o, RequestsName(GateWindow)),
		"burn":          &parser.NumberLiteral{Val: b.Factor * o.Budget()},
		"min_rate":      &parser.NumberLiteral{Val: minRate},
	}
	e, err := parseWith(cat, o, alertText, vars, 0)
	if err != nil {
		return rulefmt.Rule{}, err
	}
	factor := strconv.FormatFloat(b.Factor, 'f', -1, 64)
	return rulefmt.Rule{
		Alert: b.Alert, Expr: e.String(),
		Labels: map[string]string{"severity": b.Severity, LabelSLO: o.Name, LabelIndicator: o.Indicator},
		Annotations: map[string]string{
			"summary": "{{ $labels.model_name }} burns its " + o.Name + " error budget " + factor + "× too fast",
			"description": "Objective: " + o.String() + ". Over " + window(b.Long) + " and " + window(b.Short) +
				" more than " + factor + "× the allowed " + pct(o.Budget()) + " of requests were slower than " + model.Duration(o.Threshold).String() +
				" (now {{ $value | humanizePercentage }} over " + window(b.Long) + "). Check KV-cache saturation, queued requests and preemptions: servescope diagnose.",
		},
	}, nil
}

func pct(v float64) string { return strconv.FormatFloat(v*100, 'f', -1, 64) + "%" }

// RulesFile renders the objectives' rule groups as a Prometheus rules
// file, checked with rulefmt as Prometheus would load it; nil without
// objectives.
func RulesFile(cat *schema.Catalog, s Set, interval time.Duration) ([]byte, error) {
	groups, err := RuleGroups(cat, s, interval)
	if err != nil || len(groups.Groups) == 0 {
		return nil, err
	}
	var b bytes.Buffer
	b.WriteString("# Generated by servescope from its latency objectives; do not edit.\n")
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	if err := enc.Encode(groups); err != nil {
		return nil, fmt.Errorf("encode objective rules: %w", err)
	}
	if err := enc.Close(); err != nil {
		return nil, fmt.Errorf("encode objective rules: %w", err)
	}
	if err := schema.CheckRulesFile(b.Bytes()); err != nil {
		return nil, fmt.Errorf("objective rules: %w", err)
	}
	return b.Bytes(), nil
}
