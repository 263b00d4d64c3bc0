// Package surfaces holds tests only: the cross-surface consistency test of
// issue 13. One simulated fleet with MIG, three engine kinds and Kueue is
// scraped into a store; every surface (summary, `report utilisation` /
// `diagnose`, `cost`, /api/v1/costs, /api/v1/diagnoses, the fleet report)
// is read through the HTTP API as a user would, and their GPU counts,
// busy, tokens/s, GPU-hours and money must equal each other and the
// simulator's truth. A surface that computed its own figure would differ.
package surfaces

import (
	"bytes"
	"errors"
	"math"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/model/value"
	"github.com/prometheus/prometheus/storage"
	"github.com/prometheus/prometheus/util/teststorage"

	"github.com/servescope/servescope/internal/analyze/cost"
	"github.com/servescope/servescope/internal/analyze/diagnose"
	"github.com/servescope/servescope/internal/analyze/fleet"
	"github.com/servescope/servescope/internal/analyze/query"
	"github.com/servescope/servescope/internal/app"
	"github.com/servescope/servescope/internal/present/api"
	"github.com/servescope/servescope/internal/present/cli"
	"github.com/servescope/servescope/internal/present/web"
	"github.com/servescope/servescope/internal/sim"
	"github.com/servescope/servescope/internal/testutil/expo"
	"github.com/servescope/servescope/internal/testutil/proc"
)

// scrapeEvery is the simulated scrape interval.
const scrapeEvery = 30 * time.Second

// Tolerances against the simulator's truth: GPU-hours allocated and
// capacity are exact up to the scrape grid; used hours sample a busy
// ratio that changes every simulated second, so they get more; energy is
// read from the exporters' energy counters at the window's two ends, 1% as
// in cost's energy simcheck.
const (
	tolHours  = 0.005
	tolUsed   = 0.03
	tolEnergy = 0.01
)

// The surfaces must agree with each other to rounding: money to a cent,
// hours to the printed decimals.
const (
	tolCents = 0.011
)

// simulated is the span simulated; the window checked is its last part
// (the first 5 minutes let Kueue admit and the rate windows fill). 20
// minutes check as much as 30 did: every figure is compared, the used
// hours land within 0.1% of the truth either way. 5 minutes of warm-up
// check as much as 10 did: allocated, idle and energy equal the truth as
// before, the used hours land within 0.2% of it (tolerance 3%).
const (
	simulated = 25 * time.Minute
	window    = 20 * time.Minute
)

type fixture struct {
	url           string
	prices        string
	start, end    time.Time
	truth0, truth sim.Truth
	eng           *query.Engine
}

// simulate runs the mixed scenario (64 physical GPUs, 8 A100s split into
// 2 × 3g.40gb, vLLM, SGLang and llama.cpp, Kueue) and serves the store
// through the HTTP API.
func simulate(t *testing.T) *fixture {
	t.Helper()
	return simulateScenario(t, "mixed.yml")
}

// simulateScenario is simulate for a shipped scenario file, at its gpus.
func simulateScenario(t *testing.T, file string) *fixture {
	t.Helper()
	sc, err := sim.LoadScenario(filepath.Join("..", "..", "..", "examples", "scenarios", file))
	if err != nil {
		t.Fatal(err)
	}
	start := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	end := start.Add(simulated)
	c, err := sim.NewCluster(sim.Options{Scenario: sc, Seed: 7, Start: start, TruthRetention: simulated + time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	st := teststorage.New(t)
	last := map[string]map[uint64]labels.Labels{}
	// refs are the store's references of the series appended, so the
	// next scrapes append to them without looking the labels up again.
	refs := map[uint64]storage.SeriesRef{}
	f := &fixture{start: end.Add(-window), end: end}
	for ts := start; !ts.After(end); ts = ts.Add(scrapeEvery) {
		c.Step(ts)
		if ts.Equal(f.start) {
			f.truth0 = c.Truth()
		}
		a := st.Appender(t.Context())
		for _, tg := range c.Targets() {
			b, err := c.RenderBytes(tg.Path)
			if errors.Is(err, sim.ErrTargetDown) {
				continue
			}
			if err != nil {
				t.Fatalf("render %s: %v", tg.Path, err)
			}
			target := labels.NewBuilder(labels.FromMap(tg.Labels)).Set("job", tg.Job).Labels()
			now := map[uint64]labels.Labels{}
			for _, smp := range expo.Scrape(t, b, target, tg.HonorLabels) {
				ls := smp.Labels
				h := ls.Hash()
				now[h] = ls
				ref, err := a.Append(refs[h], ls, ts.UnixMilli(), smp.Value)
				if err != nil {
					t.Fatalf("append: %v", err)
				}
				refs[h] = ref
			}
			for k, ls := range last[tg.Path] {
				if _, ok := now[k]; !ok {
					if _, err := a.Append(refs[k], ls, ts.UnixMilli(), math.Float64frombits(value.StaleNaN)); err != nil {
						t.Fatal(err)
					}
				}
			}
			last[tg.Path] = now
		}
		if err := a.Commit(); err != nil {
			t.Fatal(err)
		}
	}
	f.truth = c.Truth()
	f.eng = query.NewEngine(st, query.EngineOptions{Registerer: prometheus.NewRegistry(), Timeout: time.Minute, MaxSamples: 50_000_000})
	srv := api.New(api.Options{Querier: f.eng})
	calc, err := app.NewCostCalculator(app.CostOptions{PriceBook: filepath.Join("..", "..", "..", "examples", "scenarios", "prices.yml")})
	if err != nil {
		t.Fatal(err)
	}
	srv.Handle("/api/v1/costs", srv.Costs(calc))
	d, err := app.NewDiagnoser(f.eng, false, app.CostOptions{PriceBook: filepath.Join("..", "..", "..", "examples", "scenarios", "prices.yml")}, diagnose.Thresholds{})
	if err != nil {
		t.Fatal(err)
	}
	fc, _, err := app.NewFleetCalculator(app.CostOptions{PriceBook: filepath.Join("..", "..", "..", "examples", "scenarios", "prices.yml")}, false)
	if err != nil {
		t.Fatal(err)
	}
	srv.Handle("/api/v1/fleet", srv.Fleet(fc))
	srv.Handle("/api/v1/diagnoses", srv.Diagnoses(d))
	hs := httptest.NewServer(srv)
	t.Cleanup(hs.Close)
	f.url = hs.URL
	f.prices = filepath.Join("..", "..", "..", "examples", "scenarios", "prices.yml")
	return f
}

// figures are what one surface says about the window.
type figures struct {
	gpus, migGPUs, migSlices        int
	allocated, used, idle, capacity float64 // GPU-hours
	allocatedMoney, idleMoney       float64 // currency units
	busy, tokens                    float64
	energy                          float64 // kWh, every GPU's
}

func TestSurfacesAgree(t *testing.T) {
	if testing.Short() {
		t.Skip("simulates 25 minutes of a 64-GPU fleet")
	}
	t.Parallel()
	f := simulate(t)
	ctx := t.Context()
	remote, err := query.NewRemote(f.url)
	if err != nil {
		t.Fatal(err)
	}
	surfaces := map[string]figures{}

	// The fleet model itself, over the remote API.
	fc, _, err := app.NewFleetCalculator(app.CostOptions{PriceBook: f.prices}, false)
	if err != nil {
		t.Fatal(err)
	}
	m, err := fc.Compute(ctx, remote, f.start, f.end, 0)
	if err != nil {
		t.Fatal(err)
	}
	surfaces["fleet model"] = modelFigures(m)

	// `report utilisation` and `diagnose`: the diagnosis's fleet model.
	d, err := app.NewDiagnoser(remote, false, app.CostOptions{PriceBook: f.prices}, diagnose.Thresholds{})
	if err != nil {
		t.Fatal(err)
	}
	rep, err := d.Diagnose(ctx, f.end, window)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Utilisation.Fleet == nil {
		t.Fatal("the diagnosis has no fleet model")
	}
	u := modelFigures(rep.Utilisation.Fleet)
	u.busy = rep.Utilisation.MeanBusy
	surfaces["report utilisation"] = u

	// /api/v1/diagnoses and /api/v1/fleet.
	surfaces["/api/v1/diagnoses"] = apiDiagnoses(t, f)
	surfaces["/api/v1/fleet"] = apiFleet(t, f)

	// `cost` (app.CostReport, as the command runs it) and /api/v1/costs.
	cr, err := app.CostReport(ctx, f.url, app.CostOptions{PriceBook: f.prices}, cost.Request{Start: f.start, End: f.end})
	if err != nil {
		t.Fatal(err)
	}
	surfaces["cost"] = costFigures(cr.Sets[0])
	surfaces["/api/v1/costs"] = apiCosts(t, f)

	// summary: its text, at the window's end over its own (shorter) window:
	// GPU counts and tokens/s are compared.
	var sb bytes.Buffer
	fc2, cat, err := app.NewFleetCalculator(app.CostOptions{}, false)
	if err != nil {
		t.Fatal(err)
	}
	if err := cli.Summary(ctx, &sb, cli.SummaryOptions{Querier: remote, Fleet: fc2, Catalog: cat}, f.end); err != nil {
		t.Fatal(err)
	}
	summary := summaryFigures(t, sb.String())

	// The fleet report (Markdown).
	var rb bytes.Buffer
	if err := app.WriteReport(ctx, &rb, app.ReportOptions{Server: f.url, Window: window, At: f.end, Format: web.FormatMarkdown,
		Cost: app.CostOptions{PriceBook: f.prices}}); err != nil {
		t.Fatal(err)
	}
	surfaces["fleet report"] = reportFigures(t, rb.String())

	// Cost per million tokens, per served model on each GPU model.
	checkTokenCosts(t, f, m, cr, rb.String())

	// Truth over the window.
	h := window.Hours()
	truth := figures{gpus: f.truth.GPUs, capacity: float64(f.truth.GPUs) * h,
		allocated: f.truth.Fleet.AllocatedGPUHours - f.truth0.Fleet.AllocatedGPUHours,
		used:      f.truth.Fleet.UsedGPUHours - f.truth0.Fleet.UsedGPUHours,
		energy:    f.truth.Fleet.EnergyKWh - f.truth0.Fleet.EnergyKWh}
	truth.idle = truth.capacity - truth.allocated
	t.Logf("truth: %+v", truth)
	for name, s := range surfaces {
		t.Logf("%s: %+v", name, s)
	}
	t.Logf("summary: %+v", summary)

	ref := surfaces["fleet model"]
	// Every surface says 64 physical GPUs, 8 of them split into 16 slices.
	for name, s := range surfaces {
		if s.gpus != 64 || s.gpus != truth.gpus {
			t.Errorf("%s: %d physical GPUs, truth %d, want 64", name, s.gpus, truth.gpus)
		}
		if s.migGPUs != 8 || s.migSlices != 16 {
			t.Errorf("%s: %d GPUs split into %d MIG slices, want 8 into 16", name, s.migGPUs, s.migSlices)
		}
	}
	if summary.gpus != 64 || summary.migGPUs != 8 || summary.migSlices != 16 {
		t.Errorf("summary: %d GPUs, %d split into %d MIG slices, want 64, 8, 16", summary.gpus, summary.migGPUs, summary.migSlices)
	}
	// Equal to each other: hours to the printed precision, money to a cent.
	for name, s := range surfaces {
		prec := 1e-6
		if name == "fleet report" {
			prec = 0.051 // printed with one decimal
		}
		near(t, name+" allocated GPU-hours", s.allocated, ref.allocated, prec)
		near(t, name+" idle GPU-hours", s.idle, ref.idle, prec)
		if s.used != 0 || name != "/api/v1/costs" {
			near(t, name+" used GPU-hours", s.used, ref.used, prec)
		}
		if s.capacity != 0 {
			near(t, name+" allocatable GPU-hours", s.capacity, ref.capacity, prec)
		}
		near(t, name+" allocated money", s.allocatedMoney, ref.allocatedMoney, tolCents)
		near(t, name+" idle money", s.idleMoney, ref.idleMoney, tolCents)
		if s.busy != 0 {
			near(t, name+" busy", s.busy, ref.busy, 0.0011)
		}
		if s.tokens != 0 {
			near(t, name+" tokens/s", s.tokens, ref.tokens, 1e-6*ref.tokens)
		}
		if name != "fleet report" { // the report shows energy per team, not the fleet's
			near(t, name+" energy kWh", s.energy, ref.energy, 1e-6*ref.energy)
		}
	}
	// Tokens/s: the summary and the fleet model read the catalog's
	// all-engine total; it equals Σ of the signal over every engine pod.
	all := instant(t, f.eng, `sum(`+catalogQuery(t, "generation_tokens_per_second")+`)`, f.end)
	if all <= 0 {
		t.Fatalf("catalog all-engine tokens/s = %g", all)
	}
	if math.Abs(summary.tokens-all) > 0.02*all || math.Abs(ref.tokens-all) > 0.02*all {
		t.Errorf("tokens/s: summary %g, fleet model %g, catalog all-engine total %g (2%%)", summary.tokens, ref.tokens, all)
	}
	// And the truth.
	rel(t, "allocated GPU-hours vs truth", ref.allocated, truth.allocated, tolHours)
	rel(t, "allocatable GPU-hours vs truth", ref.capacity, truth.capacity, tolHours)
	rel(t, "idle GPU-hours vs truth", ref.idle, truth.idle, tolHours*truth.capacity/truth.idle)
	rel(t, "used GPU-hours vs truth", ref.used, truth.used, tolUsed)
	rel(t, "busy vs truth", ref.busy, truth.used/truth.allocated, tolUsed)
	rel(t, "energy vs truth", ref.energy, truth.energy, tolEnergy)
	// allocated + idle = physical GPUs × hours within 0.5%.
	rel(t, "allocated + idle vs 64 GPUs × hours", ref.allocated+ref.idle, 64*h, 0.005)
}

func modelFigures(m *fleet.Model) figures {
	return figures{gpus: m.GPUs.PhysicalGPUs, migGPUs: m.GPUs.MIGGPUs, migSlices: m.GPUs.MIGSlices,
		allocated: m.Hours.Allocated, used: m.Hours.Used, idle: m.Hours.Idle, capacity: m.Hours.Allocatable,
		allocatedMoney: float64(m.Money.Allocated) / 1e6, idleMoney: float64(m.Money.Idle) / 1e6, busy: m.Busy,
		tokens: m.Serving.GenerationTokensPerSecond, energy: m.Energy.KWh}
}

func costFigures(s cost.Set) figures {
	return figures{gpus: s.Fleet.PhysicalGPUs, migGPUs: s.Fleet.MIGGPUs, migSlices: s.Fleet.MIGSlices,
		allocated: s.Totals.AllocatedGPUHours, used: s.Totals.UsedGPUHours, idle: s.Totals.IdleGPUHours,
		capacity: s.Fleet.AllocatableGPUHours, allocatedMoney: float64(s.Totals.Cost) / 1e6, idleMoney: float64(s.Totals.IdleCost) / 1e6,
		energy: s.Fleet.EnergyKWh}
}

// money parses a JSON decimal string.
func money(t *testing.T, s string) float64 {
	t.Helper()
	v, err := strconv.ParseFloat(s, 64)
	if err != nil {
		t.Fatalf("money %q: %v", s, err)
	}
	return v
}

func apiCosts(t *testing.T, f *fixture) figures {
	t.Helper()
	v := url.Values{"window": {f.start.Format(time.RFC3339) + "," + f.end.Format(time.RFC3339)}}
	var rep struct {
		Sets []struct {
			Fleet struct {
				PhysicalGPUs        int     `json:"physicalGpus"`
				MIGGPUs             int     `json:"migGpus"`
				MIGSlices           int     `json:"migSlices"`
				AllocatableGPUHours float64 `json:"allocatableGpuHours"`
				EnergyKWh           float64 `json:"energyKwh"`
			} `json:"fleet"`
			Totals struct {
				AllocatedGPUHours float64 `json:"allocatedGpuHours"`
				UsedGPUHours      float64 `json:"usedGpuHours"`
				IdleGPUHours      float64 `json:"idleGpuHours"`
				Cost              string  `json:"cost"`
				IdleCost          string  `json:"idleCost"`
			} `json:"totals"`
		} `json:"sets"`
	}
	proc.GetAPI(t, f.url+"/api/v1/costs?"+v.Encode(), &rep)
	s := rep.Sets[0]
	return figures{gpus: s.Fleet.PhysicalGPUs, migGPUs: s.Fleet.MIGGPUs, migSlices: s.Fleet.MIGSlices,
		allocated: s.Totals.AllocatedGPUHours, used: s.Totals.UsedGPUHours, idle: s.Totals.IdleGPUHours, capacity: s.Fleet.AllocatableGPUHours,
		allocatedMoney: money(t, s.Totals.Cost), idleMoney: money(t, s.Totals.IdleCost), energy: s.Fleet.EnergyKWh}
}

// fleetJSON is the fleet model as the API's JSON carries it.
type fleetJSON struct {
	GPUs    cost.ModelGPUs    `json:"gpus"`
	Hours   fleet.Quantities  `json:"gpuHours"`
	Money   map[string]string `json:"money"`
	Busy    float64           `json:"busy"`
	Energy  fleet.Energy      `json:"energy"`
	Serving struct {
		Tokens float64 `json:"generationTokensPerSecond"`
	} `json:"serving"`
}

func (m fleetJSON) figures(t *testing.T) figures {
	return figures{gpus: m.GPUs.PhysicalGPUs, migGPUs: m.GPUs.MIGGPUs, migSlices: m.GPUs.MIGSlices,
		allocated: m.Hours.Allocated, used: m.Hours.Used, idle: m.Hours.Idle, capacity: m.Hours.Allocatable,
		allocatedMoney: money(t, m.Money["allocated"]), idleMoney: money(t, m.Money["idle"]), busy: m.Busy, tokens: m.Serving.Tokens, energy: m.Energy.KWh}
}

// windowQuery is the API's time and since parameters of the window.
func windowQuery(f *fixture) string {
	return url.Values{"time": {f.end.Format(time.RFC3339)}, "since": {model.Duration(window).String()}}.Encode()
}

func apiDiagnoses(t *testing.T, f *fixture) figures {
	t.Helper()
	var raw struct {
		Utilisation struct {
			MeanBusy float64   `json:"mean_busy"`
			Fleet    fleetJSON `json:"fleet"`
		} `json:"utilisation"`
	}
	proc.GetAPI(t, f.url+"/api/v1/diagnoses?"+windowQuery(f), &raw)
	fig := raw.Utilisation.Fleet.figures(t)
	fig.busy = raw.Utilisation.MeanBusy
	return fig
}

func apiFleet(t *testing.T, f *fixture) figures {
	t.Helper()
	var m fleetJSON
	proc.GetAPI(t, f.url+"/api/v1/fleet?"+windowQuery(f), &m)
	return m.figures(t)
}

var gpusText = regexp.MustCompile(`(\d+) GPUs(?:, of which (\d+) split into (\d+) MIG slices)?`)

func parseGPUs(t *testing.T, s string) (int, int, int) {
	t.Helper()
	m := gpusText.FindStringSubmatch(s)
	if m == nil {
		t.Fatalf("no GPU count in %q", s)
	}
	n := func(x string) int { v, _ := strconv.Atoi(x); return v }
	return n(m[1]), n(m[2]), n(m[3])
}

func summaryFigures(t *testing.T, text string) figures {
	t.Helper()
	var f figures
	for _, line := range strings.Split(text, "\n") {
		k, v, ok := strings.Cut(strings.TrimSpace(line), "  ")
		if !ok {
			continue
		}
		v = strings.TrimSpace(v)
		switch k {
		case "physical GPUs":
			f.gpus, f.migGPUs, f.migSlices = parseGPUs(t, v)
		case "generation tokens/s":
			f.tokens, _ = strconv.ParseFloat(v, 64)
		}
	}
	return f
}

// reportFigures reads the Markdown report's fleet table.
func reportFigures(t *testing.T, md string) figures {
	t.Helper()
	var f figures
	cell := func(row string) []string {
		var out []string
		for _, c := range strings.Split(strings.Trim(row, "|"), "|") {
			out = append(out, strings.TrimSpace(c))
		}
		return out
	}
	num := func(s string) float64 {
		s, _, _ = strings.Cut(s, " ")
		v, err := strconv.ParseFloat(s, 64)
		if err != nil {
			t.Fatalf("report: %q: %v", s, err)
		}
		return v
	}
	for _, line := range strings.Split(md, "\n") {
		if !strings.HasPrefix(line, "| ") {
			continue
		}
		c := cell(line)
		switch c[0] {
		case "physical GPUs":
			f.gpus, f.migGPUs, f.migSlices = parseGPUs(t, c[1])
		case "allocatable":
			f.capacity = num(c[1])
		case "allocated":
			f.allocated, f.allocatedMoney = num(c[1]), num(c[2])
		case "used":
			f.used = num(c[1])
		case "idle":
			f.idle, f.idleMoney = num(c[1]), num(c[2])
		case "busy":
			f.busy = num(strings.TrimSuffix(c[1], "%")) / 100
		}
	}
	if f.gpus == 0 {
		t.Fatalf("report has no fleet table:\n%s", md)
	}
	return f
}

func catalogQuery(t *testing.T, signal string) string {
	t.Helper()
	_, cat, err := app.NewFleetCalculator(app.CostOptions{}, false)
	if err != nil {
		t.Fatal(err)
	}
	q, err := cat.Select(signal, false)
	if err != nil {
		t.Fatal(err)
	}
	return q
}

func instant(t *testing.T, eng *query.Engine, q string, at time.Time) float64 {
	t.Helper()
	res, err := eng.Query(t.Context(), q, at)
	if err != nil {
		t.Fatal(err)
	}
	v, ok := res.Value.(model.Vector)
	if !ok || len(v) == 0 {
		return 0
	}
	return float64(v[0].Value)
}

func near(t *testing.T, what string, got, want, tol float64) {
	t.Helper()
	if math.Abs(got-want) > tol {
		t.Errorf("%s: %.4f, the fleet model says %.4f", what, got, want)
	}
}

func rel(t *testing.T, what string, got, want, tol float64) {
	t.Helper()
	if want == 0 || math.Abs(got-want)/want > tol {
		t.Errorf("%s: %.4f, want %.4f within %.1f%%", what, got, want, tol*100)
	}
}
