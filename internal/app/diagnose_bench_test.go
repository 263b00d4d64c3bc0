package app

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/prometheus/model/labels"

	"github.com/servescope/servescope/internal/analyze/diagnose"
	"github.com/servescope/servescope/internal/analyze/query"
	"github.com/servescope/servescope/internal/present/api"
	"github.com/servescope/servescope/internal/schema"
	"github.com/servescope/servescope/internal/store/tsdb"
)

// BenchmarkLongWindows measures `diagnose --since 48h` and `--since 7d`
// and the dashboard's 7d pages over a week of 64 GPUs. Simulating a week
// of 64 GPUs takes hours on a small machine, so the store holds synthetic
// series instead, one a minute (the diagnosis's queries evaluate at 15 s
// inside each step whatever the scrape interval): per GPU the three DCGM
// profiling gauges, per pod vLLM's running, waiting and KV gauges, its
// generation counter and a 10-bucket TTFT histogram. The store is kept in
// $SERVESCOPE_BENCH_CACHE like the dashboard benchmark's.
func BenchmarkLongWindows(b *testing.B) {
	const gpus = 64
	week := 7 * 24 * time.Hour
	end := time.Date(2026, 1, 8, 0, 0, 0, 0, time.UTC)
	dir := benchStore(b, fmt.Sprintf("long-windows-%dgpus-7d-1m-v1", gpus), func(dir string) {
		writeSyntheticWeek(b, dir, gpus, end.Add(-week-time.Hour), end)
	})
	db, err := tsdb.Open(tsdb.Options{Path: dir})
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	engine := query.NewEngine(db.Queryable(), query.EngineOptions{Timeout: 10 * time.Minute, MaxSamples: 5e8, Registerer: prometheus.NewRegistry()})
	cat, err := schema.New(schema.Options{})
	if err != nil {
		b.Fatal(err)
	}
	d, err := diagnose.New(diagnose.Options{Querier: engine, Catalog: cat})
	if err != nil {
		b.Fatal(err)
	}
	for _, w := range []time.Duration{48 * time.Hour, week} {
		b.Run("diagnose_"+w.String(), func(b *testing.B) {
			for b.Loop() {
				r, err := d.Diagnose(b.Context(), end, w)
				if err != nil {
					b.Fatal(err)
				}
				if len(r.Pods) != gpus {
					b.Fatalf("%d pods diagnosed, want %d", len(r.Pods), gpus)
				}
			}
		})
	}
	at := url.Values{"end": {end.Format(time.RFC3339)}, "range": {"7d"}}.Encode()
	for _, page := range []string{"/", "/findings"} {
		name := "dashboard_7d_" + strings.TrimPrefix(page, "/")
		if page == "/" {
			name += "fleet"
		}
		b.Run(name, func(b *testing.B) {
			for b.Loop() {
				// A fresh dashboard per page: the pages share one diagnosis
				// per (end, range), which would otherwise be measured once.
				a := api.New(api.Options{Querier: engine})
				if err := mountWeb(a, webOptions{Querier: engine, Catalog: cat, Thresholds: diagnose.DefaultThresholds()}); err != nil {
					b.Fatal(err)
				}
				rec := httptest.NewRecorder()
				a.ServeHTTP(rec, httptest.NewRequestWithContext(b.Context(), http.MethodGet, page+"?"+at, nil))
				if rec.Code != http.StatusOK {
					b.Fatalf("GET %s: %d %s", page, rec.Code, rec.Body.String())
				}
				if strings.Contains(rec.Body.String(), `data-state="error"`) {
					b.Fatalf("GET %s: a panel shows an error:\n%s", page, rec.Body.String())
				}
			}
		})
	}
}

// writeSyntheticWeek writes the benchmark's series, one sample a minute
// from start to end: pod i on GPU i, busy between 0.2 and 0.95 over a
// daily cycle, a queue on every eighth pod.
func writeSyntheticWeek(b *testing.B, dir string, gpus int, start, end time.Time) {
	b.Helper()
	db, err := tsdb.Open(tsdb.Options{Path: dir, Retention: 30 * 24 * time.Hour})
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	type series struct {
		ls    labels.Labels
		pod   int
		value func(i, minute int) float64
	}
	var all []series
	edges := []string{"0.05", "0.1", "0.25", "0.5", "1", "2", "4", "8", "16", "+Inf"}
	for i := range gpus {
		pod := fmt.Sprintf("llama-%d", i)
		gpu := []string{"Hostname", fmt.Sprintf("node-%d", i/8), "UUID", fmt.Sprintf("GPU-%d", i), "gpu", strconv.Itoa(i % 8),
			"modelName", "NVIDIA H100 80GB HBM3", "namespace", "chat", "pod", pod, "container", "vllm"}
		eng := []string{"namespace", "chat", "pod", pod, "instance", fmt.Sprintf("10.0.%d.%d:8000", i/8, i%8), "model_name", "llama-8b"}
		busy := func(i, m int) float64 { return 0.575 + 0.375*daily(m) }
		for _, g := range []struct {
			name string
			f    func(i, m int) float64
		}{
			{"DCGM_FI_PROF_GR_ENGINE_ACTIVE", busy},
			{"DCGM_FI_PROF_DRAM_ACTIVE", func(i, m int) float64 { return 0.8 * busy(i, m) }},
			{"DCGM_FI_PROF_PIPE_TENSOR_ACTIVE", func(i, m int) float64 { return 0.4 * busy(i, m) }},
		} {
			all = append(all, series{labels.FromStrings(append([]string{"__name__", g.name}, gpu...)...), i, g.f})
		}
		for _, g := range []struct {
			name string
			f    func(i, m int) float64
		}{
			{"vllm:num_requests_running", func(i, m int) float64 { return float64(int(100 * busy(i, m))) }},
			{"vllm:num_requests_waiting", func(i, m int) float64 { return float64((i % 8 / 7) * 5) }},
			{"vllm:kv_cache_usage_perc", func(i, m int) float64 { return 0.7 * busy(i, m) }},
			{"vllm:generation_tokens_total", func(i, m int) float64 { return float64(m) * 60 * 1000 }},
			{"vllm:time_to_first_token_seconds_count", func(i, m int) float64 { return float64(m) * 600 }},
			{"vllm:time_to_first_token_seconds_sum", func(i, m int) float64 { return float64(m) * 300 }},
		} {
			all = append(all, series{labels.FromStrings(append([]string{"__name__", g.name}, eng...)...), i, g.f})
		}
		for k, le := range edges {
			all = append(all, series{labels.FromStrings(append([]string{"__name__", "vllm:time_to_first_token_seconds_bucket", "le", le}, eng...)...),
				i, func(i, m int) float64 { return float64(m) * 600 * min(1, float64(k+1)/6) }})
		}
	}
	minute := 0
	for t := start; !t.After(end); t = t.Add(time.Minute) {
		app := db.Appender(b.Context())
		for _, s := range all {
			if err := app.Append(s.ls, t.UnixMilli(), s.value(s.pod, minute)); err != nil {
				b.Fatal(err)
			}
		}
		if err := app.Commit(); err != nil {
			b.Fatal(err)
		}
		minute++
	}
}

// daily is a 24 h cycle in [-1, 1] at minute m.
func daily(m int) float64 {
	const day = 24 * 60
	x := float64(m%day) / day
	return 1 - 4*min(x, 1-x) // a triangle wave: cheap, periodic, deterministic
}
