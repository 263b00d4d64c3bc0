package app

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/servescope/servescope/internal/testutil/proc"
)

// TestEmbeddedExemplars scrapes an OpenMetrics target whose histogram
// carries exemplars and reads them back through /api/v1/query_exemplars,
// as Prometheus with its exemplar storage does; a query that does not
// parse is bad data.
func TestEmbeddedExemplars(t *testing.T) {
	t.Parallel()
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/openmetrics-text; version=1.0.0; charset=utf-8")
		fmt.Fprint(w, `# TYPE vllm:e2e_request_latency_seconds histogram
# HELP vllm:e2e_request_latency_seconds Histogram of end to end request latency in seconds.
vllm:e2e_request_latency_seconds_bucket{model_name="llama",le="1.0"} 3 # {trace_id="4bf92f3577b34da6"} 0.7 1700000000.123
vllm:e2e_request_latency_seconds_bucket{model_name="llama",le="+Inf"} 4
vllm:e2e_request_latency_seconds_count{model_name="llama"} 4
vllm:e2e_request_latency_seconds_sum{model_name="llama"} 5.2
# EOF
`)
	}))
	t.Cleanup(target.Close)
	host := strings.TrimPrefix(target.URL, "http://")
	// By default the histogram is stored as one native histogram with
	// custom buckets, carrying its buckets' exemplars; with
	// keep_classic_histograms, the exemplar stays on its le series.
	var s *started
	for _, tc := range []struct{ name, section, query, le string }{
		{"nhcb", "", `histogram_quantile(0.9, rate(vllm:e2e_request_latency_seconds[5m]))`, ""},
		{"classic", "servescope:\n  keep_classic_histograms: true\n", `histogram_quantile(0.9, rate(vllm:e2e_request_latency_seconds_bucket[5m]))`, `"le":"1.0"`},
	} {
		s = start(t, fmt.Sprintf("global: {scrape_interval: 1s}\n%sscrape_configs:\n  - job_name: vllm\n    static_configs: [{targets: ['%s']}]\n", tc.section, host), t.TempDir())
		params := url.Values{"query": {tc.query}, "start": {"1699999000"}, "end": {fmt.Sprint(time.Now().Add(time.Hour).Unix())}}
		proc.Eventually(t, tc.name+": the scraped exemplar", 30*time.Second, func() (bool, string) {
			code, r := s.get(t, "/api/v1/query_exemplars", params)
			data := string(r.Data)
			return code == 200 && strings.Contains(data, `"exemplars":[{"labels":{"trace_id":"4bf92f3577b34da6"},"value":"0.7","timestamp":1700000000.123}]`) &&
				strings.Contains(data, `"__name__":"vllm:e2e_request_latency_seconds`) && (tc.le == "") != strings.Contains(data, `"le":`) && strings.Contains(data, tc.le), fmt.Sprint(code, " ", data)
		})
	}
	if code, r := s.get(t, "/api/v1/query_exemplars", url.Values{"query": {"sum("}}); code != 400 || r.ErrorType != "bad_data" {
		t.Errorf("sum(: %d %+v", code, r)
	}
}
