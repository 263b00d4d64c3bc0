package scrape

import (
	"bytes"
	"cmp"
	"compress/gzip"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/model/value"
	"github.com/prometheus/prometheus/tsdb/chunkenc"

	"github.com/servescope/servescope/internal/config"
	"github.com/servescope/servescope/internal/schema"
	"github.com/servescope/servescope/internal/testutil/proc"
)

// serveWith serves body with a content type, gzip-compressed when gzipped
// and the scraper accepts it.
func serveWith(t *testing.T, body, contentType string, gzipped bool) *target {
	t.Helper()
	tg := &target{}
	tg.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tg.hits.Add(1)
		w.Header().Set("Content-Type", contentType)
		if gzipped && strings.Contains(r.Header.Get("Accept-Encoding"), "gzip") {
			w.Header().Set("Content-Encoding", "gzip")
			gz := gzip.NewWriter(w)
			_, _ = io.WriteString(gz, body)
			_ = gz.Close()
			return
		}
		_, _ = io.WriteString(w, body)
	}))
	t.Cleanup(tg.Close)
	return tg
}

// omExposition is exposition in OpenMetrics, with _created lines.
const omExposition = `# TYPE vllm:num_requests_running gauge
vllm:num_requests_running{model_name="m"} 3
# TYPE vllm:request_success counter
vllm:request_success_total{model_name="m",finished_reason="stop"} 10
vllm:request_success_created{model_name="m",finished_reason="stop"} 1.7e9
# TYPE python_gc_objects_collected counter
python_gc_objects_collected_total{generation="0"} 5
python_gc_objects_collected_total{generation="1"} 6
# TYPE process_cpu_seconds counter
process_cpu_seconds_total 1
# TYPE node_load1 gauge
node_load1 0.5
# EOF
`

// unreadHistExposition adds to exposition an unread classic histogram and a
// read one.
const unreadHistExposition = exposition + `# HELP vllm:request_prompt_tokens Unread.
# TYPE vllm:request_prompt_tokens histogram
vllm:request_prompt_tokens_bucket{model_name="m",le="1"} 1
vllm:request_prompt_tokens_bucket{model_name="m",le="+Inf"} 2
vllm:request_prompt_tokens_sum{model_name="m"} 3
vllm:request_prompt_tokens_count{model_name="m"} 2
vllm:request_prompt_tokens_bucket{model_name="n",le="1"} 1
vllm:request_prompt_tokens_bucket{model_name="n",le="+Inf"} 2
vllm:request_prompt_tokens_sum{model_name="n"} 3
vllm:request_prompt_tokens_count{model_name="n"} 2
# TYPE vllm:e2e_request_latency_seconds histogram
vllm:e2e_request_latency_seconds_bucket{model_name="m",le="1"} 1
vllm:e2e_request_latency_seconds_bucket{model_name="m",le="+Inf"} 2
vllm:e2e_request_latency_seconds_sum{model_name="m"} 3
vllm:e2e_request_latency_seconds_count{model_name="m"} 2
`

// forwardProxy is a user's own proxy: a plain forward proxy that counts
// its requests.
func forwardProxy(t *testing.T) (*httptest.Server, *atomic.Int64) {
	t.Helper()
	var n atomic.Int64
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		req, _ := http.NewRequestWithContext(r.Context(), r.Method, r.URL.String(), http.NoBody)
		req.Header = r.Header.Clone()
		resp, err := http.DefaultTransport.RoundTrip(req)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		defer resp.Body.Close()
		for k, vs := range resp.Header {
			w.Header()[k] = vs
		}
		dropHop(w.Header())
		w.WriteHeader(resp.StatusCode)
		_, _ = io.Copy(w, resp.Body)
	}))
	t.Cleanup(s.Close)
	return s, &n
}

// TestPrefilterScrape scrapes targets through the pre-filter and checks
// that the store, the target status and the errors are what the keep rule
// alone gives: plain, gzip and OpenMetrics targets, a job with its own
// proxy (not pre-filtered), malformed lines in a read and an unread
// family (both fail the scrape, located at the target's line), an
// unreachable target (the dial error, not the proxy's status), and a body
// over body_size_limit in unread lines (the limit counts what the target
// sent).
func TestPrefilterScrape(t *testing.T) {
	cat, err := schema.New(schema.Options{})
	if err != nil {
		t.Fatal(err)
	}
	plain := serve(t, exposition)
	// A scrape URL of two jobs, one filtered and one not, would mix their
	// counts (proxy.go): a target per job.
	hist := []*target{serve(t, unreadHistExposition), serve(t, unreadHistExposition), serve(t, unreadHistExposition), serve(t, unreadHistExposition)}
	gz := serveWith(t, exposition, "text/plain; version=0.0.4", true)
	om := serveWith(t, omExposition, "application/openmetrics-text; version=1.0.0; charset=utf-8", false)
	own := serve(t, exposition)
	ownProxy, ownHits := forwardProxy(t)
	badRead := serve(t, exposition+"vllm:num_requests_running{model_name=\"x\" 3\n")           // line 13
	badUnread := serve(t, exposition+"python_gc_objects_collected_total{generation=\"x\" 3\n") // line 13
	big := serve(t, "vllm:num_requests_running 1\n"+series(2000))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	gone := ln.Addr().String()
	_ = ln.Close()
	// A target on a unix socket: Prometheus's own dial for it, not the
	// filter's (pipe.go).
	sockDir, err := os.MkdirTemp("", "sock")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(sockDir) })
	sock := filepath.Join(sockDir, "s")
	sockLn, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	sockSrv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; version=0.0.4")
		_, _ = io.WriteString(w, exposition)
	})}
	go func() { _ = sockSrv.Serve(sockLn) }()
	t.Cleanup(func() { _ = sockSrv.Close() })

	host := func(tg *target) string { return strings.TrimPrefix(tg.URL, "http://") }
	yml := fmt.Sprintf(`global:
  scrape_interval: 1s
  scrape_timeout: 1s
scrape_configs:
  - job_name: "plain: a colon"
    static_configs: [{targets: [%[1]q]}]
  - job_name: hist
    static_configs: [{targets: [%[10]q]}]
  - job_name: histown
    proxy_url: %[4]q
    static_configs: [{targets: [%[11]q]}]
  - job_name: histclassic
    always_scrape_classic_histograms: true
    static_configs: [{targets: [%[12]q]}]
  - job_name: histclassicown
    always_scrape_classic_histograms: true
    proxy_url: %[4]q
    static_configs: [{targets: [%[13]q]}]
  - job_name: gzip
    static_configs: [{targets: [%[2]q]}]
  - job_name: om
    static_configs: [{targets: [%[3]q]}]
  - job_name: own
    proxy_url: %[4]q
    static_configs: [{targets: [%[5]q]}]
  - job_name: badread
    static_configs: [{targets: [%[6]q]}]
  - job_name: badunread
    static_configs: [{targets: [%[7]q]}]
  - job_name: big
    body_size_limit: 10KB
    static_configs: [{targets: [%[8]q]}]
  - job_name: gone
    static_configs: [{targets: [%[9]q]}]
  - job_name: unix
    static_configs: [{targets: ["localhost"], labels: {__unix_socket__: %[14]q}}]
`, host(plain), host(gz), host(om), ownProxy.URL, host(own), host(badRead), host(badUnread), host(big), gone, host(hist[0]), host(hist[1]), host(hist[2]), host(hist[3]), sock)
	cfg, err := config.Parse("prefilter.yml", []byte(yml), nil)
	if err != nil {
		t.Fatal(err)
	}
	m, db := run(t, cfg, Options{Reads: cat.Reads(), LocateEvery: 100 * time.Millisecond})

	type want struct {
		err     string
		sent    int
		dropped int // samples the pre-filter dropped; -1: the job is not pre-filtered
		kept    int // 2 when 0
	}
	wants := map[string]want{
		"plain: a colon": {sent: 7, dropped: 4}, // the _created line goes to the parser
		"gzip":           {sent: 7, dropped: 4},
		"om":             {sent: 7, dropped: 4}, // the _created line goes to the parser
		"own":            {sent: 7, dropped: -1},
		"unix":           {sent: 7, dropped: -1},
		// Prometheus counts an NHCB histogram once: the two unread ones
		// count 2, not their 8 lines; with the classic series too, 2+8
		// (and the read one 1+4).
		"hist":           {sent: 10, dropped: 6, kept: 3},
		"histown":        {sent: 10, dropped: -1, kept: 3},
		"histclassic":    {sent: 22, dropped: 14, kept: 7},
		"histclassicown": {sent: 22, dropped: -1, kept: 7},
		"badread":        {err: "parse error at line 13:"},
		"badunread":      {err: "parse error at line 13:"},
		"big":            {err: "body size limit exceeded (body_size_limit: 10KiB"},
		"gone":           {err: "connection refused"},
	}
	byJob := map[string]Target{}
	proc.Eventually(t, "every target scraped", 30*time.Second, func() (bool, string) {
		clear(byJob)
		for _, st := range m.Active() {
			byJob[st.ScrapePool] = st
		}
		for job, w := range wants {
			st := byJob[job]
			if w.err == "" && st.SeriesScraped == nil || w.err != "" && !strings.Contains(st.LastError, w.err) {
				return false, fmt.Sprintf("%s: %+v", job, st)
			}
		}
		return true, ""
	})
	for job, w := range wants {
		st := byJob[job]
		dropped, _, filtered := m.filter.last(st.ScrapeURL)
		if filtered != (w.dropped >= 0) {
			t.Errorf("%s: pre-filtered %v, want %v", job, filtered, w.dropped >= 0)
		}
		if w.err != "" {
			if strings.Contains(st.LastError, "502") {
				t.Errorf("%s: error %q", job, st.LastError)
			}
			continue
		}
		kept := cmp.Or(w.kept, 2)
		if st.Health != "up" || *st.SeriesScraped != w.sent || *st.SeriesKept != kept {
			t.Errorf("%s: %s, seriesScraped %d, seriesKept %d; want up, %d, %d (%s)", job, st.Health, *st.SeriesScraped, *st.SeriesKept, w.sent, kept, st.LastError)
		}
		if w.dropped >= 0 && dropped != w.dropped {
			t.Errorf("%s: the pre-filter dropped %d lines, want %d", job, dropped, w.dropped)
		}
	}
	if ownHits.Load() == 0 {
		t.Error("the job's own proxy was not used")
	}
	if got := storedNames(t, db); !slices.Equal(got, []string{"vllm:e2e_request_latency_seconds", "vllm:e2e_request_latency_seconds_bucket", "vllm:e2e_request_latency_seconds_count", "vllm:e2e_request_latency_seconds_sum", "vllm:num_requests_running", "vllm:request_success_total"}) {
		t.Errorf("stored %q", got)
	}
}

// TestPrefilterStaleness: the series of a target that goes away end with a
// staleness marker, as without the pre-filter.
func TestPrefilterStaleness(t *testing.T) {
	cat, err := schema.New(schema.Options{})
	if err != nil {
		t.Fatal(err)
	}
	tg := serve(t, exposition)
	sd := filepath.Join(t.TempDir(), "targets.json")
	if err := os.WriteFile(sd, fmt.Appendf(nil, `[{"targets": [%q]}]`, strings.TrimPrefix(tg.URL, "http://")), 0o600); err != nil {
		t.Fatal(err)
	}
	yml := "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\nscrape_configs:\n  - job_name: vllm\n    file_sd_configs: [{files: [%q]}]\n"
	cfg, err := config.Parse("stale.yml", fmt.Appendf(nil, yml, sd), nil)
	if err != nil {
		t.Fatal(err)
	}
	m, db := run(t, cfg, Options{Reads: cat.Reads()})
	proc.Eventually(t, "the target scraped through the filter", 30*time.Second, func() (bool, string) {
		ts := m.Active()
		if len(ts) != 1 || ts[0].SeriesScraped == nil {
			return false, fmt.Sprintf("%+v", ts)
		}
		_, _, ok := m.filter.last(ts[0].ScrapeURL)
		return ok, "not through the filter"
	})
	// The target leaves discovery (a pool removed by a reload gets no
	// markers from Prometheus's scrape manager, with or without the filter).
	if err := os.WriteFile(sd, []byte(`[]`), 0o600); err != nil {
		t.Fatal(err)
	}
	proc.Eventually(t, "a staleness marker ends the series", 30*time.Second, func() (bool, string) {
		q, err := db.Queryable().Querier(math.MinInt64, math.MaxInt64)
		if err != nil {
			t.Fatal(err)
		}
		defer q.Close()
		ss := q.Select(t.Context(), false, nil, labels.MustNewMatcher(labels.MatchEqual, "__name__", "vllm:num_requests_running"))
		if !ss.Next() {
			return false, "no series"
		}
		it := ss.At().Iterator(nil)
		last := 0.0
		for it.Next() == chunkenc.ValFloat {
			_, last = it.At()
		}
		return value.IsStaleNaN(last), fmt.Sprintf("last value %v, targets %+v", last, m.Active())
	})
}

// proxyGet fetches u through the filter proxy as job.
func proxyGet(t *testing.T, p *filterProxy, job, u string, hdr http.Header) *http.Response {
	t.Helper()
	c := &http.Client{Transport: &http.Transport{Proxy: http.ProxyURL(p.proxyURL(job)), DisableCompression: true, DialContext: p.dialContext}}
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, u, http.NoBody)
	if err != nil {
		t.Fatal(err)
	}
	req.Header = hdr
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = resp.Body.Close() })
	return resp
}

// TestProxy: the proxy forwards the scrape's headers, passes protobuf and
// unfiltered jobs through byte for byte, and filters text.
func TestProxy(t *testing.T) {
	p := newFilterProxy(slog.New(slog.DiscardHandler))
	go p.serve()
	t.Cleanup(func() { _ = p.close() })
	keep := testKeep(t)
	p.setJobs(map[string]*jobFilter{"j": {keep: newNameDecisions(func(n string) bool { return keepsName(keep.Regex, n) })}}, keep.Regex.String())

	var seen http.Header
	proto := []byte("\x10\x0a\x01b\x00\xff binary")
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen = r.Header.Clone()
		if r.URL.Path == "/proto" {
			w.Header().Set("Content-Type", "application/vnd.google.protobuf; proto=io.prometheus.client.MetricFamily; encoding=delimited")
			_, _ = w.Write(proto)
			return
		}
		w.Header().Set("Content-Type", "text/plain; version=0.0.4")
		_, _ = io.WriteString(w, "a 1\nb 2\n")
	}))
	t.Cleanup(srv.Close)

	hdr := http.Header{"Accept": {"text/plain"}, "Authorization": {"Bearer x"}, "X-Prometheus-Scrape-Timeout-Seconds": {"3"}, "User-Agent": {"Prometheus/3"}}
	for _, tc := range []struct{ job, path, want string }{
		{"j", "/metrics?x=a%20b", "a 1\n"},
		{"other", "/metrics", "a 1\nb 2\n"},
		{"j", "/proto", string(proto)},
	} {
		resp := proxyGet(t, p, tc.job, srv.URL+tc.path, hdr.Clone())
		body, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusOK || !bytes.Equal(body, []byte(tc.want)) {
			t.Errorf("%s %s: %s %q, want %q", tc.job, tc.path, resp.Status, body, tc.want)
		}
		for k := range hdr {
			if seen.Get(k) != hdr.Get(k) {
				t.Errorf("%s: header %s %q reached the target as %q", tc.path, k, hdr.Get(k), seen.Get(k))
			}
		}
		if seen.Get("Proxy-Authorization") != "" {
			t.Error("the proxy's authorization reached the target")
		}
	}
	u, _ := url.Parse(srv.URL + "/metrics?x=a%20b")
	if d, _, ok := p.last(u.String()); !ok || d != 1 {
		t.Errorf("last scrape: dropped %d (%v), want 1", d, ok)
	}
	// A reload that keeps b too: no decision cached under the old keep.
	p.setJobs(map[string]*jobFilter{"j": {keep: newNameDecisions(func(string) bool { return true })}}, "all")
	resp := proxyGet(t, p, "j", u.String(), hdr.Clone())
	if body, _ := io.ReadAll(resp.Body); string(body) != "a 1\nb 2\n" {
		t.Errorf("after the keep changed: %q", body)
	}
}
