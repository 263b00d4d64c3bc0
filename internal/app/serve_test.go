package app

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/servescope/servescope/internal/testutil/proc"
)

// started is a server running in-process for a test.
type started struct {
	srv  *Server
	base string
	stop func()
}

// start runs a server on a free loopback port with config yml and store
// dir; mods adjust the options.
func start(t *testing.T, yml, dir string, mods ...func(*Options)) *started {
	t.Helper()
	cfgFile := filepath.Join(dir, "servescope.yml")
	if err := os.WriteFile(cfgFile, []byte(yml), 0o644); err != nil {
		t.Fatal(err)
	}
	o := Options{ConfigFile: cfgFile, StoragePath: filepath.Join(dir, "data"), ListenAddress: "127.0.0.1:0", QueryTimeout: time.Minute, QueryMaxSamples: 1e7}
	for _, m := range mods {
		m(&o)
	}
	s, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	st := &started{srv: s, base: "http://" + s.Addr()}
	var once atomic.Bool
	st.stop = func() {
		if once.Swap(true) {
			return
		}
		cancel()
		if err := <-done; err != nil {
			t.Errorf("server stopped with %v", err)
		}
	}
	t.Cleanup(st.stop)
	return st
}

type apiResponse struct {
	Status    string          `json:"status"`
	Data      json.RawMessage `json:"data"`
	ErrorType string          `json:"errorType"`
	Error     string          `json:"error"`
}

func (s *started) get(t *testing.T, path string, params url.Values) (int, apiResponse) {
	t.Helper()
	resp, err := http.Get(s.base + path + "?" + params.Encode())
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var r apiResponse
	body, _ := io.ReadAll(resp.Body)
	if err := json.Unmarshal(body, &r); err != nil {
		t.Fatalf("GET %s: %v in %q", path, err, body)
	}
	return resp.StatusCode, r
}

type vectorData struct {
	Result []struct {
		Metric map[string]string `json:"metric"`
		Value  [2]any            `json:"value"`
	} `json:"result"`
}

// query runs an instant query now and returns metric → value.
func (s *started) query(t *testing.T, q string) map[string]string {
	t.Helper()
	code, r := s.get(t, "/api/v1/query", url.Values{"query": {q}})
	if code != 200 {
		t.Fatalf("query %s: %d %s", q, code, r.Error)
	}
	var v vectorData
	if err := json.Unmarshal(r.Data, &v); err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, s := range v.Result {
		out[fmt.Sprint(s.Metric)] = s.Value[1].(string)
	}
	return out
}

type targetsData struct {
	ActiveTargets []struct {
		Exporter     string            `json:"exporter"`
		Unrecognised bool              `json:"unrecognised"`
		Labels       map[string]string `json:"labels"`
		ScrapePool   string            `json:"scrapePool"`
		LastError    string            `json:"lastError"`
		Health       string            `json:"health"`
	} `json:"activeTargets"`
}

const vllmExposition = `# HELP vllm:num_requests_running Number of requests in model execution batches.
# TYPE vllm:num_requests_running gauge
vllm:num_requests_running{engine="0",model_name="llama"} 3.0
# HELP vllm:kv_cache_usage_perc KV-cache usage. 1 means 100 percent usage.
# TYPE vllm:kv_cache_usage_perc gauge
vllm:kv_cache_usage_perc{engine="0",model_name="llama"} 0.42
# HELP vllm:request_success_total Count of successfully processed requests.
# TYPE vllm:request_success_total counter
vllm:request_success_total{engine="0",finished_reason="stop",model_name="llama"} 7.0
# HELP vllm:request_success_created Count of successfully processed requests.
# TYPE vllm:request_success_created gauge
vllm:request_success_created{engine="0",finished_reason="stop",model_name="llama"} 1.7537953269356403e+09
`

func TestServeBadTargets(t *testing.T) {
	runtime.GC()
	var ms0 runtime.MemStats
	runtime.ReadMemStats(&ms0)
	baseHeap := ms0.HeapInuse
	var hugeMax atomic.Int64 // the most one scrape of /huge received
	mux := http.NewServeMux()
	mux.HandleFunc("/good", func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, vllmExposition) })
	mux.HandleFunc("/malformed", func(w http.ResponseWriter, _ *http.Request) {
		io.WriteString(w, "# TYPE a gauge\na 1\nb{x=\"1\" 2\nc 3\n")
	})
	mux.HandleFunc("/huge", func(w http.ResponseWriter, r *http.Request) {
		// Lines written a thousand at a time: under -race on a loaded machine,
		// a write per line could not send 8 MB within the scrape timeout.
		line := bytes.Repeat([]byte(strings.Repeat("x", 100)+" 1\n"), 1000)
		written := int64(0)
		defer func() {
			for {
				if m := hugeMax.Load(); written <= m || hugeMax.CompareAndSwap(m, written) {
					return
				}
			}
		}()
		for i := 0; i < 2_000; i++ { // 200 MB unless the scraper hangs up
			n, err := w.Write(line)
			written += int64(n)
			if err != nil || r.Context().Err() != nil {
				return
			}
		}
	})
	mux.HandleFunc("/unknown", func(w http.ResponseWriter, _ *http.Request) {
		io.WriteString(w, "# TYPE nv_inference_request_success counter\nnv_inference_request_success{model=\"m\"} 3\n")
	})
	mux.HandleFunc("/many", func(w http.ResponseWriter, _ *http.Request) {
		for i := 0; i < 500; i++ {
			fmt.Fprintf(w, "series{i=\"%d\"} 1\n", i)
		}
	})
	target := httptest.NewServer(mux)
	defer target.Close()
	host := strings.TrimPrefix(target.URL, "http://")

	yml := fmt.Sprintf(`global:
  scrape_interval: 1s
  scrape_timeout: 1s
  evaluation_interval: 1s
servescope:
  keep_metrics: [series] # /many's, so that its sample limit is reached
scrape_configs:
  - job_name: unknown
    metrics_path: /unknown
    static_configs: [{targets: ['%[1]s']}]
  - job_name: good
    metrics_path: /good
    static_configs: [{targets: ['%[1]s'], labels: {namespace: serving, pod: vllm-0}}]
  - job_name: malformed
    metrics_path: /malformed
    static_configs: [{targets: ['%[1]s']}]
  - job_name: huge
    metrics_path: /huge
    body_size_limit: 1MB
    static_configs: [{targets: ['%[1]s']}]
  - job_name: many
    metrics_path: /many
    sample_limit: 100
    static_configs: [{targets: ['%[1]s']}]
`, host)
	s := start(t, yml, t.TempDir())

	want := map[string]string{
		"good":      "",
		"unknown":   "",
		"malformed": "parse error at line 3",
		"huge":      "body size limit exceeded",
		"many":      "sample limit exceeded",
	}
	proc.Eventually(t, "every target scraped with the expected outcome", 30*time.Second, func() (bool, string) {
		_, r := s.get(t, "/api/v1/targets", nil)
		var td targetsData
		if err := json.Unmarshal(r.Data, &td); err != nil {
			t.Fatal(err)
		}
		ok := len(td.ActiveTargets) == len(want)
		for _, at := range td.ActiveTargets {
			w := want[at.ScrapePool]
			switch {
			case w == "" && at.Health != "up":
				ok = false
			case at.ScrapePool == "good" && at.Exporter != "vllm":
				ok = false
			case at.ScrapePool == "unknown" && !at.Unrecognised:
				ok = false
			case w != "" && (at.Health != "down" || !strings.Contains(at.LastError, w)):
				ok = false
			}
		}
		return ok, string(r.Data)
	})

	// The good target kept its schedule while the others failed: at a 1 s
	// interval, several scrapes land in the last 5 s.
	proc.Eventually(t, "good target keeps scraping", 30*time.Second, func() (bool, string) {
		got := s.query(t, `count_over_time(up{job="good"}[5s])`)
		for _, v := range got {
			return v >= "4", v
		}
		return false, "no samples"
	})
	if got := s.query(t, `vllm:kv_cache_usage_perc{pod="vllm-0"}`); len(got) != 1 {
		t.Errorf("good target's samples missing: %v", got)
	}
	// The unrecognised target is scraped, but nothing reads its family, so
	// it is not stored (servescope.keep_metrics would keep it).
	if got := s.query(t, `nv_inference_request_success`); len(got) != 0 {
		t.Errorf("unrecognised target's unread family stored: %v", got)
	}
	for q, want := range map[string]string{`scrape_samples_scraped{job="unknown"}`: "1", `scrape_samples_post_metric_relabeling{job="unknown"}`: "0"} {
		got := s.query(t, q)
		if len(got) != 1 {
			t.Errorf("unrecognised target: %s = %v, want one series", q, got)
		}
		for _, v := range got {
			if v != want {
				t.Errorf("unrecognised target: %s = %s, want %s", q, v, want)
			}
		}
	}
	// The catalog's recording rules run in the embedded rule manager.
	proc.Eventually(t, "recording rules evaluated", 30*time.Second, func() (bool, string) {
		got := s.query(t, `servescope:kv_cache_usage_ratio:avg`)
		for _, v := range got {
			return v == "0.42", fmt.Sprint(got)
		}
		return false, "no recorded series"
	})
	if got := s.query(t, `up{job=~"malformed|huge|many"}`); len(got) != 3 {
		t.Errorf("failed targets should have up=0 series: %v", got)
	} else {
		for m, v := range got {
			if v != "0" {
				t.Errorf("%s = %s, want 0", m, v)
			}
		}
	}
	// The scraper hung up on the huge target near the limit: what the target
	// managed to write is bounded by the limit plus socket buffers, far
	// below its 200 MB.
	// The scraper reads at most the limit and discards the rest, so memory
	// stays flat although a single scrape of /huge sent megabytes. (The
	// scrape filter stops reading the target at the limit, where
	// Prometheus's client drained the body: a few MiB of socket buffers
	// are what the target still writes.)
	if w := hugeMax.Load(); w < 2<<20 {
		t.Errorf("huge target sent only %d bytes in one scrape; the test needs a body far over the limit", w)
	}
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	// The bound covers the server's own footprint (store head, catalog,
	// the engine's parsed-query cache) and other tests' leftovers in this
	// process, and is far below one retained body.
	if grown := int64(ms.HeapInuse) - int64(baseHeap); grown > 96<<20 {
		t.Errorf("heap grew by %d MiB while scraping a %d MiB body with a 1 MiB limit", grown>>20, hugeMax.Load()>>20)
	}

	// A bad query is Prometheus's error JSON with HTTP 400.
	code, r := s.get(t, "/api/v1/query", url.Values{"query": {"sum(rate(x[1m])"}})
	if code != 400 || r.Status != "error" || r.ErrorType != "bad_data" || !strings.Contains(r.Error, "parse error") {
		t.Errorf("bad query: %d %+v", code, r)
	}
	code, r = s.get(t, "/api/v1/query_range", url.Values{"query": {"up"}, "start": {"1"}, "end": {"0"}, "step": {"1"}})
	if code != 400 || r.ErrorType != "bad_data" {
		t.Errorf("bad range: %d %+v", code, r)
	}

	// Metadata from the targets' TYPE and HELP lines, and build info.
	code, r = s.get(t, "/api/v1/metadata", url.Values{"metric": {"vllm:num_requests_running"}})
	if code != 200 || !strings.Contains(string(r.Data), `"vllm:num_requests_running":[{"type":"gauge","help":"Number of requests in model execution batches.","unit":""}]`) {
		t.Errorf("metadata: %d %s", code, r.Data)
	}
	code, r = s.get(t, "/api/v1/status/buildinfo", nil)
	if code != 200 || !strings.Contains(string(r.Data), `"goVersion":"go1.`) {
		t.Errorf("buildinfo: %d %s", code, r.Data)
	}
	// The embedded status pages: the loaded config, the head's
	// cardinality, the reload status, as Prometheus shows its own.
	for _, c := range []struct{ path, want string }{
		{"/api/v1/status/config", "job_name: good"},
		{"/api/v1/status/tsdb", `{"name":"job=good","value":`},
		{"/api/v1/status/runtimeinfo", `"reloadConfigSuccess":true`},
		{"/api/v1/query_exemplars", `[]`},
	} {
		if code, r = s.get(t, c.path, url.Values{"query": {"up"}}); code != 200 || !strings.Contains(string(r.Data), c.want) {
			t.Errorf("%s: %d %.400s, want %s", c.path, code, r.Data, c.want)
		}
	}

	// Health, readiness and our own metrics.
	for _, path := range []string{"/-/healthy", "/-/ready"} {
		resp, err := http.Get(s.base + path)
		if err != nil || resp.StatusCode != 200 {
			t.Errorf("%s: %v %v", path, err, resp)
		}
		if resp != nil {
			resp.Body.Close()
		}
	}
	resp, err := http.Get(s.base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, m := range []string{"servescope_scrape_duration_seconds_bucket{job=\"good\"", "servescope_samples_ingested_total{job=\"good\"}", "servescope_head_series", "servescope_build_info{", "servescope_query_duration_seconds_bucket{kind=\"instant\""} {
		if !strings.Contains(string(body), m) {
			t.Errorf("/metrics lacks %s", m)
		}
	}
}

// TestStalenessAndRestart removes a file_sd target (its series go stale
// at once) and restarts the server on the same store (the data is still
// there).
func TestStalenessAndRestart(t *testing.T) {
	t.Parallel()
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, vllmExposition) }))
	defer target.Close()
	host := strings.TrimPrefix(target.URL, "http://")
	dir := t.TempDir()
	sd := filepath.Join(dir, "targets.json")
	writeSD := func(targets ...string) {
		b, _ := json.Marshal([]map[string]any{{"targets": targets, "labels": map[string]string{"pod": "vllm-0"}}})
		if err := os.WriteFile(sd+".tmp", b, 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(sd+".tmp", sd); err != nil {
			t.Fatal(err)
		}
	}
	writeSD(host)
	yml := `global:
  scrape_interval: 1s
  scrape_timeout: 1s
scrape_configs:
  - job_name: vllm
    file_sd_configs: [{files: ['` + sd + `'], refresh_interval: 1s}]
`
	s := start(t, yml, dir)
	proc.Eventually(t, "target scraped", 30*time.Second, func() (bool, string) {
		got := s.query(t, `vllm:num_requests_running{job="vllm"}`)
		return len(got) == 1, fmt.Sprint(got)
	})

	writeSD() // the target vanishes
	proc.Eventually(t, "series stale after the target vanished", 30*time.Second, func() (bool, string) {
		got := s.query(t, `vllm:num_requests_running{job="vllm"}`)
		return len(got) == 0, fmt.Sprint(got)
	})
	s.stop()

	s2 := start(t, yml, dir)
	code, r := s2.get(t, "/api/v1/query", url.Values{"query": {`max_over_time(vllm:kv_cache_usage_perc{job="vllm"}[1h])`}})
	if code != 200 || !strings.Contains(string(r.Data), `"0.42"`) {
		t.Errorf("data written before the restart is gone: %d %s", code, r.Data)
	}
}
