package surfaces

import (
	"bytes"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/servescope/servescope/internal/analyze/cost"
	"github.com/servescope/servescope/internal/analyze/fleet"
	"github.com/servescope/servescope/internal/present/cli"
	"github.com/servescope/servescope/internal/testutil/proc"
)

// tolTokenTruth is the cost per million tokens' tolerance against the
// truth over the 20-minute window: the 5m token rates lag the counters by
// a few minutes at each end, which cost/simcheck's 6-hour run averages out
// to well under 1%.
const tolTokenTruth = 0.03

// checkTokenCosts compares the cost per million tokens of each served
// model on each GPU model on every surface: the fleet model (the one
// function), `cost` (its JSON report and its table), /api/v1/costs,
// /api/v1/fleet and the fleet report (whose panel the dashboard's Queues &
// teams page shares); and the fleet model's against the simulator's truth.
func checkTokenCosts(t *testing.T, f *fixture, m *fleet.Model, cr *cost.Report, reportMD string) {
	t.Helper()
	if m.TokenCost == nil || len(m.TokenCost.ByModelGPU) < 4 {
		t.Fatalf("fleet model: cost per million tokens of %v", m.TokenCost)
	}
	ref := perMillion(t, m.TokenCost.ByModelGPU)
	surfaces := map[string]map[string]float64{}
	if cr.Sets[0].TokenCost == nil {
		t.Fatal("cost: no cost per million tokens")
	}
	surfaces["cost JSON"] = perMillion(t, cr.Sets[0].TokenCost.ByModelGPU)

	var tb bytes.Buffer
	if err := cli.WriteCost(&tb, cr, cli.CostTable); err != nil {
		t.Fatal(err)
	}
	surfaces["cost table"] = tableColumn(t, tb.String(), "MODEL_ON_GPU", "PER_M_TOKENS")

	var api struct {
		Sets []struct {
			TokenCost struct {
				ByModelGPU []tokenJSON `json:"byModelGpu"`
			} `json:"tokenCost"`
		} `json:"sets"`
	}
	v := url.Values{"window": {f.start.Format(time.RFC3339) + "," + f.end.Format(time.RFC3339)}}
	proc.GetAPI(t, f.url+"/api/v1/costs?"+v.Encode(), &api)
	surfaces["/api/v1/costs"] = jsonPerMillion(t, api.Sets[0].TokenCost.ByModelGPU)

	var fm struct {
		TokenCost struct {
			ByModelGPU []tokenJSON `json:"byModelGpu"`
		} `json:"tokenCost"`
	}
	proc.GetAPI(t, f.url+"/api/v1/fleet?"+windowQuery(f), &fm)
	surfaces["/api/v1/fleet"] = jsonPerMillion(t, fm.TokenCost.ByModelGPU)

	surfaces["fleet report"] = reportTokenCosts(t, reportMD)

	for name, s := range surfaces {
		if len(s) != len(ref) {
			t.Errorf("%s: %d models on GPU models, the fleet model %d: %v", name, len(s), len(ref), s)
		}
		for k, want := range ref {
			got, ok := s[k]
			if !ok {
				t.Errorf("%s: no cost per million tokens for %s", name, k)
				continue
			}
			// JSON carries micros; the tables print four decimals.
			tol := 1e-6
			if strings.Contains(name, "table") || name == "fleet report" {
				tol = 0.00005 + 1e-9
			}
			near(t, name+" "+k+" cost per million tokens", got, want, tol)
		}
	}

	// The fleet model against the truth over the window.
	pb, err := cost.LoadPriceBook(f.prices)
	if err != nil {
		t.Fatal(err)
	}
	type acc struct{ money, tokens float64 }
	truth := map[string]*acc{}
	add := func(sign float64, t0 bool) {
		ms := f.truth.Models
		if t0 {
			ms = f.truth0.Models
		}
		for _, mt := range ms {
			name := mt.Model
			if mt.Engine == "llamacpp" {
				name = cost.Unattributed // llama.cpp exports no model_name
			}
			k := name + " / " + mt.GPUProduct
			if truth[k] == nil {
				truth[k] = &acc{}
			}
			hourly, ok := pb.Lookup(mt.Flavor, mt.GPUProduct)
			if !ok {
				t.Fatalf("no price for %s / %s", mt.Flavor, mt.GPUProduct)
			}
			truth[k].money += sign * mt.AllocatedGPUHours * float64(hourly) / 1e6
			truth[k].tokens += sign * mt.Tokens()
		}
	}
	add(1, false)
	add(-1, true)
	for k, got := range ref {
		a := truth[k]
		if a == nil || a.tokens <= 0 {
			t.Errorf("%s: not in the truth", k)
			continue
		}
		want := a.money / a.tokens * 1e6
		t.Logf("%s: %.4f per million tokens (truth %.4f)", k, got, want)
		rel(t, k+" cost per million tokens vs truth", got, want, tolTokenTruth)
	}
}

// tokenJSON is one row of cost per million tokens as the API's JSON
// carries it (money as decimal strings).
type tokenJSON struct {
	Name                 string `json:"name"`
	CostPerMillionTokens string `json:"costPerMillionTokens"`
}

func jsonPerMillion(t *testing.T, rows []tokenJSON) map[string]float64 {
	t.Helper()
	out := map[string]float64{}
	for _, r := range rows {
		if r.CostPerMillionTokens != "" {
			out[r.Name] = money(t, r.CostPerMillionTokens)
		}
	}
	return out
}

func perMillion(t *testing.T, rows []cost.TokenCost) map[string]float64 {
	t.Helper()
	out := map[string]float64{}
	for _, r := range rows {
		if r.CostPerMillionTokens != nil {
			out[r.Name] = float64(*r.CostPerMillionTokens) / 1e6
		}
	}
	return out
}

var columns = regexp.MustCompile(`\s{2,}`)

// tableColumn reads one column of the first table whose header starts
// with first, by its first column; "-" (not reported) is left out.
func tableColumn(t *testing.T, text, first, col string) map[string]float64 {
	t.Helper()
	out := map[string]float64{}
	idx := -1
	for _, line := range strings.Split(text, "\n") {
		cells := columns.Split(strings.TrimSpace(line), -1)
		if idx < 0 {
			if cells[0] == first {
				for i, c := range cells {
					if c == col {
						idx = i
					}
				}
			}
			continue
		}
		if len(cells) <= idx {
			break // the table ended
		}
		if cells[0] == "__total__" || cells[idx] == "-" {
			continue
		}
		v, err := strconv.ParseFloat(strings.TrimSuffix(cells[idx], " USD"), 64)
		if err != nil {
			t.Fatalf("table %s: %q: %v", first, cells[idx], err)
		}
		out[cells[0]] = v
	}
	if idx < 0 {
		t.Fatalf("no table %s with a column %s in\n%s", first, col, text)
	}
	return out
}

// reportTokenCosts reads the Markdown report's cost per million tokens
// table: model on GPU and per million tokens.
func reportTokenCosts(t *testing.T, md string) map[string]float64 {
	t.Helper()
	_, after, ok := strings.Cut(md, "### Cost per million tokens")
	if !ok {
		t.Fatalf("report has no cost per million tokens:\n%s", md)
	}
	out := map[string]float64{}
	col := -1
	for _, line := range strings.Split(after, "\n") {
		if strings.HasPrefix(line, "## ") || strings.HasPrefix(line, "### ") {
			break
		}
		if !strings.HasPrefix(line, "| ") {
			continue
		}
		var cells []string
		for _, c := range strings.Split(strings.Trim(line, "|"), " | ") {
			cells = append(cells, strings.ReplaceAll(strings.TrimSpace(c), `\`, ""))
		}
		if col < 0 {
			for i, c := range cells {
				if c == "per million tokens" {
					col = i
				}
			}
			continue
		}
		if cells[0] == "---" || cells[0] == "__total__" || cells[col] == "-" {
			continue
		}
		v, err := strconv.ParseFloat(strings.TrimSuffix(cells[col], " USD"), 64)
		if err != nil {
			t.Fatalf("report: %q: %v", cells[col], err)
		}
		out[cells[0]] = v
	}
	return out
}
