package web

import (
	"bytes"
	"cmp"
	"context"
	"fmt"
	"html/template"
	"io"
	"io/fs"
	"math"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/common/model"

	"github.com/servescope/servescope/internal/analyze/cost"
	"github.com/servescope/servescope/internal/analyze/fleet"
	"github.com/servescope/servescope/internal/analyze/health"
)

// The report is one self-contained document over a window, fit to send:
// the dashboard's panels grouped under the four questions (are the GPUs
// used, why not, what to do, who pays), then the serving and GPU plots.
// HTML inlines the stylesheet and the SVG charts and references nothing
// outside itself; Markdown has tables and the charts as data: images.

// Report formats.
const (
	FormatHTML     = "html"
	FormatMarkdown = "md"
)

// ReportOptions choose a report's window and format.
type ReportOptions struct {
	// Window is the span reported on, ending at End.
	Window time.Duration
	// End is the end of the window; zero means the handler's clock.
	End time.Time
	// Format is FormatHTML or FormatMarkdown.
	Format string
	// Source names the backend read (a URL), shown in the header; optional.
	Source string
	// AllowPartial writes a report whose panels partly failed, under a
	// "partial" banner naming them; without it such a report is an error
	// and nothing is written.
	AllowPartial bool
	// Progress, when set, is told after each panel is read how many of
	// how many are done; calls are serialised. The panels are most of a
	// report's time over a long window.
	Progress func(done, total int)
}

// FleetSummary is the fleet's utilisation over a window and the capacity
// advice per model.
type FleetSummary struct {
	// Model is the fleet model over the window: GPU counts, GPU-hours and
	// money, in the glossary's words (the one every surface reads).
	Model *fleet.Model
	// MeanBusy is the fleet's busy (used ÷ allocated); BelowLow and
	// AboveHigh are the shares of GPUs whose mean busy is below LowBusy
	// and above HighBusy.
	MeanBusy            float64
	LowBusy, HighBusy   float64
	BelowLow, AboveHigh float64
	Capacity            []Capacity
	// Clusters is the fleet model per cluster when the series name two or
	// more (their figures add up to Model's); nil for one cluster.
	Clusters []*fleet.Model
	// Unusable are the GPUs judged unusable at the end of the window
	// (health.Judge, with the pod holding each), nil when none is.
	Unusable []health.Unusable
}

// Capacity is the advice for one model: GPUs needed for the observed peak
// against GPUs held.
type Capacity struct {
	Model string
	// GPU names the kind of GPU the advice is about (model, MIG slice).
	GPU        string
	Held       int
	PeakDemand float64 // GPU-equivalents in use at the peak
	MeanBusy   float64
	Needed     int
	// Saturated: requests waited most of the window, so Needed is a floor.
	Saturated bool
	Advice    string
}

// Fleet supplies the utilisation summary and capacity advice over the
// window ending at now.
type Fleet interface {
	Fleet(ctx context.Context, now time.Time, window time.Duration) (*FleetSummary, error)
}

// reportFindings is how many findings the report lists.
const reportFindings = 10

// reportSection is one question and the panels answering it.
type reportSection struct {
	ID, Title, Lead string
	Panels          []panel
	// Wide lists the panels spanning the page.
	Wide []string
}

type reportSectionView struct {
	ID, Title, Lead string
	Panels          []reportPanelView
}

type reportPanelView struct {
	panelView
	Wide bool
}

type kpi struct{ Label, Value string }

// reportData is what the report templates and the Markdown writer render.
type reportData struct {
	Title      string
	Start, End time.Time
	Window     string
	Source     string
	CSS        template.CSS
	Headline   []kpi
	Sections   []reportSectionView
	// Partial lists the panels that failed ("title: error"); the report
	// then carries a banner saying it is partial.
	Partial []string
}

// reportSources memoises the diagnosis and the fleet summary, which
// several panels share, for one report.
type reportSources struct {
	h         *Handler
	findOnce  sync.Once
	found     []Finding
	findErr   error
	fleetOnce sync.Once
	fleet     *FleetSummary
	fleetErr  error
}

func (s *reportSources) findings(ctx context.Context, e *env) ([]Finding, error) {
	if s.h.opts.Findings == nil {
		return nil, fmt.Errorf("diagnosis: %w", errUnavailable)
	}
	s.findOnce.Do(func() {
		s.found, s.findErr = s.h.opts.Findings.Findings(ctx, e.end, e.end.Sub(e.start))
		if s.findErr != nil {
			s.findErr = fmt.Errorf("diagnosis: %w", s.findErr)
		}
	})
	return s.found, s.findErr
}

func (s *reportSources) summary(ctx context.Context, e *env) (*FleetSummary, error) {
	if s.h.opts.Fleet == nil {
		return nil, fmt.Errorf("utilisation: %w", errUnavailable)
	}
	s.fleetOnce.Do(func() {
		s.fleet, s.fleetErr = s.h.opts.Fleet.Fleet(ctx, e.end, e.end.Sub(e.start))
		if s.fleetErr != nil {
			s.fleetErr = fmt.Errorf("utilisation: %w", s.fleetErr)
		}
	})
	return s.fleet, s.fleetErr
}

func reportSections(s *reportSources) []reportSection {
	return []reportSection{
		{ID: "used", Title: "Are the GPUs used?", Lead: "How busy the GPUs were over the window, and what the unused hours cost.", Panels: []panel{
			{ID: "fleet-summary", Title: "Fleet utilisation", build: s.fleetSummary},
			{ID: "busy-distribution", Title: "GPU busy distribution", Help: "GPUs by mean engine activity over the window", build: busyDistribution},
			{ID: "fleet-busy", Title: "Fleet GPU busy", Help: "mean engine activity of every GPU", build: meanLine("gpu_busy_ratio", "mean busy", "ratio")},
		}},
		{ID: "why", Title: "Why not?", Lead: "The diagnosis: what holds each pod, GPU and model back, with the signals behind it.", Wide: []string{"findings"}, Panels: []panel{
			{ID: "findings", Title: "Top findings", Help: "most severe first", build: s.topFindings},
		}},
		{ID: "todo", Title: "What to do?", Lead: "The findings' actions, and how many GPUs each model needs for its observed peak.", Wide: []string{"actions", "capacity"}, Panels: []panel{
			{ID: "actions", Title: "Actions", build: s.actions},
			{ID: "capacity", Title: "Capacity per model", Help: "GPUs needed for the peak demand at the target busy level, against GPUs held", build: s.capacity},
		}},
		{ID: "pays", Title: "Who pays?", Lead: "GPU-hours reserved, allocated, used, unused and idle per team, and their money.", Wide: []string{"team-costs", "token-costs"}, Panels: []panel{
			{ID: "team-costs", Title: "GPU-hours and money per team", Help: "__idle__ is allocatable capacity no team was allocated", build: teamCosts},
			{ID: "token-costs", Title: tokenCostTitle, Help: tokenCostHelp, build: tokenCosts},
		}},
		{ID: "queues", Title: "Why does work wait?", Lead: "Kueue's admission per ClusterQueue: how long work waits, what is pending beside idle quota, and who borrowed whose.", Wide: []string{"queue-view"}, Panels: []panel{
			{ID: "queue-view", Title: "Queues", Help: "values this Kueue version does not report read \"not reported\"", build: queueTable},
		}},
		{ID: "serving", Title: "Serving", Lead: "How the engines served: batching, KV-cache headroom, queueing (in the engines and at inference gateways) and latency.", Panels: append([]panel{
			{ID: "tokens-per-request", Title: "Tokens/s per running request", Help: "generation tokens/s ÷ requests running, per pod", build: tokensPerRequest},
			{ID: "kv-cache", Title: "KV-cache usage", Help: "per pod; saturation line at 85%", build: lines("kv_cache_usage_ratio", 0, "ratio", 0.85)},
			{ID: "busy-vs-waiting", Title: "GPU busy vs requests waiting", Help: "mean GPU busy (left) against waiting requests (right, dashed)", build: busyVsWaiting},
			{ID: "ttft", Title: "TTFT p95", Help: "time to first token, per pod", build: lines("ttft_seconds", 0.95, "seconds")},
			{ID: "objectives", Title: "Latency objectives: error budget and burn rate", Help: objectivesHelp, build: objectivesPanel},
		}, gatewayPanels()[:2]...)},
		{ID: "gpus", Title: "GPUs", Lead: "Each GPU's mean busy against its memory bandwidth, with the diagnosis regions, and the GPUs that are broken.", Wide: []string{"quadrant", "unusable-gpus"}, Panels: []panel{
			{ID: "quadrant", Title: "Busy vs memory bandwidth", build: quadrant},
			{ID: "unusable-gpus", Title: "Unusable GPUs", Help: unusableHelp, build: s.unusable},
		}},
	}
}

// Report writes a self-contained report over the window ending at
// o.End (default now) to w, as HTML or Markdown.
func (h *Handler) Report(ctx context.Context, w io.Writer, o ReportOptions) error {
	if err := checkFormat(o.Format); err != nil {
		return err
	}
	doc, err := h.ReadReport(ctx, o)
	if err != nil {
		return err
	}
	return doc.Write(w, o.Format)
}

// ReportDoc is a report whose panels are read: it writes in either format
// without querying again (o.Format of ReadReport is not used).
type ReportDoc struct {
	h *Handler
	d reportData
}

func checkFormat(format string) error {
	if format != FormatHTML && format != FormatMarkdown {
		return fmt.Errorf("report: format %q: want %s or %s", format, FormatHTML, FormatMarkdown)
	}
	return nil
}

// ReadReport reads every panel of the report over the window ending at
// o.End (default now), once, for ReportDoc.Write to write in any format.
func (h *Handler) ReadReport(ctx context.Context, o ReportOptions) (*ReportDoc, error) {
	if o.Window <= 0 {
		return nil, fmt.Errorf("report: window %s: must be positive", o.Window)
	}
	end := o.End
	if end.IsZero() {
		end = h.opts.Now()
	}
	st := state{Range: o.Window, raw: url.Values{}}
	e := &env{h: h, st: st, end: end, start: end.Add(-o.Window), step: stepFor(o.Window), progress: o.Progress}
	src := &reportSources{h: h}
	sections := reportSections(src)
	if h.opts.Objectives == nil {
		// No latency objectives configured: no objectives panel (one
		// configured without data still says "no data in range").
		for i := range sections {
			sections[i].Panels = slices.DeleteFunc(slices.Clone(sections[i].Panels), func(p panel) bool { return p.ID == "objectives" })
		}
	}
	var all []panel
	for _, s := range sections {
		all = append(all, s.Panels...)
	}
	views := e.render(ctx, all)
	// A report whose part fails is an error, not a report of errors,
	// unless a partial one is asked for (it then says so).
	failed := failures(views)
	if len(failed) > 0 && (!o.AllowPartial || !slices.ContainsFunc(views, func(v panelView) bool { return v.State == stateOK || v.State == stateNoData })) {
		return nil, fmt.Errorf("report: %d of %d panels could not be read (%s); nothing written (a partial report can be asked for)",
			len(failed), len(views), strings.Join(failed, "; "))
	}
	d := reportData{Title: "GPU fleet report", Start: e.start, End: end, Window: model.Duration(o.Window).String(), Source: o.Source, Partial: failed}
	for _, s := range sections {
		sv := reportSectionView{ID: s.ID, Title: s.Title, Lead: s.Lead}
		for _, p := range s.Panels {
			v := views[0]
			views = views[1:]
			if p.Optional && v.State == stateNoData {
				continue
			}
			sv.Panels = append(sv.Panels, reportPanelView{panelView: v, Wide: slices.Contains(s.Wide, v.ID)})
		}
		d.Sections = append(d.Sections, sv)
	}
	d.Headline = src.headline()
	return &ReportDoc{h: h, d: d}, nil
}

// Write renders the report read as format (FormatHTML or FormatMarkdown)
// and writes it to w; nothing is written when rendering fails.
func (r *ReportDoc) Write(w io.Writer, format string) error {
	if err := checkFormat(format); err != nil {
		return err
	}
	d := r.d
	var buf bytes.Buffer
	if format == FormatMarkdown {
		if err := r.h.writeMarkdown(&buf, d); err != nil {
			return fmt.Errorf("report: %w", err)
		}
	} else {
		css, err := fs.ReadFile(assets, "static/style.css")
		if err != nil {
			return fmt.Errorf("report stylesheet: %w", err)
		}
		d.CSS = template.CSS(css) // our own embedded stylesheet
		if err := r.h.tmpl.ExecuteTemplate(&buf, "report.html", d); err != nil {
			return fmt.Errorf("report: render html: %w", err)
		}
	}
	if _, err := buf.WriteTo(w); err != nil {
		return fmt.Errorf("report: write: %w", err)
	}
	return nil
}

// failures lists the panels that failed, as "title: error".
func failures(views []panelView) []string {
	var out []string
	for _, v := range views {
		if v.State == stateError {
			out = append(out, v.Title+": "+v.Message)
		}
	}
	return out
}

// headline is the key numbers at the top, from what the panels fetched.
func (s *reportSources) headline() []kpi {
	var out []kpi
	if f := s.fleet; f != nil && s.fleetErr == nil && f.Model != nil && f.Model.GPUs.PhysicalGPUs > 0 {
		m := f.Model
		out = append(out, kpi{"GPUs", fleet.GPUsText(m.GPUs)}, kpi{"busy", formatValue(f.MeanBusy, "ratio")},
			kpi{"idle GPU-hours", hours(m.Hours.Idle)}, kpi{"unused GPU-hours", hours(m.Hours.Unused)})
		if m.Currency != "" {
			out = append(out, kpi{"idle money", m.Money.Idle.Format(m.Currency)}, kpi{"unused money", m.Money.Unused.Format(m.Currency)})
		}
	}
	if s.findErr == nil && len(s.found) > 0 {
		n := map[string]int{}
		for _, f := range s.found {
			n[f.Severity]++
		}
		out = append(out, kpi{"critical findings", strconv.Itoa(n["critical"])}, kpi{"warnings", strconv.Itoa(n["warning"])})
	}
	return out
}

func hours(x float64) string { return strconv.FormatFloat(x, 'f', 1, 64) }

func (s *reportSources) fleetSummary(ctx context.Context, e *env, v *panelView) error {
	f, err := s.summary(ctx, e)
	if err != nil || f == nil || f.Model == nil {
		return err
	}
	v.Table = fleetTable(f)
	return nil
}

// fleetTable is the fleet model as a table in the glossary's words: the
// dashboard's Fleet page and the report show the same one.
func fleetTable(f *FleetSummary) *table {
	m := f.Model
	pct := func(x float64) string { return formatValue(x, "ratio") }
	priced := m.Currency != "" && (m.Money.Allocatable != 0 || m.UnpricedGPUHours < m.Hours.Allocated)
	row := func(word string, h float64, c cost.Micros) []string {
		r := []string{word, hours(h)}
		if priced {
			r = append(r, c.Format(m.Currency))
		}
		return r
	}
	t := &table{Head: []string{"quantity", "GPUs or GPU-hours"}}
	if priced {
		t.Head = append(t.Head, "money")
	}
	t.Rows = [][]string{
		{"physical GPUs", fleet.GPUsText(m.GPUs)},
		{"GPU-equivalents", strconv.FormatFloat(math.Round(m.GPUs.GPUEquivalents*100)/100, 'f', -1, 64)},
		row("allocatable", m.Hours.Allocatable, m.Money.Allocatable),
		row("reserved", m.Hours.Reserved, m.Money.Reserved),
		row("allocated", m.Hours.Allocated, m.Money.Allocated),
		row("used", m.Hours.Used, m.Money.Used),
		row("idle", m.Hours.Idle, m.Money.Idle),
		row("unused", m.Hours.Unused, m.Money.Unused),
		{"busy", pct(f.MeanBusy)},
		{"GPUs below " + pct(f.LowBusy) + " busy", pct(f.BelowLow) + " of GPUs"},
		{"GPUs above " + pct(f.HighBusy) + " busy", pct(f.AboveHigh) + " of GPUs"},
	}
	if priced && m.SavingsPer10Points != 0 {
		t.Rows = append(t.Rows, []string{"10 more points of busy would save", "", m.SavingsPer10Points.Format(m.Currency)})
	}
	if m.UnpricedGPUHours > 0 {
		t.Rows = append(t.Rows, []string{"unpriced allocated GPU-hours", hours(m.UnpricedGPUHours)})
	}
	perCluster(t, f.Clusters, pct)
	return t
}

// perCluster adds a column per cluster to the fleet table's GPU, GPU-hour
// and busy rows (the first 9), when there are two or more clusters.
func perCluster(t *table, cs []*fleet.Model, pct func(float64) string) {
	if len(cs) < 2 {
		return
	}
	width := len(t.Head)
	for _, c := range cs {
		t.Head = append(t.Head, c.Cluster)
	}
	for i := range t.Rows {
		for len(t.Rows[i]) < width {
			t.Rows[i] = append(t.Rows[i], "")
		}
		for _, c := range cs {
			cell := ""
			switch i {
			case 0:
				cell = fleet.GPUsText(c.GPUs)
			case 1:
				cell = strconv.FormatFloat(math.Round(c.GPUs.GPUEquivalents*100)/100, 'f', -1, 64)
			case 2, 3, 4, 5, 6, 7:
				cell = hours([]float64{c.Hours.Allocatable, c.Hours.Reserved, c.Hours.Allocated, c.Hours.Used, c.Hours.Idle, c.Hours.Unused}[i-2])
			case 8:
				cell = pct(c.Busy)
			}
			t.Rows[i] = append(t.Rows[i], cell)
		}
	}
}

var severityRank = map[string]int{"critical": 0, "warning": 1, "info": 2}

func rank(severity string) int {
	if r, ok := severityRank[severity]; ok {
		return r
	}
	return len(severityRank)
}

// problems are the findings that are not healthy, by impact: most severe
// first, then the most GPU-hours at stake, then the most confident.
func problems(fs []Finding) []Finding {
	out, _ := hideHealthy(fs)
	slices.SortStableFunc(out, func(a, b Finding) int {
		return cmp.Or(rank(a.Severity)-rank(b.Severity), cmp.Compare(b.GPUHours, a.GPUHours), cmp.Compare(b.Confidence, a.Confidence), strings.Compare(a.Subject, b.Subject))
	})
	return out
}

func (s *reportSources) topFindings(ctx context.Context, e *env, v *panelView) error {
	fs, err := s.findings(ctx, e)
	if err != nil || len(fs) == 0 {
		return err // no finding at all, not even healthy: no data
	}
	ps := problems(fs)
	_, healthy := hideHealthy(fs)
	v.Findings = ps[:min(reportFindings, len(ps))]
	v.Help = fmt.Sprintf("by impact; %d healthy hidden", healthy)
	if len(ps) > reportFindings {
		v.Help = fmt.Sprintf("the %d with most impact of %d findings (%d healthy hidden); servescope diagnose lists them all", reportFindings, len(ps), healthy)
	}
	if len(ps) == 0 {
		v.Findings = []Finding{}
		v.Help = "no findings: every pod and GPU looked healthy"
	}
	return nil
}

// actions groups the findings' actions: each action once, with the
// subjects it applies to.
func (s *reportSources) actions(ctx context.Context, e *env, v *panelView) error {
	fs, err := s.findings(ctx, e)
	if err != nil || len(fs) == 0 {
		return err
	}
	type group struct {
		severity string
		subjects []string
	}
	groups := map[string]*group{}
	var order []string
	for _, f := range problems(fs) {
		if f.Action == "" {
			continue
		}
		g, ok := groups[f.Action]
		if !ok {
			g = &group{severity: f.Severity}
			groups[f.Action] = g
			order = append(order, f.Action)
		}
		g.subjects = append(g.subjects, f.Subject)
	}
	t := &table{Head: []string{"severity", "what to do", "where"}}
	for _, a := range order {
		g := groups[a]
		where := strings.Join(g.subjects[:min(3, len(g.subjects))], ", ")
		if n := len(g.subjects); n > 3 {
			where += fmt.Sprintf(" and %d more", n-3)
		}
		t.Rows = append(t.Rows, []string{g.severity, a, where})
	}
	if len(t.Rows) == 0 {
		t.Rows = [][]string{{"", "nothing to do: no finding calls for an action", ""}}
	}
	v.Table = t
	return nil
}

func (s *reportSources) capacity(ctx context.Context, e *env, v *panelView) error {
	f, err := s.summary(ctx, e)
	if err != nil || f == nil || len(f.Capacity) == 0 {
		return err
	}
	t := &table{Head: []string{"model", "GPU", "GPUs held", "peak demand (GPUs)", "mean busy", "GPUs needed", "advice"}}
	for _, c := range f.Capacity {
		needed := strconv.Itoa(c.Needed)
		if c.Saturated {
			needed = "≥ " + needed
		}
		m := c.Model
		if m == "" {
			m = "(model not reported)"
		}
		t.Rows = append(t.Rows, []string{m, c.GPU, strconv.Itoa(c.Held), strconv.FormatFloat(c.PeakDemand, 'f', 1, 64),
			formatValue(c.MeanBusy, "ratio"), needed, c.Advice})
	}
	v.Table = t
	return nil
}

// define is the glossary's definition of the word a table heading or row
// label starts with ("allocated GPU-h" → allocated), for its tooltip; ""
// when it names no glossary word.
func define(label string) string {
	l := strings.ToLower(label)
	best := ""
	for _, t := range fleet.Glossary() {
		w := strings.ToLower(t.Word)
		if (l == w || strings.HasPrefix(l, w+" ")) && len(w) > len(best) {
			best = t.Word
		}
	}
	return fleet.Define(best)
}
