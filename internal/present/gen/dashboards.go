package gen

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql/parser"

	"github.com/servescope/servescope/internal/schema"
)

// DatasourceVar is the name of the Prometheus datasource variable every
// dashboard declares and every panel refers to as ${datasource}.
const DatasourceVar = "datasource"

// ClusterVar is the variable every dashboard declares to select clusters:
// every panel query requires the catalog's cluster label to match it, and
// keeps that label in its groupings, so two clusters are never merged. Its
// "All" (.*) also matches series without the label, so a fleet of one
// cluster, named or not, reads as before.
const ClusterVar = "cluster"

// dashboardSpec is one generated dashboard: the signal levels it shows and
// the label it can be filtered by (a Grafana variable of the same name).
type dashboardSpec struct {
	uid, title string
	levels     []schema.Level
	filter     string
}

func dashboardSpecs() []dashboardSpec {
	return []dashboardSpec{
		{uid: "servescope-serving", title: "servescope / Serving engines", levels: []schema.Level{schema.LevelPod}, filter: "namespace"},
		{uid: "servescope-gpus", title: "servescope / GPUs", levels: []schema.Level{schema.LevelGPU}, filter: "hostname"},
		{uid: "servescope-queues", title: "servescope / Kueue queues and namespaces", levels: []schema.Level{schema.LevelQueue, schema.LevelNamespace}},
		{uid: "servescope-teams", title: "servescope / Teams", levels: []schema.Level{schema.LevelTeam}, filter: "team"},
	}
}

// Grafana's dashboard JSON model, limited to the fields generated here.
type (
	dashboard struct {
		Annotations   list[any]  `json:"annotations"`
		Description   string     `json:"description"`
		Editable      bool       `json:"editable"`
		GraphTooltip  int        `json:"graphTooltip"`
		Links         []any      `json:"links"`
		Panels        []panel    `json:"panels"`
		Refresh       string     `json:"refresh"`
		SchemaVersion int        `json:"schemaVersion"`
		Tags          []string   `json:"tags"`
		Templating    list[tvar] `json:"templating"`
		Time          timeRange  `json:"time"`
		Timezone      string     `json:"timezone"`
		Title         string     `json:"title"`
		UID           string     `json:"uid"`
		Version       int        `json:"version"`
	}
	list[T any] struct {
		List []T `json:"list"`
	}
	timeRange struct {
		From string `json:"from"`
		To   string `json:"to"`
	}
	datasourceRef struct {
		Type string `json:"type"`
		UID  string `json:"uid"`
	}
	tvar struct {
		Name       string         `json:"name"`
		Label      string         `json:"label"`
		Type       string         `json:"type"`
		Query      any            `json:"query"`
		Datasource *datasourceRef `json:"datasource,omitempty"`
		Definition string         `json:"definition,omitempty"`
		IncludeAll bool           `json:"includeAll"`
		AllValue   string         `json:"allValue,omitempty"`
		Multi      bool           `json:"multi"`
		Refresh    int            `json:"refresh"`
		Sort       int            `json:"sort"`
		Current    struct{}       `json:"current"`
		Hide       int            `json:"hide"`
	}
	gridPos struct {
		H int `json:"h"`
		W int `json:"w"`
		X int `json:"x"`
		Y int `json:"y"`
	}
	panel struct {
		ID          int            `json:"id"`
		Type        string         `json:"type"`
		Title       string         `json:"title"`
		Description string         `json:"description,omitempty"`
		Datasource  *datasourceRef `json:"datasource,omitempty"`
		GridPos     gridPos        `json:"gridPos"`
		FieldConfig *fieldConfig   `json:"fieldConfig,omitempty"`
		Options     map[string]any `json:"options,omitempty"`
		Targets     []target       `json:"targets,omitempty"`
		Collapsed   *bool          `json:"collapsed,omitempty"`
	}
	fieldConfig struct {
		Defaults  fieldDefaults `json:"defaults"`
		Overrides []any         `json:"overrides"`
	}
	fieldDefaults struct {
		Unit string   `json:"unit"`
		Min  *float64 `json:"min,omitempty"`
		Max  *float64 `json:"max,omitempty"`
	}
	target struct {
		RefID        string        `json:"refId"`
		Datasource   datasourceRef `json:"datasource"`
		Expr         string        `json:"expr"`
		LegendFormat string        `json:"legendFormat,omitempty"`
		Instant      bool          `json:"instant"`
		Range        bool          `json:"range"`
		Format       string        `json:"format"`
	}
)

func promDatasource() datasourceRef {
	return datasourceRef{Type: "prometheus", UID: "${" + DatasourceVar + "}"}
}

// dashboards writes the fleet dashboard, one Grafana dashboard per spec and
// the provisioning provider that loads them.
func dashboards(files Files, cat *schema.Catalog, o Options) error {
	fleet, err := fleetDashboard(cat, o)
	if err != nil {
		return fmt.Errorf("dashboard servescope-fleet: %w", err)
	}
	all := []*dashboard{fleet}
	for _, spec := range dashboardSpecs() {
		d, err := buildDashboard(cat, spec, o)
		if err != nil {
			return fmt.Errorf("dashboard %s: %w", spec.uid, err)
		}
		all = append(all, d)
	}
	for _, d := range all {
		var b bytes.Buffer
		enc := json.NewEncoder(&b)
		enc.SetEscapeHTML(false)
		enc.SetIndent("", "  ")
		if err := enc.Encode(d); err != nil {
			return fmt.Errorf("dashboard %s: encode: %w", d.UID, err)
		}
		if err := files.add("grafana/dashboards/"+d.UID+".json", b.Bytes()); err != nil {
			return err
		}
	}
	return files.add("grafana/provisioning/dashboards/servescope.yaml", []byte(grafanaProvider))
}

// grafanaProvider is Grafana's dashboard provisioning file for the
// generated dashboards (mount grafana/dashboards at its path).
const grafanaProvider = `# Generated by servescope; do not edit.
apiVersion: 1
providers:
  - name: servescope
    folder: servescope
    type: file
    disableDeletion: false
    allowUiUpdates: false
    options:
      path: /var/lib/grafana/dashboards/servescope
`

// newDashboard returns an empty dashboard with the datasource variable.
func newDashboard(uid, title string) *dashboard {
	d := &dashboard{
		Annotations:   list[any]{List: []any{}},
		Description:   "Generated by servescope from its signal catalog; do not edit.",
		Editable:      false,
		GraphTooltip:  1,
		Links:         []any{},
		Refresh:       "30s",
		SchemaVersion: 39,
		Tags:          []string{"servescope"},
		Time:          timeRange{From: "now-6h", To: "now"},
		Title:         title,
		UID:           uid,
		Version:       1,
	}
	d.Templating.List = []tvar{{
		Name: DatasourceVar, Label: "Data source", Type: "datasource", Query: "prometheus", Refresh: 1,
	}}
	return d
}

func buildDashboard(cat *schema.Catalog, spec dashboardSpec, o Options) (*dashboard, error) {
	d := newDashboard(spec.uid, spec.title)
	filter := spec.filter
	if o.RawQueries {
		// Raw queries select exporter series whose labels are not yet
		// canonical (exported_namespace, Hostname, ...); filtering them by
		// the canonical label would drop data, so raw dashboards show all.
		filter = ""
	}
	var filterSource, clusterSource string
	y := 0
	id := 1
	for _, s := range cat.Signals() {
		if !slices.Contains(spec.levels, s.Level) {
			continue
		}
		p, err := signalPanel(cat, s, o, filter)
		if err != nil {
			return nil, fmt.Errorf("signal %s: %w", s.Name, err)
		}
		if clusterSource == "" {
			clusterSource = firstSeries(p.Targets[0].Expr)
		}
		if filter != "" && filterSource == "" && slices.Contains(s.By(), filter) && s.Kind != schema.KindHistogram {
			filterSource = s.RecordName()
		}
		p.ID = id
		p.GridPos = gridPos{H: 8, W: 12, X: 12 * ((id - 1) % 2), Y: y}
		if id%2 == 0 {
			y += 8
		}
		id++
		d.Panels = append(d.Panels, p)
	}
	if len(d.Panels) == 0 {
		return nil, fmt.Errorf("no signals of levels %v", spec.levels)
	}
	if err := d.addClusterVar(cat, clusterSource); err != nil {
		return nil, err
	}
	if filterSource != "" {
		if err := d.addQueryVar(filter, filter, filter, filterSource, clusterFilter(cat)); err != nil {
			return nil, err
		}
	}
	return d, nil
}

// varFilter is the matcher label=~"$variable": a label of every selector
// matched against the values chosen in a Grafana variable.
type varFilter struct{ label, variable string }

// clusterFilter selects the clusters chosen in ClusterVar.
func clusterFilter(cat *schema.Catalog) varFilter {
	return varFilter{label: cat.ClusterLabel(), variable: ClusterVar}
}

// addClusterVar declares ClusterVar: the values of the cluster label on
// series (a series the first panel reads).
func (d *dashboard) addClusterVar(cat *schema.Catalog, series string) error {
	if series == "" {
		return fmt.Errorf("cluster variable: no series in the panels")
	}
	return d.addQueryVar(ClusterVar, "Cluster", cat.ClusterLabel(), series, varFilter{})
}

// addQueryVar declares the multi-value query variable name (with "All" as
// .*): the values of label on series, restricted by the filter of a
// variable declared before it (the namespaces of the chosen clusters).
func (d *dashboard) addQueryVar(name, title, label, series string, before varFilter) error {
	sel := &parser.VectorSelector{Name: series}
	if before.label != "" {
		m, err := labels.NewMatcher(labels.MatchRegexp, before.label, "$"+before.variable)
		if err != nil {
			return fmt.Errorf("variable %s: matcher %s: %w", name, before.label, err)
		}
		sel.LabelMatchers = []*labels.Matcher{m}
	}
	ds := promDatasource()
	def := "label_values(" + sel.String() + ", " + label + ")"
	d.Templating.List = append(d.Templating.List, tvar{
		Name: name, Label: title, Type: "query", Datasource: &ds, Definition: def,
		Query:      map[string]any{"query": def, "refId": "PrometheusVariableQueryEditor-VariableQuery"},
		IncludeAll: true, AllValue: ".*", Multi: true, Refresh: 2, Sort: 1,
	})
	return nil
}

// firstSeries returns the metric name of the first selector of q ("" if q
// does not parse or selects by name nowhere).
func firstSeries(q string) string {
	e, err := parser.NewParser(parser.Options{}).ParseExpr(q)
	if err != nil {
		return ""
	}
	var name string
	parser.Inspect(e, func(n parser.Node, _ []parser.Node) error {
		if vs, ok := n.(*parser.VectorSelector); ok && name == "" && vs.Name != "" {
			name = vs.Name
		}
		return nil
	})
	return name
}

// signalPanel builds the panel of one signal: a time series of its recorded
// (or raw) query, histograms as their recorded quantiles, info signals as a
// table of the current series.
func signalPanel(cat *schema.Catalog, s schema.Signal, o Options, filter string) (panel, error) {
	ds := promDatasource()
	p := panel{Type: "timeseries", Title: s.Name, Description: s.Help, Datasource: &ds}
	filters := []varFilter{clusterFilter(cat)}
	if filter != "" && slices.Contains(s.By(), filter) {
		filters = append(filters, varFilter{label: filter, variable: filter})
	}
	legend := legendFormat(s.KeyLabels(), s.Extra)
	add := func(q, legend string) error {
		q, err := panelQuery(cat, q, filters...)
		if err != nil {
			return err
		}
		legend = clusterLegend(cat, legend)
		t := target{RefID: refID(len(p.Targets)), Datasource: ds, Expr: q, LegendFormat: legend, Range: true, Format: "time_series"}
		if s.Kind == schema.KindInfo {
			t = target{RefID: refID(len(p.Targets)), Datasource: ds, Expr: q, Instant: true, Format: "table"}
		}
		p.Targets = append(p.Targets, t)
		return nil
	}
	switch s.Kind {
	case schema.KindInfo:
		p.Type = "table"
		q, err := cat.Select(s.Name, !o.RawQueries)
		if err != nil {
			return p, err
		}
		if err := add(q, ""); err != nil {
			return p, err
		}
		return p, nil
	case schema.KindHistogram:
		for _, qt := range schema.Quantiles() {
			q := schema.QuantileName(s.Name, qt)
			if o.RawQueries {
				var err error
				if q, err = cat.Quantile(s.Name, qt); err != nil {
					return p, err
				}
			}
			if err := add(q, "p"+strconv.FormatFloat(qt*100, 'f', -1, 64)+" "+legend); err != nil {
				return p, err
			}
		}
	default:
		q, err := cat.Select(s.Name, !o.RawQueries)
		if err != nil {
			return p, err
		}
		if err := add(q, legend); err != nil {
			return p, err
		}
	}
	p.FieldConfig = &fieldConfig{Defaults: unitDefaults(s), Overrides: []any{}}
	p.Options = map[string]any{
		"legend":  map[string]any{"displayMode": "list", "placement": "bottom", "showLegend": true},
		"tooltip": map[string]any{"mode": "multi", "sort": "desc"},
	}
	return p, nil
}

func refID(i int) string { return string(rune('A' + i)) }

// legendFormat names a series by its key labels (joined by /) then its extra
// labels, as Grafana {{label}} templates.
func legendFormat(key, extra []string) string {
	parts := make([]string, 0, len(key))
	for _, k := range key {
		parts = append(parts, "{{"+k+"}}")
	}
	l := strings.Join(parts, "/")
	for _, e := range extra {
		l += " {{" + e + "}}"
	}
	return l
}

// unitDefaults maps a catalog unit to Grafana's unit and fixed range.
func unitDefaults(s schema.Signal) fieldDefaults {
	var d fieldDefaults
	switch s.Unit {
	case schema.UnitRatio:
		d.Unit = "percentunit"
		lo, hi := 0.0, 1.0
		d.Min, d.Max = &lo, &hi
	case schema.UnitSeconds:
		d.Unit = "s"
	case schema.UnitBytes:
		d.Unit = "bytes"
	case schema.UnitWatts:
		d.Unit = "watt"
	case schema.UnitCelsius:
		d.Unit = "celsius"
	case schema.UnitTokensPerSecond:
		d.Unit = "suffix: tok/s"
	case schema.UnitPerSecond:
		d.Unit = "cps"
	case schema.UnitCode:
		d.Unit = "none"
	default:
		d.Unit = "short"
	}
	return d
}

// clusterLegend adds the cluster to a series' legend, empty for series
// without the label (a one-cluster fleet).
func clusterLegend(cat *schema.Catalog, legend string) string {
	if legend == "" {
		return ""
	}
	return legend + " {{" + cat.ClusterLabel() + "}}"
}

// panelQuery returns q as a panel reads it: every `by` grouping and `on`
// matching keeps the cluster label (the catalog's own rule, a no-op on its
// queries) and every vector selector requires each filter's label to match
// its variable. The query is edited as a syntax tree and printed by the
// PromQL printer.
func panelQuery(cat *schema.Catalog, q string, filters ...varFilter) (string, error) {
	e, err := parser.NewParser(parser.Options{}).ParseExpr(q)
	if err != nil {
		return "", fmt.Errorf("parse %q: %w", q, err)
	}
	cat.KeepCluster(e)
	ms := make([]*labels.Matcher, 0, len(filters))
	for _, f := range filters {
		m, err := labels.NewMatcher(labels.MatchRegexp, f.label, "$"+f.variable)
		if err != nil {
			return "", fmt.Errorf("matcher %s: %w", f.label, err)
		}
		ms = append(ms, m)
	}
	parser.Inspect(e, func(n parser.Node, _ []parser.Node) error {
		if vs, ok := n.(*parser.VectorSelector); ok {
			vs.LabelMatchers = append(vs.LabelMatchers, ms...)
		}
		return nil
	})
	return e.String(), nil
}
