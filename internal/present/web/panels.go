package web

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"math"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/common/model"
)

// page is one dashboard page and its panels.
type page struct {
	Path, Title string
	Panels      []panel
	// Query adds the PromQL form and its graph above the panels.
	Query bool
}

// panel is one chart or table; build fills the view.
type panel struct {
	ID, Title, Help string
	// Must marks panels that should always have data on a running fleet
	// (the browser test checks them).
	Must bool
	// Optional panels read an exporter many fleets do not run (an
	// inference gateway): the report leaves them out when they have no data.
	Optional bool
	// Diagnosis panels show the page's one diagnosis (env.diagnosis):
	// they wait for it without holding one of the page's query slots, so
	// the first starts it at once, beside the other panels' queries.
	Diagnosis bool
	build     func(ctx context.Context, e *env, v *panelView) error
}

// Panel states, as the DOM's data-state shows them.
const (
	stateOK          = "ok"
	stateNoData      = "nodata"
	stateError       = "error"
	stateUnavailable = "unavailable"
)

// errUnavailable marks a panel whose source is not wired in.
var errUnavailable = errors.New("not available")

type panelView struct {
	ID, Title, Help string
	Must            bool
	State           string
	Message         string
	Line            *lineChart
	Scatter         *scatterChart
	Bars            *barChart
	Table           *table
	Findings        []Finding
	Queries         []string
	Link            string
	// asOf is when the diagnosis the panel shows was evaluated, when that
	// is not the page's end (env.diagnosis); render names it in Help.
	asOf time.Time
}

type table struct {
	Head []string
	Rows [][]string
}

func (h *Handler) pages() []page {
	return []page{
		{Path: "/", Title: "Fleet", Panels: []panel{
			{ID: "fleet-model", Title: "Fleet", Help: "physical GPUs and GPU-hours over the range, in the glossary's words (hover a word for its definition)", Diagnosis: true, build: fleetPanel},
			{ID: "busy-distribution", Title: "GPU busy distribution", Help: "physical GPUs by mean engine activity over the range (a MIG-split GPU by the mean of its slices)", Must: true, build: busyDistribution},
			{ID: "fleet-busy", Title: "Fleet GPU busy", Help: "mean engine activity of the selected GPUs", Must: true, build: meanLine("gpu_busy_ratio", "mean busy", "ratio")},
			{ID: "fleet-tokens", Title: "Generation tokens/s", Must: true, build: sumLine("generation_tokens_per_second", "tokens/s", "tokens/s")},
			{ID: "idle-cost", Title: "GPU-hours and money per team", Help: "__idle__ is allocatable capacity no team was allocated", Diagnosis: true, build: teamCosts},
			{ID: "alerts", Title: "Firing alerts", build: firingAlerts},
			{ID: "top-findings", Title: "Top findings", Diagnosis: true, build: findings(5)},
		}},
		{Path: "/serving", Title: "Serving", Panels: append([]panel{
			{ID: "tokens-per-request", Title: "Tokens/s per running request", Help: "generation tokens/s ÷ requests running, per pod", Must: true, build: tokensPerRequest},
			{ID: "kv-cache", Title: "KV-cache usage", Help: "per pod; saturation line at 85%", Must: true, build: lines("kv_cache_usage_ratio", 0, "ratio", 0.85)},
			{ID: "busy-vs-waiting", Title: "GPU busy vs requests waiting", Help: "mean GPU busy (left) against waiting requests (right, dashed)", Must: true, build: busyVsWaiting},
			{ID: "objectives", Title: "Latency objectives: error budget and burn rate", Help: objectivesHelp, build: objectivesPanel},
			{ID: "ttft", Title: "TTFT p95", Must: true, build: lines("ttft_seconds", 0.95, "seconds")},
			{ID: "itl", Title: "Inter-token latency p95", Must: true, build: lines("inter_token_latency_seconds", 0.95, "seconds")},
			{ID: "e2e", Title: "End-to-end latency p95", Must: true, build: lines("e2e_latency_seconds", 0.95, "seconds")},
			{ID: "queue-time", Title: "Queue time p95", Must: true, build: lines("queue_time_seconds", 0.95, "seconds")},
			{ID: "running", Title: "Requests running", Must: true, build: lines("requests_running", 0, "requests")},
			{ID: "preemptions", Title: "Preemptions/s", build: lines("preemptions_per_second", 0, "1/s")},
			{ID: "prefix-cache", Title: "Prefix-cache hit ratio", build: lines("prefix_cache_hit_ratio", 0, "ratio")},
			{ID: "spec-decode", Title: "Speculative acceptance", build: lines("spec_decode_acceptance_ratio", 0, "ratio")},
		}, append(pdPanels(), gatewayPanels()...)...)},
		{Path: "/gpus", Title: "GPUs", Panels: []panel{
			{ID: "quadrant", Title: "Busy vs memory bandwidth", Help: "each GPU's mean over the range, with the diagnosis regions", Must: true, build: quadrant},
			{ID: "gpu-busy", Title: "GPU busy", Must: true, build: lines("gpu_busy_ratio", 0, "ratio")},
			{ID: "framebuffer", Title: "Framebuffer used", Must: true, build: lines("gpu_framebuffer_used_bytes", 0, "bytes")},
			{ID: "power", Title: "Power", Must: true, build: lines("gpu_power_watts", 0, "watts")},
			{ID: "xid", Title: "XID errors", Help: "GPUs whose last XID is not 0", build: xids},
			{ID: "unusable-gpus", Title: "Unusable GPUs", Help: unusableHelp, Diagnosis: true, build: unusableGPUs},
		}},
		{Path: "/queues", Title: "Queues & teams", Panels: []panel{
			{ID: "queue-view", Title: "Why work waits, per ClusterQueue", Help: "admission wait, GPUs pending beside quota idle in the cohort per flavor, unadmitted workloads by reason, borrowed and lent GPU-hours over the range", Diagnosis: true, build: queueTable},
			{ID: "pending", Title: "Pending workloads", Must: true, build: lines("queue_pending_workloads", 0, "workloads")},
			{ID: "admitted", Title: "Admitted workloads", Must: true, build: lines("queue_admitted_workloads", 0, "workloads")},
			{ID: "evicted", Title: "Evicted workloads/s", build: lines("queue_evicted_workloads_per_second", 0, "1/s")},
			{ID: "preempted", Title: "Preempted workloads/s", build: lines("queue_preempted_workloads_per_second", 0, "1/s")},
			{ID: "team-gpus", Title: "Reserved, admitted and allocated GPU-equivalents per team", Help: "mean over the range; MIG slices at their share of a card", Must: true, build: teamGPUs},
			{ID: "team-costs", Title: "GPU-hours and money per team", Help: "__idle__ is allocatable capacity no team was allocated", Diagnosis: true, build: teamCosts},
			{ID: "token-costs", Title: tokenCostTitle, Help: tokenCostHelp, Diagnosis: true, build: tokenCosts},
		}},
		{Path: "/findings", Title: "Findings", Panels: []panel{
			{ID: "findings", Title: "Findings", Help: "each finding with its evidence; the queries open in Query", Diagnosis: true, build: findings(0)},
		}},
		{Path: "/query", Title: "Query", Query: true},
	}
}

// render builds the panels concurrently, a few querying at a time (the
// diagnosis panels wait for the page's one diagnosis beside them).
func (e *env) render(ctx context.Context, ps []panel) []panelView {
	out := make([]panelView, len(ps))
	sem := make(chan struct{}, 4) // bounds concurrent queries; buffered, never closed
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex // serialises the progress calls
		done int
	)
	for i, p := range ps {
		wg.Go(func() {
			if !p.Diagnosis {
				sem <- struct{}{}
				defer func() { <-sem }()
			}
			v := panelView{ID: p.ID, Title: p.Title, Help: p.Help, Must: p.Must, State: stateOK}
			err := p.build(ctx, e, &v)
			switch {
			case errors.Is(err, errUnavailable):
				v.State, v.Message = stateUnavailable, err.Error()
			case err != nil:
				e.h.logger.Warn("panel", "panel", p.ID, "err", err)
				v.State, v.Message = stateError, err.Error()
			case v.Line == nil && v.Scatter == nil && v.Bars == nil && v.Table == nil && v.Findings == nil:
				v.State, v.Message = stateNoData, "no data in range"
			}
			if !v.asOf.IsZero() {
				v.Help = strings.TrimPrefix(v.Help+"; "+asOfNote(v.asOf), "; ")
			}
			if len(v.Queries) > 0 {
				v.Link = "/query?" + url.Values{"q": {v.Queries[0]}, "range": {e.st.RangeValue()}}.Encode()
			}
			out[i] = v
			if e.progress != nil {
				mu.Lock()
				done++
				e.progress(done, len(ps))
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	return out
}

func lines(signal string, q float64, unit string, thresholds ...float64) func(context.Context, *env, *panelView) error {
	return func(ctx context.Context, e *env, v *panelView) error {
		m, pq, err := e.signalRange(ctx, signal, q)
		v.Queries = append(v.Queries, pq)
		if err != nil || len(m) == 0 {
			return err
		}
		ss, note := drawable(m)
		if note != "" {
			v.Help = strings.TrimPrefix(v.Help+"; "+note, "; ")
		}
		v.Line = layoutLines(ss, e.start, e.end, unit, "", thresholds...)
		return nil
	}
}

// drawable is the series a chart can show and what it says about them
// when it cannot show every one: GPU series beyond maxSeries are averaged
// per GPU model, so every model appears ("mean per GPU model of 64
// GPUs"); other series keep the top maxSeries by mean ("top 10 by mean
// of 52 pods").
func drawable(m model.Matrix) ([]series, string) {
	if len(m) <= maxSeries {
		return toSeries(m, 0), ""
	}
	if slices.ContainsFunc(m, func(s *model.SampleStream) bool { return s.Metric["modelName"] != "" }) {
		groups := map[model.LabelValue]model.Matrix{}
		var order []model.LabelValue
		for _, s := range m {
			k := s.Metric["modelName"]
			if groups[k] == nil {
				order = append(order, k)
			}
			groups[k] = append(groups[k], s)
		}
		slices.Sort(order)
		var out []series
		for _, k := range order {
			name := string(k)
			if name == "" {
				name = "GPU model not reported"
			}
			out = append(out, aggregate(groups[k], fmt.Sprintf("%s (mean of %d)", name, len(groups[k])), true, 0)...)
		}
		if len(out) <= maxSeries {
			return out, fmt.Sprintf("mean per GPU model of %d GPU series (each MIG slice one)", len(m))
		}
	}
	kind := "series"
	if m[0].Metric["pod"] != "" {
		kind = "pods"
	}
	return toSeries(m, 0), fmt.Sprintf("top %d by mean of %d %s", maxSeries, len(m), kind)
}

func sumLine(signal, label, unit string) func(context.Context, *env, *panelView) error {
	return func(ctx context.Context, e *env, v *panelView) error {
		m, pq, err := e.signalRange(ctx, signal, 0)
		v.Queries = append(v.Queries, pq)
		if err != nil || len(m) == 0 {
			return err
		}
		v.Line = layoutLines(aggregate(m, label, false, 0), e.start, e.end, unit, "")
		return nil
	}
}

func meanLine(signal, label, unit string) func(context.Context, *env, *panelView) error {
	return func(ctx context.Context, e *env, v *panelView) error {
		m, pq, err := e.signalRange(ctx, signal, 0)
		v.Queries = append(v.Queries, pq)
		if err != nil || len(m) == 0 {
			return err
		}
		v.Line = layoutLines(aggregate(m, label, true, 0), e.start, e.end, unit, "")
		return nil
	}
}

func tokensPerRequest(ctx context.Context, e *env, v *panelView) error {
	tok, q1, err := e.signalRange(ctx, "generation_tokens_per_second", 0)
	v.Queries = append(v.Queries, q1)
	if err != nil {
		return err
	}
	run, q2, err := e.signalRange(ctx, "requests_running", 0)
	v.Queries = append(v.Queries, q2)
	if err != nil {
		return err
	}
	if r := ratio(tok, run); len(r) > 0 {
		ss, note := drawable(r)
		if note != "" {
			v.Help = strings.TrimPrefix(v.Help+"; "+note, "; ")
		}
		v.Line = layoutLines(ss, e.start, e.end, "tokens/s", "")
	}
	return nil
}

func busyVsWaiting(ctx context.Context, e *env, v *panelView) error {
	busy, q1, err := e.signalRange(ctx, "gpu_busy_ratio", 0)
	v.Queries = append(v.Queries, q1)
	if err != nil {
		return err
	}
	wait, q2, err := e.signalRange(ctx, "requests_waiting", 0)
	v.Queries = append(v.Queries, q2)
	if err != nil {
		return err
	}
	ss := append(aggregate(busy, "mean GPU busy", true, 0), aggregate(wait, "requests waiting", false, 1)...)
	if len(ss) > 0 {
		v.Line = layoutLines(ss, e.start, e.end, "ratio", "requests")
	}
	return nil
}

func busyDistribution(ctx context.Context, e *env, v *panelView) error {
	busy, pq, err := e.signalMean(ctx, "gpu_busy_ratio")
	v.Queries = append(v.Queries, pq)
	if err != nil || len(busy) == 0 {
		return err
	}
	counts := make([]float64, 10)
	labels := make([]string, 10)
	for i := range labels {
		labels[i] = strconv.Itoa(i*10) + "–" + strconv.Itoa(i*10+10) + "%"
	}
	// One entry per physical GPU: the slices of a MIG-split card are
	// averaged, so the bars add up to the physical GPUs.
	type card struct{ sum, n float64 }
	cards := map[string]*card{}
	var order []string
	for _, s := range busy {
		k := string(s.Metric["hostname"]) + "\xff" + string(s.Metric["uuid"])
		c := cards[k]
		if c == nil {
			c = &card{}
			cards[k] = c
			order = append(order, k)
		}
		c.sum += clamp01(float64(s.Value))
		c.n++
	}
	for _, k := range order {
		c := cards[k]
		counts[min(int(c.sum/c.n*10), 9)]++
	}
	v.Bars = layoutBars(labels, counts, "GPUs")
	v.Help = fmt.Sprintf("%d physical GPUs by mean engine activity over the range (a MIG-split GPU by the mean of its slices)", len(order))
	return nil
}

func quadrant(ctx context.Context, e *env, v *panelView) error {
	busy, q1, err := e.signalMean(ctx, "gpu_busy_ratio")
	v.Queries = append(v.Queries, q1)
	if err != nil {
		return err
	}
	bw, q2, err := e.signalMean(ctx, "gpu_memory_bandwidth_ratio")
	v.Queries = append(v.Queries, q2)
	if err != nil {
		return err
	}
	at := map[string]float64{}
	for _, s := range bw {
		at[gpuKey(s.Metric)] = float64(s.Value)
	}
	var pts []xy
	for _, s := range busy {
		if y, ok := at[gpuKey(s.Metric)]; ok {
			n := name(s.Metric)
			if p := e.gpuPod(ctx, s.Metric); p != "" {
				n += " " + p
			}
			pts = append(pts, xy{Name: n, X: float64(s.Value), Y: y})
		}
	}
	if len(pts) > 0 {
		slices.SortFunc(pts, func(a, b xy) int { return cmp.Compare(a.Name, b.Name) }) // the engine's order varies
		v.Scatter = layoutScatter(pts, e.h.opts.Regions)
	}
	return nil
}

func xids(ctx context.Context, e *env, v *panelView) error {
	pq, err := e.signalQuery("gpu_last_xid", 0)
	if err != nil {
		return err
	}
	v.Queries = append(v.Queries, pq)
	vec, err := e.instantOf(ctx, pq)
	if err != nil {
		return fmt.Errorf("signal gpu_last_xid: %w", err)
	}
	t := &table{Head: []string{"GPU", "pod", "last XID"}}
	seen := false
	for _, s := range vec {
		if !e.selected(ctx, s.Metric) {
			continue
		}
		seen = true
		if s.Value != 0 {
			t.Rows = append(t.Rows, []string{name(s.Metric), e.gpuPod(ctx, s.Metric), strconv.FormatFloat(float64(s.Value), 'f', -1, 64)})
		}
	}
	if seen {
		if len(t.Rows) == 0 {
			t.Rows = [][]string{{"every GPU", "", "0 (none)"}}
		}
		v.Table = t
	}
	return nil
}

func teamGPUs(ctx context.Context, e *env, v *panelView) error {
	// reserved is the Kueue nominal quota (the glossary's word); Kueue's
	// own "quota reservation" is called admitted here.
	t := &table{Head: []string{"team", "reserved GPU-equivalents", "admitted GPU-equivalents", "allocated GPU-equivalents", "busy"}}
	cols := []string{"team_nominal_quota_gpus", "team_reserved_gpus", "team_used_gpus", "team_gpu_busy_ratio"}
	rows := map[string][]string{}
	for i, sig := range cols {
		vec, pq, err := e.signalMean(ctx, sig)
		v.Queries = append(v.Queries, pq)
		if err != nil {
			return err
		}
		for _, s := range vec {
			team := string(s.Metric["team"])
			if rows[team] == nil {
				rows[team] = make([]string, len(cols))
			}
			unit := "gpus"
			if sig == "team_gpu_busy_ratio" {
				unit = "ratio"
			}
			rows[team][i] = formatValue(float64(s.Value), unit)
		}
	}
	if len(rows) == 0 {
		return nil
	}
	teams := make([]string, 0, len(rows))
	for k := range rows {
		teams = append(teams, k)
	}
	slices.Sort(teams)
	for _, k := range teams {
		t.Rows = append(t.Rows, append([]string{k}, rows[k]...))
	}
	v.Table = t
	return nil
}

func teamCosts(ctx context.Context, e *env, v *panelView) error {
	if e.h.opts.Costs == nil {
		return fmt.Errorf("cost attribution: %w", errUnavailable)
	}
	at, window := e.diagnosis(ctx, v)
	cs, err := e.h.opts.Costs.TeamCosts(ctx, at, window)
	if err != nil {
		return fmt.Errorf("cost attribution: %w", err)
	}
	if len(cs) == 0 {
		return nil
	}
	t := &table{Head: []string{"team", "reserved GPU-h", "allocated GPU-h", "used GPU-h", "unused GPU-h", "idle GPU-h", "allocated money", "unused money", "idle money", "energy kWh"}}
	emissions := slices.ContainsFunc(cs, func(c TeamCost) bool { return c.EmissionsKgCO2e > 0 })
	if emissions {
		t.Head = append(t.Head, "emissions kg CO2e")
	}
	gh := func(x float64) string { return strconv.FormatFloat(math.Round(x*10)/10, 'f', -1, 64) }
	or := func(s string) string {
		if s == "" {
			return "unpriced"
		}
		return s
	}
	for _, c := range cs {
		row := []string{c.Team, gh(c.Reserved), gh(c.Allocated), gh(c.Used), gh(c.Unused), gh(c.Idle), or(c.Cost), or(c.UnusedCost), or(c.IdleCost), gh(c.EnergyKWh)}
		if emissions {
			row = append(row, gh(c.EmissionsKgCO2e))
		}
		t.Rows = append(t.Rows, row)
	}
	v.Table = t
	return nil
}

// fleetPanel is the fleet model as a table (fleetTable), on the dashboard.
func fleetPanel(ctx context.Context, e *env, v *panelView) error {
	if e.h.opts.Fleet == nil {
		return fmt.Errorf("fleet model: %w", errUnavailable)
	}
	at, window := e.diagnosis(ctx, v)
	f, err := e.h.opts.Fleet.Fleet(ctx, at, window)
	if err != nil {
		return fmt.Errorf("fleet model: %w", err)
	}
	if f != nil && f.Model != nil {
		v.Table = fleetTable(f)
	}
	return nil
}

// findings lists the diagnosis by impact as the Findings supplier orders
// it (severity, then GPU-hours at stake), healthy subjects hidden with a
// count in the panel's help; limit > 0 keeps the first ones.
func findings(limit int) func(context.Context, *env, *panelView) error {
	return func(ctx context.Context, e *env, v *panelView) error {
		if e.h.opts.Findings == nil {
			return fmt.Errorf("diagnosis: %w", errUnavailable)
		}
		at, window := e.diagnosis(ctx, v)
		fs, err := e.h.opts.Findings.Findings(ctx, at, window)
		if err != nil {
			return fmt.Errorf("diagnosis: %w", err)
		}
		shown, healthy := hideHealthy(fs)
		n := len(shown)
		if limit > 0 {
			shown = shown[:min(limit, len(shown))]
		}
		v.Findings = shown
		if v.Findings == nil {
			v.Findings = []Finding{}
		}
		help := fmt.Sprintf("by impact (severity, then GPU-hours at stake); %d healthy hidden", healthy)
		if len(shown) < n {
			help = fmt.Sprintf("top %d of %d findings ", len(shown), n) + help
		}
		v.Help = help
		return nil
	}
}

// asOfNote says when a kept diagnosis was evaluated (env.diagnosis).
func asOfNote(at time.Time) string {
	return "diagnosis as of " + at.UTC().Format("15:04:05") + " UTC (evaluated again each minute)"
}

// hideHealthy drops healthy findings and counts the subjects they stand
// for (a line's Count, at least 1).
func hideHealthy(fs []Finding) ([]Finding, int) {
	var out []Finding
	healthy := 0
	for _, f := range fs {
		if f.State == "healthy" {
			healthy += max(1, f.Count)
			continue
		}
		out = append(out, f)
	}
	return out, healthy
}

// firingAlerts lists the alerts the rule manager has firing: the ALERTS
// series Prometheus's rule manager writes (not a catalog signal).
func firingAlerts(ctx context.Context, e *env, v *panelView) error {
	const q = `ALERTS{alertstate="firing"}`
	v.Queries = append(v.Queries, q)
	vec, err := e.instantOf(ctx, q)
	if err != nil {
		return fmt.Errorf("firing alerts: %w", err)
	}
	t := &table{Head: []string{"alert", "subject", "severity"}}
	for _, s := range vec {
		t.Rows = append(t.Rows, []string{string(s.Metric["alertname"]), name(s.Metric), string(s.Metric["severity"])})
	}
	if len(t.Rows) == 0 {
		t.Rows = [][]string{{"none firing", "", ""}}
	}
	v.Table = t
	return nil
}

// queryView is the Query page's form and result.
type queryView struct {
	Expr  string
	Error string
	Line  *lineChart
	Table *table
	Empty bool
}

func (e *env) queryPage(ctx context.Context) *queryView {
	qv := &queryView{Expr: e.st.Q}
	if qv.Expr == "" {
		return qv
	}
	m, err := e.rangeOf(ctx, qv.Expr)
	if err != nil {
		qv.Error = err.Error()
		return qv
	}
	// Native histograms (the stored form of classic histograms) are not
	// charted: wrap them in histogram_quantile, histogram_count, ...
	m = slices.DeleteFunc(m, func(s *model.SampleStream) bool { return len(s.Values) == 0 })
	if len(m) == 0 {
		qv.Empty = true
		return qv
	}
	qv.Line = layoutLines(toSeries(m, 0), e.start, e.end, "", "")
	qv.Table = &table{Head: []string{"series", "last value"}}
	for _, s := range m {
		last := s.Values[len(s.Values)-1]
		qv.Table.Rows = append(qv.Table.Rows, []string{s.Metric.String(), strconv.FormatFloat(float64(last.Value), 'g', 6, 64)})
	}
	return qv
}
