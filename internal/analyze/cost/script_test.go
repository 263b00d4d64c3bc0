package cost_test

import (
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/servescope/servescope/internal/analyze/cost"
	"github.com/servescope/servescope/internal/analyze/query"
	"github.com/servescope/servescope/internal/schema"
	"github.com/servescope/servescope/internal/testutil/script"
)

// testPrices prices H100 by model name and the MIG A100 flavor; L4 has no
// price on purpose.
const testPrices = `currency: USD
gpus:
  - gpu: H100
    model_name: NVIDIA H100 80GB HBM3
    hourly: "3.00"
  - flavor: a100-mig
    hourly: "1.75"
`

// TestScripts runs testdata/*.test: promqltest `load` blocks, then one
// `cost <start> <end> [by=…] [shareIdle] [step=…] [split=…] [cluster=…] [lentIdle]` line per
// report (times are offsets from the epoch, as in promqltest). The reports
// are compared with testdata/<name>.golden.json; -update rewrites them.
func TestScripts(t *testing.T) {
	t.Parallel()
	calc := newCalc(t, map[string]string{"ml-cq": "ml"})
	// lentIdle: the config switch that keeps lent quota in the lender's
	// idle quota.
	lentIdle := newCalcWith(t, cost.Options{QueueTeams: map[string]string{"ml-cq": "ml"}, LentQuotaIsIdle: true})
	script.Run(t, filepath.Join("testdata", "*.test"), map[string]script.Verb{
		"cost": func(t *testing.T, q query.Querier, s *script.Script, c *script.Command) any {
			if len(c.Body) > 0 {
				t.Fatalf("%s: a cost line takes no lines under it", c.Where(s))
			}
			cl := calc
			if slices.Contains(strings.Fields(c.Text), "lentIdle") {
				cl = lentIdle
			}
			rep, err := cl.Compute(t.Context(), q, parseCmd(t, c.Text))
			if err != nil {
				t.Fatalf("%s: %v", c.Where(s), err)
			}
			return rep
		},
	})
}

func newCalc(t testing.TB, queueTeams map[string]string) *cost.Calculator {
	t.Helper()
	return newCalcWith(t, cost.Options{QueueTeams: queueTeams})
}

// defaultCatalog is the catalog with default options, built once for the
// package's tests: it is read-only once built, and building it parses every
// query (about a second under the race detector).
var defaultCatalog = sync.OnceValues(func() (*schema.Catalog, error) { return schema.New(schema.Options{}) })

// newCalcWith is newCalc with options (the catalog and the test prices
// set here).
func newCalcWith(t testing.TB, o cost.Options) *cost.Calculator {
	t.Helper()
	cat, err := defaultCatalog()
	if err != nil {
		t.Fatal(err)
	}
	pb, err := cost.ParsePriceBook("prices.yml", []byte(testPrices))
	if err != nil {
		t.Fatal(err)
	}
	o.Catalog, o.Prices = cat, pb
	calc, err := cost.New(o)
	if err != nil {
		t.Fatal(err)
	}
	return calc
}

// loadScript reads a script and returns an engine over its loaded series
// and its cost lines.
func loadScript(t *testing.T, path string) (*query.Engine, []string) {
	t.Helper()
	s, err := script.Parse(path, "cost")
	if err != nil {
		t.Fatal(err)
	}
	var cmds []string
	for _, c := range s.Commands {
		cmds = append(cmds, c.Text)
	}
	return script.Engine(t, s), cmds
}

func parseCmd(t *testing.T, c string) cost.Request {
	t.Helper()
	f := strings.Fields(c)
	if len(f) < 3 {
		t.Fatalf("%q: want cost <start> <end> [options]", c)
	}
	at := func(s string) time.Time {
		d, err := time.ParseDuration(s)
		if err != nil {
			t.Fatalf("%q: %v", c, err)
		}
		return time.Unix(0, 0).UTC().Add(d)
	}
	req := cost.Request{Start: at(f[1]), End: at(f[2]), Step: time.Minute}
	for _, o := range f[3:] {
		k, v, _ := strings.Cut(o, "=")
		var err error
		switch k {
		case "by":
			req.By, err = cost.ParseAggregate(v)
		case "shareIdle":
			req.ShareIdle = true
		case "step":
			req.Step, err = time.ParseDuration(v)
		case "split":
			req.Split, err = time.ParseDuration(v)
		case "cluster":
			req.Cluster = v
		case "lentIdle":
			// A calculator option (Options.LentQuotaIsIdle): TestScripts
			// picks the calculator by it.
		default:
			t.Fatalf("%q: unknown option %q", c, o)
		}
		if err != nil {
			t.Fatalf("%q: %v", c, err)
		}
	}
	return req
}

// TestAttribution checks the script's key numbers explicitly, so the golden
// file is not the only record of what is right.
func TestAttribution(t *testing.T) {
	t.Parallel()
	eng, _ := loadScript(t, filepath.Join("testdata", "attribution.test"))
	calc := newCalc(t, map[string]string{"ml-cq": "ml"})
	rep, err := calc.Compute(t.Context(), eng, cost.Request{Start: time.Unix(0, 0), End: time.Unix(3600, 0), Step: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	set := rep.Sets[0]
	got := map[string]cost.Allocation{}
	for _, a := range set.Allocations {
		got[a.Name] = a
	}
	tests := []struct {
		name            string
		team            string
		allocated, used float64
		cost            cost.Micros
		unpriced        string
	}{
		// 2 GPUs for 30 minutes as red (the stale marker ends it at 30m) …
		{"relabelled pod, before", "red", 1, 0.375, 3_000_000, ""},
		// … and for 30 minutes as blue: no minute counted twice or lost.
		{"relabelled pod, after", "blue", 1, 0.375, 3_000_000, ""},
		// Job j is Running for 20 minutes, then Succeeded: not billed while
		// it lingers. MIG pod m holds 2/7 of an A100 all hour.
		{"namespace label; Succeeded not billed; MIG", "search", 20.0/60 + 2.0/7, 20.0/60*1 + 2.0/7*0.7, 1_000_000 + 500_000, ""},
		{"ClusterQueue mapping from config; unpriced", "ml", 1, 0, 0, "flavor=l4,model=NVIDIA-L4"},
		{"unknown team", cost.Unattributed, 1, 0, 3_000_000, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a, ok := got[tc.team]
			if !ok {
				t.Fatalf("no allocation for %q in %v", tc.team, set.Allocations)
			}
			if !near(a.AllocatedGPUHours, tc.allocated) || !near(a.UsedGPUHours, tc.used) {
				t.Errorf("allocated %.6f used %.6f, want %.6f and %.6f", a.AllocatedGPUHours, a.UsedGPUHours, tc.allocated, tc.used)
			}
			if a.Cost != tc.cost {
				t.Errorf("cost %s, want %s", a.Cost, tc.cost)
			}
			if tc.unpriced != "" && (len(a.Unpriced) != 1 || a.Unpriced[0] != tc.unpriced || !near(a.UnpricedGPUHours, tc.allocated)) {
				t.Errorf("unpriced %v (%.3f h), want [%s]", a.Unpriced, a.UnpricedGPUHours, tc.unpriced)
			}
		})
	}
}

func near(a, b float64) bool { d := a - b; return d < 1e-9 && d > -1e-9 }
