package gen

import (
	"fmt"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql/parser"

	"github.com/servescope/servescope/internal/schema"
)

// The fleet dashboard mirrors the built-in UI's Fleet page and its derived
// panels (busy vs waiting, tokens per running request, admitted vs used per
// team): catalog queries combined as syntax trees, never as text.

// fleetTarget is one query of a fleet panel.
type fleetTarget struct {
	expr   parser.Expr
	legend string
	right  bool // plotted on the right axis
}

// fleetPanel is a derived panel of the fleet dashboard.
type fleetPanel struct {
	title, help, unit, kind string
	targets                 []fleetTarget
}

// fleetQueries builds the parsed catalog query (recorded or raw) of signals.
type fleetQueries struct {
	cat *schema.Catalog
	raw bool
	p   parser.Parser
}

func (f fleetQueries) sel(signal string) (parser.Expr, error) {
	q, err := f.cat.Select(signal, !f.raw)
	if err != nil {
		return nil, err
	}
	e, err := f.p.ParseExpr(q)
	if err != nil {
		return nil, fmt.Errorf("signal %s: parse: %w", signal, err)
	}
	return e, nil
}

func aggregate(op parser.ItemType, e parser.Expr, by ...string) parser.Expr {
	return &parser.AggregateExpr{Op: op, Expr: e, Grouping: by}
}

func fleetPanels(cat *schema.Catalog, o Options) ([]fleetPanel, error) {
	f := fleetQueries{cat: cat, raw: o.RawQueries, p: parser.NewParser(parser.Options{})}
	q := map[string]parser.Expr{}
	for _, s := range []string{"gpu_busy_ratio", "generation_tokens_per_second", "requests_waiting", "requests_running", "team_reserved_gpus", "team_used_gpus"} {
		e, err := f.sel(s)
		if err != nil {
			return nil, err
		}
		q[s] = e
	}
	pod := []string{"namespace", "pod"}
	perRequest := &parser.BinaryExpr{
		Op:             parser.DIV,
		LHS:            aggregate(parser.SUM, q["generation_tokens_per_second"], pod...),
		RHS:            aggregate(parser.SUM, q["requests_running"], pod...),
		VectorMatching: &parser.VectorMatching{Card: parser.CardOneToOne, MatchingLabels: pod, On: true},
	}
	firing, err := labels.NewMatcher(labels.MatchEqual, "alertstate", "firing")
	if err != nil {
		return nil, fmt.Errorf("alerts matcher: %w", err)
	}
	name, err := labels.NewMatcher(labels.MatchEqual, model.MetricNameLabel, "ALERTS")
	if err != nil {
		return nil, fmt.Errorf("alerts matcher: %w", err)
	}
	alerts := &parser.VectorSelector{Name: "ALERTS", LabelMatchers: []*labels.Matcher{firing, name}}
	return []fleetPanel{
		{title: "Fleet GPU busy", help: "Mean engine activity of all GPUs.", unit: "percentunit", kind: "timeseries",
			targets: []fleetTarget{{expr: aggregate(parser.AVG, q["gpu_busy_ratio"]), legend: "mean busy"}}},
		{title: "Generation tokens/s", help: "Tokens generated per second across the fleet.", unit: "suffix: tok/s", kind: "timeseries",
			targets: []fleetTarget{{expr: aggregate(parser.SUM, q["generation_tokens_per_second"]), legend: "tokens/s"}}},
		{title: "GPU busy vs requests waiting", help: "Mean GPU busy (left) against requests waiting (right): busy GPUs with a queue need capacity, idle GPUs with a queue need a fix.", unit: "percentunit", kind: "timeseries",
			targets: []fleetTarget{
				{expr: aggregate(parser.AVG, q["gpu_busy_ratio"]), legend: "mean busy"},
				{expr: aggregate(parser.SUM, q["requests_waiting"]), legend: "requests waiting", right: true},
			}},
		{title: "Tokens/s per running request", help: "Generation tokens/s ÷ requests running, per pod.", unit: "suffix: tok/s", kind: "timeseries",
			targets: []fleetTarget{{expr: perRequest, legend: "{{namespace}}/{{pod}}"}}},
		{title: "Admitted vs used GPUs per team", help: "GPU-equivalents Kueue admitted workloads for (quota reservation; not the nominal quota the glossary calls reserved) against GPUs in use, per team.", unit: "short", kind: "timeseries",
			targets: []fleetTarget{
				{expr: q["team_reserved_gpus"], legend: "admitted {{team}}"},
				{expr: q["team_used_gpus"], legend: "used {{team}}"},
			}},
		{title: "Firing alerts", help: "servescope's diagnosis alerts currently firing.", unit: "short", kind: "table",
			targets: []fleetTarget{{expr: alerts}}},
	}, nil
}

// fleetDashboard builds the fleet dashboard.
func fleetDashboard(cat *schema.Catalog, o Options) (*dashboard, error) {
	fps, err := fleetPanels(cat, o)
	if err != nil {
		return nil, err
	}
	d := newDashboard("servescope-fleet", "servescope / Fleet")
	ds := promDatasource()
	for i, fp := range fps {
		p := panel{
			ID: i + 1, Type: fp.kind, Title: fp.title, Description: fp.help, Datasource: &ds,
			GridPos: gridPos{H: 8, W: 12, X: 12 * (i % 2), Y: 8 * (i / 2)},
		}
		for j, t := range fp.targets {
			// Printed first: the panels share the catalog's parsed queries.
			q, err := panelQuery(cat, t.expr.String(), clusterFilter(cat))
			if err != nil {
				return nil, fmt.Errorf("dashboard servescope-fleet: panel %s: %w", fp.title, err)
			}
			tg := target{RefID: refID(j), Datasource: ds, Expr: q, LegendFormat: clusterLegend(cat, t.legend), Range: true, Format: "time_series"}
			if fp.kind == "table" {
				tg = target{RefID: refID(j), Datasource: ds, Expr: q, Instant: true, Format: "table"}
			}
			p.Targets = append(p.Targets, tg)
		}
		if fp.kind != "table" {
			fc := &fieldConfig{Defaults: fieldDefaults{Unit: fp.unit}, Overrides: []any{}}
			for j, t := range fp.targets {
				if t.right {
					fc.Overrides = append(fc.Overrides, map[string]any{
						"matcher":    map[string]any{"id": "byFrameRefID", "options": refID(j)},
						"properties": []any{map[string]any{"id": "custom.axisPlacement", "value": "right"}, map[string]any{"id": "unit", "value": "short"}},
					})
				}
			}
			p.FieldConfig = fc
		}
		d.Panels = append(d.Panels, p)
	}
	if err := d.addClusterVar(cat, firstSeries(d.Panels[0].Targets[0].Expr)); err != nil {
		return nil, err
	}
	return d, nil
}
