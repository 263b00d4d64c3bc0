package app

import (
	"fmt"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/prometheus/promql/parser"

	"github.com/servescope/servescope/internal/schema"
	"github.com/servescope/servescope/internal/testutil/proc"
)

// gridStep is how often the cross-check target's samples change. Both
// scrapers poll every second, so each sees every grid point several times
// and stores it once (same timestamp, same value), and both stores end up
// with identical samples.
const gridStep = 5 * time.Second

// crossTarget serves vLLM-, dcgm-, Kueue- and kube-state-metrics-like
// series whose values are a function of the grid point, each stamped with
// that grid point's time.
func crossTarget(w http.ResponseWriter, _ *http.Request) {
	now := time.Now()
	g := now.Truncate(gridStep)
	k := float64(g.Unix() / int64(gridStep/time.Second)) // grid index
	ts := g.UnixMilli()
	var b strings.Builder
	p := func(name, labels string, v float64) {
		fmt.Fprintf(&b, "%s{%s} %s %d\n", name, labels, strconv.FormatFloat(v, 'g', -1, 64), ts)
	}
	b.WriteString("# TYPE vllm:time_to_first_token_seconds histogram\n")
	edges := []string{"0.001", "0.005", "0.01", "0.02", "0.04", "0.06", "0.08", "0.1", "0.25", "0.5", "0.75", "1", "2.5", "5", "7.5", "10", "+Inf"}
	for pi, pod := range []string{"vllm-0", "vllm-1", "vllm-2"} {
		model := []string{"llama-8b", "llama-8b", "qwen-7b"}[pi]
		lbl := fmt.Sprintf(`model_name="%s",engine="0",namespace="team-%c",pod="%s"`, model, 'a'+pi, pod)
		cum := 0.0
		for i, le := range edges {
			// Later buckets fill faster as load (k) grows, so quantiles move.
			cum += math.Floor(k*float64(pi+1)*float64(i+1)/3) + float64(i)
			p("vllm:time_to_first_token_seconds_bucket", lbl+`,le="`+le+`"`, cum)
		}
		p("vllm:time_to_first_token_seconds_count", lbl, cum)
		p("vllm:time_to_first_token_seconds_sum", lbl, cum*0.3)
		p("vllm:kv_cache_usage_perc", lbl, math.Mod(k*0.037*float64(pi+1), 1))
		p("vllm:num_requests_running", lbl, math.Mod(k*float64(pi+3), 17)+1)
		p("vllm:num_requests_waiting", lbl, math.Mod(k, 4))
		p("vllm:generation_tokens_total", lbl, k*k*float64(37+pi)+k*11)
	}
	for gpu := 0; gpu < 4; gpu++ {
		lbl := fmt.Sprintf(`gpu="%d",UUID="GPU-%04d",modelName="NVIDIA H100 80GB HBM3",Hostname="node-1",namespace="team-%c",pod="vllm-%d"`, gpu, gpu, 'a'+gpu%3, gpu%3)
		p("DCGM_FI_PROF_GR_ENGINE_ACTIVE", lbl, math.Mod(k*0.013*float64(gpu+1), 1))
		p("DCGM_FI_DEV_GPU_UTIL", lbl, math.Mod(k*float64(gpu+7), 100))
	}
	for _, cq := range []string{"team-a-cq", "team-b-cq"} {
		p("kueue_pending_workloads", `cluster_queue="`+cq+`",status="active"`, math.Mod(k, 3))
		p("kueue_cluster_queue_nominal_quota", `cluster_queue="`+cq+`",cohort="gpu",flavor="h100",resource="nvidia.com/gpu"`, 8)
	}
	for i, ns := range []string{"team-a", "team-b", "team-c"} {
		p("kube_namespace_labels", fmt.Sprintf(`namespace="%s",label_team="%s"`, ns, []string{"search", "ads", "search"}[i]), 1)
	}
	w.Header().Set("Content-Type", "text/plain; version=0.0.4")
	io.WriteString(w, b.String())
}

// promProcess runs Debian's prometheus on a free loopback port.
func promProcess(t *testing.T, cfg string) string {
	t.Helper()
	return "http://" + daemon(t, "prometheus", "prometheus", cfg, func(addr, dir, cfg string) []string {
		return []string{"--config.file=" + cfg, "--storage.tsdb.path=" + filepath.Join(dir, "data"), "--web.listen-address=" + addr}
	})
}

// TestCrossCheckPrometheus scrapes one target with servescope and with a
// real Prometheus (Debian's 2.42) at a 1 s interval for about a minute
// after both have samples, then compares query results (20 s windows) at
// instants between samples, and the series and label APIs.
//
// Prometheus 2.42 stores classic histograms only. servescope runs twice:
// as configured by default, storing the histogram as a native histogram
// with custom buckets (NHCB), and with keep_classic_histograms, storing
// the same series as Prometheus. The raw queries are compared with the
// classic one (and, those not naming _bucket series, with both); the
// catalog's TTFT quantiles, which read either form, with both.
func TestCrossCheckPrometheus(t *testing.T) {
	if testing.Short() {
		t.Skip("the cross-check scrapes for about a minute; skipped with -short")
	}
	t.Parallel() // mostly waiting: let the package's other tests run meanwhile
	target := httptest.NewServer(http.HandlerFunc(crossTarget))
	defer target.Close()
	host := strings.TrimPrefix(target.URL, "http://")
	cfg := `global:
  scrape_interval: 1s
  scrape_timeout: 1s
scrape_configs:
  - job_name: cross
    static_configs: [{targets: ['` + host + `']}]
`
	prom := promProcess(t, cfg)
	ours := start(t, cfg, t.TempDir())
	classic := start(t, cfg+"servescope:\n  keep_classic_histograms: true\n", t.TempDir())

	begin := time.Now()
	// Warm-up: each side discovers the target and starts its loop at its
	// own pace; the compared windows start once both have samples.
	var warm time.Time
	proc.Eventually(t, "samples in both stores", time.Minute, func() (bool, string) {
		for _, base := range []string{ours.base, classic.base, prom} {
			if len(instantQuery(t, base, "vllm:generation_tokens_total", time.Now())) == 0 {
				return false, base + " has no samples yet"
			}
		}
		warm = time.Now()
		return true, ""
	})
	// Six instants 3 s apart (every phase between 5 s grid points), the
	// newest two grid steps before the last grid point, each with a
	// 20 s window (four grid points, twenty scrapes) after the warm-up.
	const (
		window   = 20 * time.Second
		instants = 6
		spacing  = 3 * time.Second
	)
	ready := warm.Add(window + instants*spacing + 3*gridStep + 2*time.Second)
	proc.Eventually(t, "windows of samples in both stores", time.Until(ready)+time.Minute, func() (bool, string) {
		if time.Now().Before(ready) {
			return false, "scraping"
		}
		return true, ""
	})

	// Instants between grid points (and between scrapes) whose windows lie
	// inside what both stores scraped.
	end := time.Now().Truncate(gridStep).Add(-2 * gridStep)
	var at []time.Time
	for i := range instants {
		at = append(at, end.Add(-time.Duration(i)*spacing-1700*time.Millisecond))
	}
	if oldest := at[len(at)-1].Add(-window); oldest.Before(warm) {
		t.Fatalf("run too short: the oldest window starts at %s, before warm-up ends at %s", oldest, warm)
	}
	queries := []string{
		`count_over_time(vllm:generation_tokens_total[20s])`,
		`timestamp(vllm:generation_tokens_total)`,
		`vllm:generation_tokens_total`,
		`rate(vllm:generation_tokens_total[20s])`,
		`avg_over_time(vllm:num_requests_running[20s])`,
		`histogram_quantile(0.95, sum by (le, model_name) (rate(vllm:time_to_first_token_seconds_bucket[20s])))`,
		`max by (pod) (vllm:kv_cache_usage_perc)`,
		`rate(vllm:generation_tokens_total[20s]) / avg_over_time(vllm:num_requests_running[20s])`,
		`sum by (namespace, label_team) (vllm:num_requests_waiting * on (namespace) group_left (label_team) kube_namespace_labels)`,
		`avg by (namespace) (DCGM_FI_PROF_GR_ENGINE_ACTIVE)`,
		`sum(kueue_pending_workloads) / sum(kueue_cluster_queue_nominal_quota)`,
	}
	cat, err := schema.New(schema.Options{})
	if err != nil {
		t.Fatal(err)
	}
	var quantiles []string
	for _, q := range schema.Quantiles() {
		qq, err := cat.Quantile("ttft_seconds", q)
		if err != nil {
			t.Fatal(err)
		}
		// The catalog's rates read 5m; here every range is the test's
		// window, which lies inside what the three stores scraped: a
		// window holding a series' first sample extrapolates from it, and
		// each store's first scrape falls at its own phase.
		e, err := parser.NewParser(parser.Options{}).ParseExpr(qq)
		if err != nil {
			t.Fatal(err)
		}
		parser.Inspect(e, func(n parser.Node, _ []parser.Node) error {
			if m, ok := n.(*parser.MatrixSelector); ok {
				m.Range = window
			}
			return nil
		})
		quantiles = append(quantiles, e.String())
	}
	for i, q := range append(slices.Clone(queries), quantiles...) {
		servers := map[string]string{"servescope (NHCB)": ours.base, "servescope (classic)": classic.base}
		if i < len(queries) && strings.Contains(q, "_bucket") {
			delete(servers, "servescope (NHCB)") // no _bucket series stored; the catalog's quantiles read either form
		}
		for name, base := range servers {
			for _, ts := range at {
				a := instantQuery(t, base, q, ts)
				b := instantQuery(t, prom, q, ts)
				if len(a) == 0 {
					t.Errorf("%s at %s: empty result from %s", q, ts.Format(time.RFC3339Nano), name)
				}
				compareVectors(t, name+": "+q+" @ "+ts.Format(time.RFC3339Nano), a, b)
			}
		}
	}

	// Series and label names. Known difference, by name: Prometheus 3
	// normalises le and quantile label values to floats ("1" becomes
	// "1.0"); 2.42 stores them as exposed.
	from, until := strconv.FormatInt(begin.Unix(), 10), strconv.FormatInt(end.Unix(), 10)
	sel := url.Values{"match[]": {`{job="cross",__name__=~"vllm:.*|DCGM_.*|kueue_.*|kube_.*"}`}, "start": {from}, "end": {until}}
	sa, sb := seriesSet(t, classic.base, sel), seriesSet(t, prom, sel)
	if len(sa) == 0 || !slices.Equal(sa, sb) {
		t.Errorf("series differ:\nservescope: %d %v\nprometheus: %d %v", len(sa), head(sa), len(sb), head(sb))
	}
	la, lb := stringsAPI(t, classic.base, "/api/v1/labels", sel), stringsAPI(t, prom, "/api/v1/labels", sel)
	if len(la) == 0 || !slices.Equal(la, lb) {
		t.Errorf("label names differ: %v vs %v", la, lb)
	}
	// With NHCB, every other series is the same, and the histogram is one
	// series per pod under the family's name (no le label).
	hist := `vllm:time_to_first_token_seconds`
	others := url.Values{"match[]": {`{job="cross",__name__=~"vllm:.*|DCGM_.*|kueue_.*|kube_.*",__name__!~"` + hist + `.*"}`}, "start": {from}, "end": {until}}
	if sa, sb := seriesSet(t, ours.base, others), seriesSet(t, prom, others); len(sa) == 0 || !slices.Equal(sa, sb) {
		t.Errorf("series besides the histogram differ with NHCB:\nservescope: %d %v\nprometheus: %d %v", len(sa), head(sa), len(sb), head(sb))
	}
	hs := seriesSet(t, ours.base, url.Values{"match[]": {`{job="cross",__name__=~"` + hist + `.*"}`}, "start": {from}, "end": {until}})
	if len(hs) != 3 || slices.ContainsFunc(hs, func(s string) bool { return !strings.Contains(s, "__name__:"+hist+" ") }) {
		t.Errorf("NHCB histogram series: %v, want one %s per pod", hs, hist)
	}
	// External-Prometheus mode: a servescope that scrapes nothing and reads
	// the real Prometheus answers as that Prometheus does.
	ext := start(t, "global: {scrape_interval: 15s}\nscrape_configs: []\n", t.TempDir(), func(o *Options) { o.RemoteURL = prom })
	for _, q := range queries[len(queries)-3:] {
		compareVectors(t, "external mode: "+q, instantQuery(t, ext.base, q, at[0]), instantQuery(t, prom, q, at[0]))
	}
	if code, r := ext.get(t, "/api/v1/diagnoses", nil); code != 200 || !strings.Contains(string(r.Data), "findings") {
		t.Errorf("diagnosis in external mode: %d %.300s", code, r.Data)
	}

	va := stringsAPI(t, ours.base, "/api/v1/label/model_name/values", sel)
	vb := stringsAPI(t, prom, "/api/v1/label/model_name/values", sel)
	if len(va) == 0 || !slices.Equal(va, vb) {
		t.Errorf("label values differ: %v vs %v", va, vb)
	}
}

func head(s []string) []string { return s[:min(len(s), 5)] }

func instantQuery(t *testing.T, base, q string, at time.Time) map[string]float64 {
	t.Helper()
	v := url.Values{"query": {q}, "time": {strconv.FormatFloat(float64(at.UnixMilli())/1000, 'f', 3, 64)}}
	var data vectorData
	proc.GetAPI(t, base+"/api/v1/query?"+v.Encode(), &data)
	out := map[string]float64{}
	for _, s := range data.Result {
		f, err := strconv.ParseFloat(s.Value[1].(string), 64)
		if err != nil {
			t.Fatal(err)
		}
		out[fmt.Sprint(s.Metric)] = f
	}
	return out
}

func compareVectors(t *testing.T, what string, a, b map[string]float64) {
	t.Helper()
	if len(a) != len(b) {
		t.Errorf("%s: %d series from servescope, %d from prometheus:\n%v\n%v", what, len(a), len(b), a, b)
		return
	}
	for k, va := range a {
		vb, ok := b[k]
		if !ok {
			t.Errorf("%s: series %s missing from prometheus", what, k)
			continue
		}
		if math.IsNaN(va) && math.IsNaN(vb) {
			continue
		}
		if d := math.Abs(va - vb); d > 1e-9*math.Max(math.Abs(va), math.Abs(vb)) && d > 1e-12 {
			t.Errorf("%s %s: servescope %v, prometheus %v", what, k, va, vb)
		}
	}
}

// seriesSet returns the series as sorted strings, with le and quantile
// values normalised the way Prometheus 3 stores them.
func seriesSet(t *testing.T, base string, v url.Values) []string {
	t.Helper()
	var data []map[string]string
	proc.GetAPI(t, base+"/api/v1/series?"+v.Encode(), &data)
	out := make([]string, 0, len(data))
	for _, m := range data {
		for _, l := range []string{"le", "quantile"} {
			if s, ok := m[l]; ok {
				if f, err := strconv.ParseFloat(s, 64); err == nil && !math.IsInf(f, 0) {
					m[l] = strconv.FormatFloat(f, 'f', -1, 64)
					if !strings.ContainsAny(m[l], ".e") {
						m[l] += ".0"
					}
				}
			}
		}
		out = append(out, fmt.Sprint(m))
	}
	sort.Strings(out)
	return out
}

func stringsAPI(t *testing.T, base, path string, v url.Values) []string {
	t.Helper()
	var data []string
	proc.GetAPI(t, base+path+"?"+v.Encode(), &data)
	return data
}
