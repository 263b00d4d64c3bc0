package scrape

import (
	"bytes"
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/model"
	promconfig "github.com/prometheus/prometheus/config"
	"github.com/prometheus/prometheus/discovery/targetgroup"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/model/relabel"
	"github.com/prometheus/prometheus/model/value"
	"github.com/prometheus/prometheus/tsdb/chunkenc"

	"github.com/servescope/servescope/internal/config"
	"github.com/servescope/servescope/internal/schema"
	"github.com/servescope/servescope/internal/store/tsdb"
	"github.com/servescope/servescope/internal/testutil/proc"
)

// TestFilterDeclaresHistograms: a body may declare a histogram when a
// comment names one or is too long to read; sample lines never count.
func TestFilterDeclaresHistograms(t *testing.T) {
	keep := testKeep(t)
	for _, tc := range []struct {
		name, body string
		want       bool
	}{
		{"gauges", "# HELP a A gauge.\n# TYPE a gauge\na 1\n# EOF", false},
		{"a histogram", histExposition, true},
		{"other spacing", "#  TYPE h histogram\nh_bucket{le=\"+Inf\"} 1\n", true},
		{"a dropped family's histogram", "# TYPE go_gc_duration histogram\ngo_gc_duration_bucket{le=\"+Inf\"} 1\n", true},
		{"help naming one", "# HELP a not a histogram\na 1\n", true},
		{"a sample named so", "histogram_thing 1\nx{a=\"histogram\"} 2\n", false},
		{"a comment over the buffer", "# HELP a " + strings.Repeat("x", filterBufferSize+10) + "\na 1\n", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newLineFilter(newNameDecisions(func(n string) bool { return keepsName(keep.Regex, n) }))
			var buf bytes.Buffer
			st, err := f.copy(&buf, strings.NewReader(tc.body), 0)
			if err != nil {
				t.Fatal(err)
			}
			if st.Histograms != tc.want {
				t.Errorf("Histograms %v, want %v", st.Histograms, tc.want)
			}
			// The next body starts afresh.
			if st, _ := f.copy(&buf, strings.NewReader("a 1\n"), 0); st.Histograms {
				t.Error("a gauge body after it declares a histogram")
			}
		})
	}
}

// TestNHCBSkipObserve: a target is skipped after histogramFreeScrapes
// bodies in a row without a histogram, per job; one with a histogram
// brings it back for good.
func TestNHCBSkipObserve(t *testing.T) {
	s := newNHCBSkip()
	skipped := func(job, url string) bool { sk, _ := s.skipped(); return sk[skipKey(job, url)] }
	for i := range histogramFreeScrapes {
		if skipped("a", "u") {
			t.Fatalf("skipped after %d bodies", i)
		}
		s.observe("a", "u", false)
	}
	if !skipped("a", "u") || skipped("b", "u") {
		t.Fatal("want u skipped in job a only")
	}
	select {
	case <-s.changed:
	default:
		t.Fatal("no change signalled")
	}
	s.observe("a", "u", true)
	if skipped("a", "u") {
		t.Fatal("still skipped after a histogram")
	}
	for range 2 * histogramFreeScrapes {
		s.observe("a", "u", false)
	}
	if skipped("a", "u") {
		t.Fatal("skipped again after it declared a histogram")
	}
	// A histogram-free run broken by one body with a histogram restarts.
	s.observe("c", "u", false)
	s.observe("c", "u", true)
	s.forget(func(k string) bool { return k != skipKey("a", "u") })
	for range histogramFreeScrapes {
		s.observe("a", "u", false)
	}
	if !skipped("a", "u") {
		t.Fatal("a forgotten target is not learnt afresh")
	}
}

// TestWithSkips: the skip label goes on the skipped targets only, found by
// the URL their job's relabelling gives them; the discovered groups are
// not modified, and a label the discovery set is left alone.
func TestWithSkips(t *testing.T) {
	cfg := &promconfig.ScrapeConfig{
		JobName: "j", MetricsPath: "/metrics", Scheme: "http",
		ScrapeInterval: model.Duration(15 * time.Second), ScrapeTimeout: model.Duration(10 * time.Second),
		RelabelConfigs: []*relabel.Config{{
			SourceLabels: model.LabelNames{"path"}, Regex: relabel.MustNewRegexp("(.+)"), TargetLabel: "__metrics_path__",
			Replacement: "$1", Action: relabel.Replace, NameValidationScheme: model.UTF8Validation,
		}},
	}
	db, err := tsdb.Open(tsdb.Options{Path: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	m, err := New(Options{Registerer: prometheus.NewRegistry(), Appendable: db.AppendableV2()})
	if err != nil {
		t.Fatal(err)
	}
	m.scraping = map[string]*promconfig.ScrapeConfig{"j": cfg}
	tg := &targetgroup.Group{Source: "s", Labels: model.LabelSet{"path": "/m2"}, Targets: []model.LabelSet{
		{model.AddressLabel: "a:1"},
		{model.AddressLabel: "b:1"},
		{model.AddressLabel: "c:1", nhcbSkipLabel: "true"},
	}}
	in := map[string][]*targetgroup.Group{"j": {tg}, "other": {{Source: "o", Targets: []model.LabelSet{{model.AddressLabel: "a:1"}}}}}
	for _, u := range []string{"http://a:1/m2", "http://c:1/m2", "http://gone:1/m2"} {
		for range histogramFreeScrapes {
			m.skips.observe("j", u, false)
		}
	}
	out := m.withSkips(in)
	got := out["j"][0].Targets
	if got[0][nhcbSkipLabel] != "false" || got[1][nhcbSkipLabel] != "" || got[2][nhcbSkipLabel] != "true" {
		t.Errorf("targets %v", got)
	}
	if out["other"][0].Targets[0][nhcbSkipLabel] != "" {
		t.Error("a target of another job at the same address is skipped")
	}
	if tg.Targets[0][nhcbSkipLabel] != "" || in["j"][0] != tg {
		t.Error("the discovered groups were modified")
	}
	if sk, _ := m.skips.skipped(); sk[skipKey("j", "http://gone:1/m2")] || !sk[skipKey("j", "http://a:1/m2")] {
		t.Errorf("skipped %v: the undiscovered target should be forgotten, a kept", sk)
	}
}

// TestNHCBSkip scrapes a histogram-free target through its switch to the
// plain parser and back when it declares a histogram: the switch shows in
// its discovered labels, its series never go stale nor miss more than a
// scrape, and the histogram ends up stored as a native histogram.
func TestNHCBSkip(t *testing.T) {
	if testing.Short() {
		t.Skip("scrapes for about 20 s")
	}
	t.Parallel()
	cat, err := schema.New(schema.Options{})
	if err != nil {
		t.Fatal(err)
	}
	var body atomic.Pointer[string]
	gauges := "# TYPE vllm:num_requests_running gauge\nvllm:num_requests_running{model_name=\"m\"} 3\n"
	body.Store(&gauges)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; version=0.0.4")
		_, _ = w.Write([]byte(*body.Load()))
	}))
	t.Cleanup(srv.Close)
	yml := fmt.Sprintf("global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\nscrape_configs:\n  - job_name: vllm\n    static_configs: [{targets: [%q]}]\n", strings.TrimPrefix(srv.URL, "http://"))
	cfg, err := config.Parse("skip.yml", []byte(yml), nil)
	if err != nil {
		t.Fatal(err)
	}
	recognize := func(families []string) string {
		if slices.Contains(families, "vllm:num_requests_running") {
			return "vllm"
		}
		return ""
	}
	m, db := run(t, cfg, Options{Reads: cat.Reads(), Recognize: recognize})
	// Read from the scrape manager: Active would hand a replaced target's
	// state over (and let go of it) itself.
	skipLabel := func() string {
		var ls []string
		for _, ts := range m.scrape.TargetsActive() {
			for _, tg := range ts {
				ls = append(ls, tg.DiscoveredLabels(labels.NewBuilder(labels.EmptyLabels())).Get(nhcbSkipLabel))
			}
		}
		if len(ls) != 1 {
			return fmt.Sprintf("%d targets", len(ls))
		}
		return ls[0]
	}
	retired := func() int {
		m.retiredMu.Lock()
		defer m.retiredMu.Unlock()
		return len(m.retired)
	}
	proc.Eventually(t, "the first scrape", 30*time.Second, func() (bool, string) {
		ts := m.Active()
		return len(ts) == 1 && ts[0].Health == "up", fmt.Sprintf("%+v", ts)
	})
	proc.Eventually(t, "the target scraped without the converter", 60*time.Second, func() (bool, string) {
		l := skipLabel()
		return l == "false", l
	})
	switched := time.Now()
	// The replaced target (and its loop's cache) is let go of once the new
	// loop has scraped, though nothing asked for the target's state.
	proc.Eventually(t, "the replaced target let go of", 30*time.Second, func() (bool, string) {
		n := retired()
		return n == 0, fmt.Sprint(n)
	})
	// Past the old loop's end-of-run staleness (two intervals and a tenth).
	proc.Eventually(t, "scrapes after the switch", 30*time.Second, func() (bool, string) {
		ts, _ := gaugeSamples(t, db)
		return len(ts) > 0 && time.UnixMilli(ts[len(ts)-1]).After(switched.Add(4*time.Second)), fmt.Sprint(len(ts))
	})
	checkContinuous(t, db)

	// Through the switch back the target stays up with its metadata: a
	// replaced loop's state stands until the new loop's first scrape.
	var lapse atomic.Pointer[string]
	watching := make(chan struct{})
	watched := make(chan struct{})
	go func() {
		defer close(watched)
		for {
			select {
			case <-watching:
				return
			case <-time.After(20 * time.Millisecond):
			}
			ts := m.Active()
			md := m.Metadata("vllm:num_requests_running")
			if len(ts) != 1 || ts[0].Health != "up" || ts[0].Exporter != "vllm" || len(md) != 1 {
				s := fmt.Sprintf("targets %+v, metadata %+v", ts, md)
				lapse.CompareAndSwap(nil, &s)
			}
		}
	}()
	defer func() {
		close(watching)
		<-watched
		if s := lapse.Load(); s != nil {
			t.Errorf("the target's status lapsed during the switch back: %s", *s)
		}
	}()
	hist := histExposition
	body.Store(&hist)
	// Prometheus shows the job's setting among the discovered labels.
	proc.Eventually(t, "the target back with the converter", 60*time.Second, func() (bool, string) {
		l := skipLabel()
		return l == "true", l
	})
	proc.Eventually(t, "the histogram stored as a native histogram", 30*time.Second, func() (bool, string) {
		n := histogramSeries(t, db)
		return n == 1, fmt.Sprint(n)
	})
	back := time.Now()
	proc.Eventually(t, "scrapes after the switch back", 30*time.Second, func() (bool, string) {
		ts, _ := gaugeSamples(t, db)
		return time.UnixMilli(ts[len(ts)-1]).After(back.Add(4 * time.Second)), fmt.Sprint(len(ts))
	})
	checkContinuous(t, db)
}

// gaugeSamples returns the stored samples of the test target's gauge.
func gaugeSamples(t *testing.T, db *tsdb.DB) ([]int64, []float64) {
	t.Helper()
	q, err := db.Queryable().Querier(math.MinInt64, math.MaxInt64)
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	set := q.Select(t.Context(), false, nil, labels.MustNewMatcher(labels.MatchEqual, "__name__", "vllm:num_requests_running"))
	var ts []int64
	var vs []float64
	var it chunkenc.Iterator
	n := 0
	for set.Next() {
		n++
		it = set.At().Iterator(it)
		for it.Next() == chunkenc.ValFloat {
			tt, v := it.At()
			ts, vs = append(ts, tt), append(vs, v)
		}
	}
	if err := set.Err(); err != nil {
		t.Fatal(err)
	}
	if n > 1 {
		t.Fatalf("%d gauge series", n)
	}
	return ts, vs
}

// checkContinuous fails on a staleness marker or a gap of more than two
// scrape intervals in the gauge.
func checkContinuous(t *testing.T, db *tsdb.DB) {
	t.Helper()
	ts, vs := gaugeSamples(t, db)
	for i := range ts {
		if value.IsStaleNaN(vs[i]) {
			t.Fatalf("staleness marker at %v (sample %d of %d)", time.UnixMilli(ts[i]), i, len(ts))
		}
		if i > 0 && ts[i]-ts[i-1] > 2000 {
			t.Errorf("gap of %d ms before %v", ts[i]-ts[i-1], time.UnixMilli(ts[i]))
		}
	}
}
