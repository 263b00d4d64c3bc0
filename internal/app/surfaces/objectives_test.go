package surfaces

import (
	"bytes"
	"math"
	"net/url"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/model"

	"github.com/servescope/servescope/internal/analyze/diagnose"
	"github.com/servescope/servescope/internal/analyze/slo"
	"github.com/servescope/servescope/internal/app"
	"github.com/servescope/servescope/internal/present/web"
	"github.com/servescope/servescope/internal/testutil/proc"
)

// The ttft-regression history: the 2× spike starts 20 simulated minutes
// in (the warm-up's 15 and the history's first 5) and lasts 3; the history
// ends 2 minutes after it, while the fast burn pages.
const (
	sloWarmup  = 15 * time.Minute
	sloHistory = 10 * time.Minute
	sloGPUs    = 8
)

// sloYML is the config `serve` runs with and the offline commands read:
// one objective, 99.9% of vLLM requests with TTFT ≤ 500 ms over 28 days.
const sloYML = `global: {scrape_interval: 30s, evaluation_interval: 1m}
servescope:
  slo_min_request_rate: 0.1
  objectives:
    - name: ttft-500ms
      model: "*"
      indicator: ttft
      threshold: 500ms
      target: 99.9%
      engine: vllm
`

// TestObjectivesAgree: on the ttft-regression scenario, each model's error
// budget remaining, slow ratio, burn rates and firing alerts are the same
// on every surface — the `diagnose` command (its statuses and its slo_burn
// finding's evidence), /api/v1/diagnoses, the dashboard's objectives panel
// on the model's page and the report's — because they all call
// slo.Evaluate; and the burn rates over 5m, 30m and 1h equal the
// recording rules' that the backfill's rule manager evaluated from the
// same histograms (the 6h and 3d ratios and the budget are summed from the
// 5m series, so they agree only to within the sampling).
func TestObjectivesAgree(t *testing.T) {
	if testing.Short() {
		t.Skip("simulates 25 minutes of an 8-GPU fleet, 10 of them written")
	}
	t.Parallel()
	s := serveScenario(t, "ttft-regression", sloGPUs, sloHistory, sloWarmup, time.Minute, false, sloYML)
	ctx := t.Context()
	at := s.end
	const window = sloHistory
	if len(s.settings.Objectives.Objectives) != 1 {
		t.Fatalf("settings: objectives %+v", s.settings.Objectives)
	}
	o := s.settings.Objectives.Objectives[0]

	// The one computation, through the `diagnose` command.
	rep, err := app.Diagnose(ctx, app.DiagnoseOptions{Server: s.url, Since: window, At: at, Cost: s.settings.Cost(), Thresholds: s.settings.Thresholds,
		Objectives: s.settings.Objectives})
	if err != nil {
		t.Fatal(err)
	}
	ref := rep.Objectives
	if len(ref) != 1 || ref[0].Model == "" {
		t.Fatalf("diagnose: objectives %+v, want one model's", ref)
	}
	st := ref[0]
	t.Logf("diagnose: %+v", st)
	if len(st.Firing) == 0 || st.BudgetRemaining >= 1 {
		t.Fatalf("diagnose: %s: nothing burns at the end of the spike (%+v)", st.Model, st)
	}

	// /api/v1/diagnoses: the statuses themselves, and the same findings.
	v := url.Values{"time": {at.Format(time.RFC3339)}, "since": {model.Duration(window).String()}}.Encode()
	var dg struct {
		Objectives []slo.Status       `json:"objectives"`
		Findings   []diagnose.Finding `json:"findings"`
	}
	proc.GetAPI(t, s.url+"/api/v1/diagnoses?"+v, &dg)
	if !reflect.DeepEqual(dg.Objectives, ref) {
		t.Errorf("/api/v1/diagnoses: objectives\n%+v\nthe diagnosis says\n%+v", dg.Objectives, ref)
	}
	checkBurnFinding(t, "diagnose", rep.Findings, st)
	checkBurnFinding(t, "/api/v1/diagnoses", dg.Findings, st)

	// The dashboard's objectives panel on the model's Serving page, and
	// the report's panel (every model).
	page := getPage(t, s.url+"/serving?"+url.Values{"range": {model.Duration(window).String()}, "end": {at.Format(time.RFC3339)}, "model": {st.Model}}.Encode())
	dash := byHead(htmlTable(t, page, "objectives"))
	if len(dash) != 1 {
		t.Fatalf("dashboard: %d objective rows, want 1: %v", len(dash), dash)
	}
	checkObjectiveRow(t, "dashboard", dash[0], st)
	var rb bytes.Buffer
	if err := app.WriteReport(ctx, &rb, app.ReportOptions{Server: s.url, Window: window, At: at, Format: web.FormatMarkdown, Cost: s.settings.Cost(),
		Objectives: s.settings.Objectives}); err != nil {
		t.Fatal(err)
	}
	rows := byHead(mdTable(t, rb.String(), "Latency objectives: error budget and burn rate"))
	if len(rows) != 1 || rows[0]["model"] != st.Model {
		t.Fatalf("report: objective rows %v, want %s's", rows, st.Model)
	}
	checkObjectiveRow(t, "report", rows[0], st)

	// The recording rules, as the backfill's rule manager evaluated them at
	// the end (a whole minute, on the rules' grid).
	recorded := func(name string) float64 {
		t.Helper()
		res, err := s.q.Query(ctx, name+`{slo="`+o.Name+`",model_name="`+st.Model+`"}`, at)
		if err != nil {
			t.Fatal(err)
		}
		vec, _ := res.Value.(model.Vector)
		if len(vec) != 1 {
			t.Fatalf("%s at %s: %d series, want 1", name, at.Format(time.RFC3339), len(vec))
		}
		return float64(vec[0].Value)
	}
	for _, w := range st.Windows {
		rule := recorded(slo.RatioName(w.Window)) / o.Budget()
		t.Logf("burn %s: evaluated %.4f, recorded %.4f", slo.WindowName(w.Window), w.Burn, rule)
		// The rules read 5m, 30m and 1h from the histograms, as Evaluate
		// does; 6h and 3d (and the budget) sum the recorded 5m series, a
		// mean of overlapping 5m ratios that weighs the history's ends
		// less: no surface shows those, the medium and slow alerts read
		// them.
		if w.Window <= slo.GateWindow && math.Abs(rule-w.Burn) > 1e-9*max(1, w.Burn) {
			t.Errorf("burn %s: the surfaces %.6f, the recording rule %.6f", slo.WindowName(w.Window), w.Burn, rule)
		}
	}
	t.Logf("budget remaining: evaluated %.4f, recorded %.4f", st.BudgetRemaining, recorded(slo.BudgetName))
	// The alerts column and the slo_burn finding name the alerts the rule
	// manager fired at the end (the rules have no for: clause), which the
	// dashboard's firing alerts panel reads.
	res, err := s.q.Query(ctx, `ALERTS{alertstate="firing",slo="`+o.Name+`",model_name="`+st.Model+`"}`, at)
	if err != nil {
		t.Fatal(err)
	}
	var fired, firing []string
	for _, smp := range res.Value.(model.Vector) {
		fired = append(fired, string(smp.Metric["alertname"]))
	}
	for _, b := range st.Firing {
		firing = append(firing, b.Alert)
	}
	slices.Sort(fired)
	slices.Sort(firing)
	if !slices.Equal(fired, firing) {
		t.Errorf("the rule manager fires %v, the surfaces say %v", fired, firing)
	}
	fleetPage := getPage(t, s.url+"/?"+url.Values{"range": {model.Duration(window).String()}, "end": {at.Format(time.RFC3339)}}.Encode())
	var shown []string
	for _, r := range byHead(htmlTable(t, fleetPage, "alerts")) {
		if strings.HasPrefix(r["alert"], "LatencyBudget") {
			shown = append(shown, r["alert"])
		}
	}
	slices.Sort(shown)
	if !slices.Equal(shown, firing) {
		t.Errorf("dashboard: firing alerts %v, the objectives panel says %v", shown, firing)
	}
}

// checkBurnFinding finds the slo_burn finding of st's model and compares
// its evidence with the status.
func checkBurnFinding(t *testing.T, surface string, fs []diagnose.Finding, st slo.Status) {
	t.Helper()
	var f *diagnose.Finding
	for i := range fs {
		if fs[i].State == diagnose.StateSLOBurn && fs[i].Subject.Model == st.Model {
			f = &fs[i]
		}
	}
	if f == nil {
		t.Errorf("%s: no slo_burn finding for %s", surface, st.Model)
		return
	}
	b := st.Firing[0]
	long, _ := st.Burn(b.Long)
	short, _ := st.Burn(b.Short)
	want := map[string]float64{
		"slo_burn_rate:" + slo.WindowName(b.Long):                long,
		"slo_burn_rate:" + slo.WindowName(b.Short):               short,
		"slo_error_ratio:" + slo.WindowName(st.Objective.Window): st.ErrorRatio,
		"slo_error_budget_remaining":                             st.BudgetRemaining,
	}
	for _, e := range f.Evidence {
		w, ok := want[e.Signal]
		if !ok {
			continue
		}
		delete(want, e.Signal)
		// Evidence is rounded to 4 decimals.
		if e.NotReported || math.Abs(e.Value-w) > 5e-5 {
			t.Errorf("%s: slo_burn evidence %s = %g, the status %g", surface, e.Signal, e.Value, w)
		}
	}
	if len(want) > 0 {
		t.Errorf("%s: slo_burn finding lacks evidence %v", surface, want)
	}
}

// checkObjectiveRow compares one objectives panel row with a status, to
// the printed precision: percentages to 0.1, burn rates to 0.1, requests/s
// to 0.01.
func checkObjectiveRow(t *testing.T, surface string, r map[string]string, st slo.Status) {
	t.Helper()
	name := surface + " " + st.Model
	parse := func(what, cell, suffix string) float64 {
		t.Helper()
		x, err := strconv.ParseFloat(strings.TrimSuffix(cell, suffix), 64)
		if err != nil || !strings.HasSuffix(cell, suffix) {
			t.Errorf("%s %s: %q: %v", name, what, cell, err)
		}
		return x
	}
	if r["objective"] != st.Objective.Name {
		t.Errorf("%s: objective %q, want %q", name, r["objective"], st.Objective.Name)
	}
	closeTo(t, name+" budget left", parse("budget left", r["budget left"], "%")/100, st.BudgetRemaining, 0.0005)
	closeTo(t, name+" slow ratio", parse("slow ratio", r["slow ratio"], "%")/100, st.ErrorRatio, 0.0005)
	for _, w := range []time.Duration{5 * time.Minute, time.Hour, 6 * time.Hour, 3 * 24 * time.Hour} {
		col := "burn " + slo.WindowName(w)
		b, ok := st.Burn(w)
		if !ok {
			if r[col] != "not reported" {
				t.Errorf("%s %s: %q, the status: not reported", name, col, r[col])
			}
			continue
		}
		closeTo(t, name+" "+col, parse(col, r[col], "×"), b, 0.05)
	}
	closeTo(t, name+" requests/s", parse("requests/s", r["requests/s (1h)"], ""), st.Requests, 0.005)
	var firing []string
	for _, b := range st.Firing {
		firing = append(firing, b.Severity+" ("+slo.WindowName(b.Long)+"/"+slo.WindowName(b.Short)+")")
	}
	if r["alerts"] != strings.Join(firing, ", ") {
		t.Errorf("%s alerts: %q, the status %q", name, r["alerts"], strings.Join(firing, ", "))
	}
}

func closeTo(t *testing.T, what string, got, want, tol float64) {
	t.Helper()
	if math.Abs(got-want) > tol+1e-12 {
		t.Errorf("%s: %g, the status %g", what, got, want)
	}
}
