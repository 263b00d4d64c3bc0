package app

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/prometheus/model/labels"

	"github.com/servescope/servescope/internal/analyze/diagnose"
	"github.com/servescope/servescope/internal/analyze/query"
	"github.com/servescope/servescope/internal/collect/parse"
	"github.com/servescope/servescope/internal/present/api"
	"github.com/servescope/servescope/internal/schema"
	"github.com/servescope/servescope/internal/store/tsdb"
)

// vllmTarget renders a vLLM-like exposition of about 400 series: gauges,
// counters and the latency histograms with vLLM's bucket edges, for two
// data-parallel engines.
func vllmTarget(pod int, round int) []byte {
	var b strings.Builder
	ttft := []string{"0.001", "0.005", "0.01", "0.02", "0.04", "0.06", "0.08", "0.1", "0.25", "0.5", "0.75", "1.0", "2.5", "5.0", "7.5", "10.0", "20.0", "40.0", "80.0", "160.0", "640.0", "2560.0", "+Inf"}
	itl := []string{"0.01", "0.025", "0.05", "0.075", "0.1", "0.15", "0.2", "0.3", "0.4", "0.5", "0.75", "1.0", "2.5", "5.0", "7.5", "10.0", "20.0", "40.0", "80.0", "+Inf"}
	for engine := 0; engine < 2; engine++ {
		l := fmt.Sprintf(`engine="%d",model_name="meta-llama/Llama-3.1-8B-Instruct"`, engine)
		for _, g := range []string{"vllm:num_requests_running", "vllm:num_requests_waiting", "vllm:kv_cache_usage_perc"} {
			fmt.Fprintf(&b, "%s{%s} %d\n", g, l, (pod+round)%17)
		}
		for _, c := range []string{"vllm:prompt_tokens_total", "vllm:generation_tokens_total", "vllm:num_preemptions_total", "vllm:prefix_cache_queries_total", "vllm:prefix_cache_hits_total"} {
			fmt.Fprintf(&b, "%s{%s} %d\n", c, l, round*(pod+1)*13)
		}
		for _, r := range []string{"stop", "length", "abort", "error"} {
			fmt.Fprintf(&b, "vllm:request_success_total{%s,finished_reason=\"%s\"} %d\n", l, r, round*3)
		}
		for _, h := range []struct {
			name  string
			edges []string
		}{
			{"vllm:time_to_first_token_seconds", ttft}, {"vllm:inter_token_latency_seconds", itl},
			{"vllm:e2e_request_latency_seconds", itl}, {"vllm:request_queue_time_seconds", itl},
			{"vllm:request_prefill_time_seconds", itl}, {"vllm:request_decode_time_seconds", itl},
			{"vllm:request_prompt_tokens", ttft}, {"vllm:request_generation_tokens", ttft},
		} {
			for i, e := range h.edges {
				fmt.Fprintf(&b, "%s_bucket{%s,le=\"%s\"} %d\n", h.name, l, e, round*(i+1))
			}
			fmt.Fprintf(&b, "%s_sum{%s} %d\n%s_count{%s} %d\n", h.name, l, round*7, h.name, l, round*len(h.edges))
		}
	}
	return []byte(b.String())
}

func seriesIn(body []byte) int { return strings.Count(string(body), "\n") }

// BenchmarkIngest measures parse and append of one scrape round of 1,000
// vLLM-like targets (about 400 series each) at a 15 s interval, reporting
// samples/s and heap bytes per series.
func BenchmarkIngest(b *testing.B) {
	const targets = 1000
	db, err := tsdb.Open(tsdb.Options{Path: b.TempDir()})
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	bodies := make([][]byte, targets)
	tls := make([]labels.Labels, targets)
	perRound := 0
	for i := range bodies {
		bodies[i] = vllmTarget(i, 1)
		tls[i] = labels.FromStrings("job", "vllm", "instance", fmt.Sprintf("10.0.%d.%d:8000", i/250, i%250), "namespace", fmt.Sprintf("team-%d", i%20), "pod", fmt.Sprintf("vllm-%d", i))
		perRound += seriesIn(bodies[i])
	}
	ctx := context.Background()
	ts := time.Now().Add(-24 * time.Hour).UnixMilli()
	samples := 0
	start := time.Now()
	for b.Loop() {
		for i, body := range bodies {
			app := db.Appender(ctx)
			n, err := parse.Ingest(app, body, parse.TextContentType, tls[i], ts, false)
			if err != nil {
				b.Fatal(err)
			}
			if err := app.Commit(); err != nil {
				b.Fatal(err)
			}
			samples += n
		}
		ts += 15_000
	}
	elapsed := time.Since(start)
	b.ReportMetric(float64(samples)/elapsed.Seconds(), "samples/s")
	b.ReportMetric(float64(perRound)/targets, "series/target")
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	b.ReportMetric(float64(ms.HeapInuse)/float64(db.HeadSeries()), "heap-bytes/series")
}

// BenchmarkPanelQueries measures the four panel queries over one hour of
// 100 vLLM-like targets at a 15 s interval.
func BenchmarkPanelQueries(b *testing.B) {
	const targets = 100
	db, err := tsdb.Open(tsdb.Options{Path: b.TempDir()})
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	ctx := context.Background()
	end := time.Now().Truncate(time.Minute)
	begin := end.Add(-time.Hour)
	for round, ts := 0, begin; !ts.After(end); round, ts = round+1, ts.Add(15*time.Second) {
		app := db.Appender(ctx)
		for i := 0; i < targets; i++ {
			tl := labels.FromStrings("job", "vllm", "namespace", fmt.Sprintf("team-%d", i%5), "pod", fmt.Sprintf("vllm-%d", i))
			if _, err := parse.Ingest(app, vllmTarget(i, round), parse.TextContentType, tl, ts.UnixMilli(), false); err != nil {
				b.Fatal(err)
			}
		}
		for i := 0; i < 5; i++ {
			if err := app.Append(labels.FromStrings("__name__", "kube_namespace_labels", "namespace", fmt.Sprintf("team-%d", i), "label_team", fmt.Sprintf("t%d", i%2)), ts.UnixMilli(), 1); err != nil {
				b.Fatal(err)
			}
		}
		if err := app.Commit(); err != nil {
			b.Fatal(err)
		}
	}
	eng := query.NewEngine(db.Queryable(), query.EngineOptions{Timeout: time.Minute, MaxSamples: 5e7, Registerer: prometheus.NewRegistry()})
	for _, q := range []struct{ name, q string }{
		{"ttft_p95", `histogram_quantile(0.95, sum by (le, model_name) (rate(vllm:time_to_first_token_seconds_bucket[1m])))`},
		{"kv_max", `max by (pod) (vllm:kv_cache_usage_perc)`},
		{"tokens_per_running", `rate(vllm:generation_tokens_total[1m]) / avg_over_time(vllm:num_requests_running[1m])`},
		{"team_join", `sum by (label_team) (vllm:num_requests_waiting * on (namespace) group_left (label_team) kube_namespace_labels)`},
	} {
		b.Run(q.name+"/instant", func(b *testing.B) {
			for b.Loop() {
				if _, err := eng.Query(ctx, q.q, end); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(q.name+"/range_1h_step_15s", func(b *testing.B) {
			for b.Loop() {
				if _, err := eng.QueryRange(ctx, q.q, query.Range{Start: begin, End: end, Step: 15 * time.Second}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkDashboard1000GPUs measures each dashboard page (every panel's
// queries, the diagnosis and the cost attribution, rendered to HTML) over
// the default 1 h range of a simulated 1,000-GPU fleet (the healthy
// scenario, 15 s scrapes, the catalog's recording rules once a minute),
// as `serve` answers it: live (no end= in the URL, the clock at the
// history's end) through the dashboard's result cache. cold is a page
// on a fresh server (nothing cached, the diagnosis evaluated); warm the
// same page asked again 20 s later (the same viewer, or another one),
// and again every 20 s. Writing the hour of history takes
// minutes, so the store is kept between runs in $SERVESCOPE_BENCH_CACHE
// (default: the user cache directory), keyed by its parameters.
func BenchmarkDashboard1000GPUs(b *testing.B) {
	const gpus = 1000
	end := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	dir := benchStore(b, fmt.Sprintf("dashboard-healthy-%dgpus-1h-v2", gpus), func(dir string) {
		if _, err := Backfill(b.Context(), BackfillOptions{Scenario: loadSimScenario(b, "healthy"), GPUs: gpus, Seed: 1,
			Duration: time.Hour, End: end, StoragePath: dir}); err != nil {
			b.Fatal(err)
		}
	})
	db, err := tsdb.Open(tsdb.Options{Path: dir})
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	engine := query.NewEngine(db.Queryable(), query.EngineOptions{Timeout: time.Minute, MaxSamples: 5e7, Registerer: prometheus.NewRegistry()})
	cat, err := schema.New(schema.Options{})
	if err != nil {
		b.Fatal(err)
	}
	calc, err := NewCostCalculator(CostOptions{PriceBook: filepath.Join("..", "..", "examples", "scenarios", "prices.yml"), Catalog: cat})
	if err != nil {
		b.Fatal(err)
	}
	// serve mounts a fresh dashboard as `serve` does, on a clock the
	// caller moves.
	serve := func(clock *time.Time) *api.API {
		now := func() time.Time { return *clock }
		cache, err := query.NewCache(engine, query.CacheOptions{Interval: 15 * time.Second, Registerer: prometheus.NewRegistry(), Now: now})
		if err != nil {
			b.Fatal(err)
		}
		a := api.New(api.Options{Querier: cache})
		if err := mountWeb(a, webOptions{Querier: cache, Catalog: cat, Thresholds: diagnose.DefaultThresholds(), Calc: calc, Recorded: true, Now: now}); err != nil {
			b.Fatal(err)
		}
		return a
	}
	get := func(b *testing.B, a *api.API, page string) {
		rec := httptest.NewRecorder()
		a.ServeHTTP(rec, httptest.NewRequestWithContext(b.Context(), http.MethodGet, page, nil))
		if rec.Code != http.StatusOK {
			b.Fatalf("GET %s: %d %s", page, rec.Code, rec.Body.String())
		}
		if strings.Contains(rec.Body.String(), `data-state="error"`) {
			b.Fatalf("GET %s: a panel shows an error", page)
		}
	}
	for _, page := range []string{"/", "/serving", "/gpus", "/queues", "/findings"} {
		name := strings.TrimPrefix(page, "/")
		if name == "" {
			name = "fleet"
		}
		b.Run(name+"/cold", func(b *testing.B) {
			clock := end
			for b.Loop() {
				b.StopTimer()
				a := serve(&clock)
				b.StartTimer()
				get(b, a, page)
			}
		})
		b.Run(name+"/warm", func(b *testing.B) {
			// The clock starts five minutes before the history's end and
			// moves 20 s a load: every load is in a new 15 s step (past
			// the end, the newest points are empty).
			clock := end.Add(-5 * time.Minute)
			a := serve(&clock)
			get(b, a, page)
			for b.Loop() {
				clock = clock.Add(20 * time.Second)
				get(b, a, page)
			}
		})
	}
}

// benchStore returns a directory holding a store written once by fill and
// kept for later runs under $SERVESCOPE_BENCH_CACHE or the user cache
// directory, named key. A fill that fails leaves no directory behind.
func benchStore(b *testing.B, key string, fill func(dir string)) string {
	b.Helper()
	root := os.Getenv("SERVESCOPE_BENCH_CACHE")
	if root == "" {
		c, err := os.UserCacheDir()
		if err != nil {
			b.Fatalf("benchmark store cache: %v (set SERVESCOPE_BENCH_CACHE)", err)
		}
		root = filepath.Join(c, "servescope-bench")
	}
	dir := filepath.Join(root, key)
	if _, err := os.Stat(filepath.Join(dir, "complete")); err == nil {
		return dir
	}
	if err := os.RemoveAll(dir); err != nil {
		b.Fatal(err)
	}
	tmp := dir + ".partial"
	if err := os.RemoveAll(tmp); err != nil {
		b.Fatal(err)
	}
	if err := os.MkdirAll(tmp, 0o755); err != nil {
		b.Fatal(err)
	}
	start := time.Now()
	fill(tmp)
	if err := os.WriteFile(filepath.Join(tmp, "complete"), nil, 0o644); err != nil {
		b.Fatal(err)
	}
	if err := os.Rename(tmp, dir); err != nil {
		b.Fatal(err)
	}
	b.Logf("benchmark store %s written in %s", dir, time.Since(start).Round(time.Second))
	return dir
}
