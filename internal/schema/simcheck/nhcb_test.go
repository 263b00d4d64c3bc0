package simcheck

import (
	"fmt"
	"math"
	"path/filepath"
	"sort"
	"testing"
	"time"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql"
	"github.com/prometheus/prometheus/storage"
	"github.com/prometheus/prometheus/util/teststorage"

	"github.com/servescope/servescope/internal/collect/parse"
	"github.com/servescope/servescope/internal/schema"
	"github.com/servescope/servescope/internal/schema/schematest"
	"github.com/servescope/servescope/internal/sim"
	"github.com/servescope/servescope/internal/testutil/expo"
)

// histStores are the three forms a store may hold the same scrapes in:
// classic histograms (a Prometheus without conversion), native histograms
// with custom buckets (servescope's default, convert_classic_histograms_to_nhcb),
// and both (always_scrape_classic_histograms beside the conversion).
type histStores struct {
	classic, nhcb, both *teststorage.TestStorage
}

// scrapeSimForms steps the cluster to ts and appends every target's
// exposition at ts into each store in its form.
func scrapeSimForms(t *testing.T, st histStores, c *sim.Cluster, ts time.Time) (histograms int) {
	t.Helper()
	apps := map[string]storage.AppenderV2{"classic": st.classic.AppenderV2(t.Context()), "nhcb": st.nhcb.AppenderV2(t.Context()), "both": st.both.AppenderV2(t.Context())}
	appendAll := func(app storage.AppenderV2, ss []expo.Sample) {
		for _, s := range ss {
			if _, err := app.Append(0, s.Labels, 0, ts.UnixMilli(), s.Value, s.H, s.FH, storage.AppendV2Options{}); err != nil {
				t.Fatalf("append %s: %v", s.Labels, err)
			}
		}
	}
	eachTarget(t, c, ts, func(b []byte, target labels.Labels, honor bool) {
		classic := expo.Scrape(t, b, target, honor)
		native := expo.ScrapeWith(t, b, target, honor, parse.Options{ConvertNHCB: true})
		appendAll(apps["classic"], classic)
		appendAll(apps["nhcb"], native)
		appendAll(apps["both"], classic)
		for _, s := range native {
			if s.H != nil || s.FH != nil {
				histograms++
				appendAll(apps["both"], []expo.Sample{s})
			}
		}
	})
	for name, app := range apps {
		if err := app.Commit(); err != nil {
			t.Fatalf("commit %s: %v", name, err)
		}
	}
	return histograms
}

// TestNHCBEqualsClassic scrapes the same simulated exposition into a store
// of classic histograms, one of native histograms with custom buckets and
// one holding both, and checks that every figure the catalog gives is the
// same whichever form is stored: each signal's query (the means over
// histogram _sum and _count included) and each histogram signal's
// quantiles, series by series within 1e-9. The scenarios cover vLLM
// (V1 and 0.10 names), SGLang, llama.cpp, the KV-transfer histograms of
// disaggregated serving, the gateways' and Kueue's admission histograms.
//
// The compared windows (5m) start after every series' first sample: over
// a window holding a series' start, rate extrapolates towards the start
// at most to where the counter would be zero, and that point is each
// classic bucket's own but the native histogram's count's for all its
// buckets (Prometheus's extrapolatedRate), so a new pod's quantiles differ
// slightly between the forms during its first five minutes (both are
// estimates of the same observations: up to about 0.5 % on the mixed scenario).
func TestNHCBEqualsClassic(t *testing.T) {
	t.Parallel()
	for _, name := range []string{"mixed", "kv-transfer-slow", "gateway-backlog", "testdata/honor-on-localqueue.yml"} {
		t.Run(filepath.Base(name), func(t *testing.T) {
			t.Parallel()
			var (
				sc  *sim.Scenario
				err error
			)
			if filepath.Ext(name) == ".yml" {
				sc, err = sim.LoadScenario(name)
			} else {
				sc, err = sim.OpenScenario("", name)
			}
			if err != nil {
				t.Fatal(err)
			}
			c, err := sim.NewCluster(sim.Options{Scenario: sc, Seed: 7, GPUs: 16})
			if err != nil {
				t.Fatal(err)
			}
			st := histStores{classic: teststorage.New(t), nhcb: teststorage.New(t), both: teststorage.New(t)}
			start := c.Start()
			end := start.Add(7 * time.Minute)
			histograms := 0
			for ts := start.Add(simScrapeEvery); ts.Before(end); ts = ts.Add(simScrapeEvery) {
				histograms += scrapeSimForms(t, st, c, ts)
			}
			if histograms == 0 {
				t.Fatal("no classic histogram was converted: the comparison would hold trivially")
			}
			cat, err := schema.New(schema.Options{})
			if err != nil {
				t.Fatal(err)
			}
			compareForms(t, cat, st, end.Add(-simScrapeEvery))
			if filepath.Ext(name) == ".yml" {
				c.Step(end)
				checkSimTruth(t, cat, st.nhcb, c.Truth(), start.Add(6*time.Minute), end.Add(-simScrapeEvery))
			}
		})
	}
}

// compareForms evaluates every signal (and every histogram signal's
// quantiles) on the three stores at at and reports any difference.
func compareForms(t *testing.T, cat *schema.Catalog, st histStores, at time.Time) {
	t.Helper()
	eng := schematest.NewEngine()
	quantiles, compared := 0, 0
	for _, s := range cat.Signals() {
		var queries []string
		if s.Kind == schema.KindHistogram {
			for _, q := range schema.Quantiles() {
				qq, err := cat.Quantile(s.Name, q)
				if err != nil {
					t.Fatal(err)
				}
				queries = append(queries, qq)
			}
		} else {
			q, err := cat.Query(s.Name)
			if err != nil {
				t.Fatal(err)
			}
			queries = append(queries, q)
		}
		for i, q := range queries {
			what := s.Name
			if s.Kind == schema.KindHistogram {
				what = schema.QuantileName(s.Name, schema.Quantiles()[i])
			}
			want := vectorOf(t, what, schematest.Instant(t, eng, st.classic, q, at))
			if s.Kind == schema.KindHistogram && len(want) > 0 {
				quantiles++
			}
			compared += len(want)
			for form, store := range map[string]*teststorage.TestStorage{"nhcb": st.nhcb, "both": st.both} {
				got := vectorOf(t, what, schematest.Instant(t, eng, store, q, at))
				sameVector(t, what+" ("+form+" vs classic)", got, want)
			}
		}
	}
	if quantiles == 0 || compared == 0 {
		t.Fatalf("%d histogram quantile and %d series compared: the scenario exposes no histogram the catalog reads", quantiles, compared)
	}
}

// vectorOf keys a float vector by its labels; a histogram sample in a
// signal's result is a failure (every figure is a number).
func vectorOf(t *testing.T, what string, v promql.Vector) map[string]float64 {
	t.Helper()
	out := make(map[string]float64, len(v))
	for _, s := range v {
		if s.H != nil {
			t.Errorf("%s: %s is a histogram, not a number", what, s.Metric)
			continue
		}
		out[s.Metric.String()] = s.F
	}
	return out
}

func sameVector(t *testing.T, what string, got, want map[string]float64) {
	t.Helper()
	var diffs []string
	for k, w := range want {
		g, ok := got[k]
		switch {
		case !ok:
			diffs = append(diffs, "missing "+k)
		case math.IsNaN(w) && math.IsNaN(g):
		case math.Abs(g-w) > 1e-9*math.Max(math.Abs(g), math.Abs(w)) && math.Abs(g-w) > 1e-12:
			diffs = append(diffs, fmt.Sprintf("%s: %v, classic %v", k, g, w))
		}
	}
	for k := range got {
		if _, ok := want[k]; !ok {
			diffs = append(diffs, "extra "+k)
		}
	}
	if len(diffs) > 0 {
		sort.Strings(diffs)
		t.Errorf("%s: %d differences:\n%v", what, len(diffs), diffs[:min(len(diffs), 5)])
	}
}
