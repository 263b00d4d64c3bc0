package api

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/servescope/servescope/internal/analyze/query"
	"github.com/servescope/servescope/internal/analyze/rules"
	"github.com/servescope/servescope/internal/testutil/proc"
)

// answer is one HTTP answer of an API, decoded.
type answer struct {
	code   int
	header http.Header
	body   string
	env    map[string]any
}

func get(t *testing.T, method, u string) answer {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, u, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Origin", "http://grafana.example")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	a := answer{code: resp.StatusCode, header: resp.Header, body: string(b)}
	if len(b) > 0 {
		if err := json.Unmarshal(b, &a.env); err != nil {
			t.Fatalf("%s %s: not JSON: %v\n%s", method, u, err, b)
		}
	}
	return a
}

// The ways an answer of servescope is compared with the backend's.
const (
	same      = iota // the same code, envelope and data
	sameError        // an error: the same code and errorType
	sameShape        // the same code, and the backend's keys present at every level
	volatile         // same, after dropping the keys that change between two calls
)

// volatileKeys change between two calls to the same server (evaluation
// timings).
var volatileKeys = []string{"evaluationTime", "lastEvaluation"}

// TestExternalModeAgainstPrometheus runs Debian's Prometheus with an
// alerting and a recording rule and asks it and servescope in external
// mode (Remote as Querier and Backend) the same questions: metadata,
// rules, alerts, exemplars, the status pages, errors and OPTIONS answer
// the same, and no error names the backend's address. It skips when
// prometheus is not installed.
func TestExternalModeAgainstPrometheus(t *testing.T) {
	t.Parallel()
	bin, err := exec.LookPath("prometheus")
	if err != nil {
		t.Skip("Debian's prometheus is not installed; make test installs it (apt-get install prometheus)")
	}
	dir := t.TempDir()
	addr := proc.FreeAddr(t)
	write := func(name, text string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	write("rules.yml", `groups:
- name: servescope-test
  interval: 1s
  rules:
  - record: job:up:sum
    expr: sum by (job) (up)
  - alert: AlwaysFiring
    expr: vector(1)
    labels: {severity: info}
    annotations: {summary: always firing}
`)
	// A target with an exemplar, which the backend's exemplar storage keeps.
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/openmetrics-text; version=1.0.0; charset=utf-8")
		io.WriteString(w, "# TYPE latency_seconds histogram\n"+
			`latency_seconds_bucket{le="1.0"} 3 # {trace_id="4bf92f3577b34da6"} 0.7 1700000000.123`+"\n"+
			`latency_seconds_bucket{le="+Inf"} 4`+"\nlatency_seconds_count 4\nlatency_seconds_sum 5.2\n# EOF\n")
	}))
	t.Cleanup(target.Close)
	cfg := write("prometheus.yml", `global: {scrape_interval: 1s, evaluation_interval: 1s}
rule_files: [rules.yml]
scrape_configs:
- job_name: prometheus
  static_configs: [{targets: ['`+addr+`']}]
- job_name: exemplars
  static_configs: [{targets: ['`+strings.TrimPrefix(target.URL, "http://")+`']}]
`)
	proc.Start(t, dir, "prometheus", bin, "--config.file="+cfg, "--storage.tsdb.path="+filepath.Join(dir, "data"),
		"--web.listen-address="+addr, "--enable-feature=exemplar-storage")
	prom := "http://" + addr
	proc.WaitReady(t, "prometheus", prom, 60*time.Second)
	proc.Eventually(t, "the alert firing and the metadata scraped", 30*time.Second, func() (bool, string) {
		alerts := get(t, http.MethodGet, prom+"/api/v1/alerts").body
		md := get(t, http.MethodGet, prom+"/api/v1/metadata?metric=prometheus_build_info").body
		ex := get(t, http.MethodGet, prom+"/api/v1/query_exemplars?query=latency_seconds_bucket&start=1699999999").body
		return strings.Contains(alerts, `"firing"`) && strings.Contains(md, "gauge") && strings.Contains(ex, "4bf92f3577b34da6"),
			alerts + "\n" + md + "\n" + ex
	})

	remote, err := query.NewRemote(prom)
	if err != nil {
		t.Fatal(err)
	}
	api := New(Options{Querier: remote, Backend: remote, Targets: noTargets{}, Build: BuildInfo{Version: "1.2.3", Revision: "abc"}})
	api.HandleRules(fixedRules{})
	srv := httptest.NewServer(api)
	t.Cleanup(srv.Close)

	for _, tt := range []struct {
		method, path string
		how          int
		code         int
	}{
		{"GET", "/api/v1/metadata?metric=prometheus_build_info", same, 200},
		{"GET", "/api/v1/rules", volatile, 200},
		{"GET", "/api/v1/rules?type=alert", volatile, 200},
		{"GET", "/api/v1/alerts", same, 200},
		{"GET", "/api/v1/query_exemplars?query=up&start=0&end=4000000000", same, 200},
		{"GET", "/api/v1/query_exemplars?query=" + url.QueryEscape("histogram_quantile(0.9, rate(latency_seconds_bucket[5m]))") + "&start=1699999999", same, 200},
		{"GET", "/api/v1/query_exemplars?query=sum(", sameError, 400},
		{"GET", "/api/v1/query_exemplars?query=up&start=10&end=5", sameError, 400},
		{"GET", "/api/v1/status/config", same, 200},
		{"GET", "/api/v1/status/flags", same, 200},
		{"GET", "/api/v1/status/runtimeinfo", sameShape, 200},
		{"GET", "/api/v1/status/tsdb", sameShape, 200},
		{"GET", "/api/v1/status/buildinfo", sameShape, 200},
		{"GET", "/api/v1/format_query?query=" + url.QueryEscape(`sum by(job)(rate(up{job="prometheus"}[5m]))`), same, 200},
		{"GET", "/api/v1/format_query?query=sum(", sameError, 400},
		{"GET", "/api/v1/query?query=sum(", sameError, 400},
		{"GET", "/api/v1/query?query=" + url.QueryEscape(`{__name__=~"up|job:up:sum"}`), sameShape, 200},
		{"GET", "/api/v1/query_range?query=up&start=x&end=1&step=1", sameError, 400},
		{"GET", "/api/v1/label/job/values", same, 200},
		{"OPTIONS", "/api/v1/query", same, 204},
		{"OPTIONS", "/api/v1/status/flags", same, 204},
	} {
		t.Run(tt.method+" "+tt.path, func(t *testing.T) {
			want, got := get(t, tt.method, prom+tt.path), get(t, tt.method, srv.URL+tt.path)
			if want.code != tt.code {
				t.Fatalf("the backend answered %d, the test expects %d: %s", want.code, tt.code, want.body)
			}
			if got.code != want.code {
				t.Fatalf("code %d, the backend's %d\nservescope: %s\nbackend:    %s", got.code, want.code, got.body, want.body)
			}
			for _, h := range []string{"Content-Type", "Access-Control-Allow-Origin", "Access-Control-Allow-Methods", "Vary"} {
				if g, w := got.header.Get(h), want.header.Get(h); g != w {
					t.Errorf("header %s = %q, the backend's %q", h, g, w)
				}
			}
			if strings.Contains(got.body, addr) && !strings.Contains(want.body, addr) {
				t.Errorf("servescope's answer names the backend's address %s: %s", addr, got.body)
			}
			switch tt.how {
			case same:
				if !equalJSON(got.env, want.env) {
					t.Errorf("answers differ\nservescope: %s\nbackend:    %s", got.body, want.body)
				}
			case volatile:
				if !equalJSON(drop(got.env, volatileKeys), drop(want.env, volatileKeys)) {
					t.Errorf("answers differ\nservescope: %s\nbackend:    %s", got.body, want.body)
				}
			case sameError:
				if got.env["status"] != "error" || got.env["errorType"] != want.env["errorType"] || got.env["error"] == "" {
					t.Errorf("error differs\nservescope: %s\nbackend:    %s", got.body, want.body)
				}
			case sameShape:
				if missing := missingKeys(got.env, want.env, ""); len(missing) > 0 {
					t.Errorf("servescope's answer lacks %v\nservescope: %s\nbackend:    %s", missing, got.body, want.body)
				}
			}
		})
	}

	// Embedded mode answers in the backend's shapes: every key Prometheus
	// sends is there, at every level.
	reg := prometheus.NewRegistry()
	emb := New(Options{Querier: remote, Targets: noTargets{}, Gatherer: reg, Build: BuildInfo{Version: "1.2.3"},
		Status: Status{Config: func() string { return "global: {}\n" }, Retention: "15d",
			TSDB: func(int) (TSDBStatus, error) {
				st := []TSDBStat{{Name: "up", Value: 1}}
				return TSDBStatus{SeriesCountByMetricName: st, LabelValueCountByLabelName: st, MemoryInBytesByLabelName: st, SeriesCountByLabelValuePair: st}, nil
			}}})
	emb.HandleRules(firingRules{})
	embSrv := httptest.NewServer(emb)
	t.Cleanup(embSrv.Close)
	for _, path := range []string{"/api/v1/rules", "/api/v1/alerts", "/api/v1/status/config", "/api/v1/status/runtimeinfo",
		"/api/v1/status/tsdb", "/api/v1/status/buildinfo", "/api/v1/query_exemplars?query=up"} {
		want, got := get(t, http.MethodGet, prom+path), get(t, http.MethodGet, embSrv.URL+path)
		if got.code != want.code {
			t.Errorf("embedded GET %s = %d, Prometheus %d", path, got.code, want.code)
		}
		if missing := missingKeys(got.env, want.env, ""); len(missing) > 0 {
			t.Errorf("embedded GET %s lacks %v\nservescope: %s\nPrometheus: %s", path, missing, got.body, want.body)
		}
	}

	// A backend that does not answer: Prometheus's error envelope,
	// without its address.
	dead := "http://" + proc.FreeAddr(t)
	gone, err := query.NewRemote(dead)
	if err != nil {
		t.Fatal(err)
	}
	deadSrv := httptest.NewServer(New(Options{Querier: gone, Backend: gone, Targets: noTargets{}}))
	t.Cleanup(deadSrv.Close)
	for _, path := range []string{"/api/v1/query?query=up", "/api/v1/query_range?query=up&start=1&end=2&step=1",
		"/api/v1/series?match[]=up", "/api/v1/labels", "/api/v1/metadata", "/api/v1/rules", "/api/v1/status/config"} {
		got := get(t, http.MethodGet, deadSrv.URL+path)
		host := strings.TrimPrefix(dead, "http://")
		if got.code != http.StatusInternalServerError || got.env["errorType"] != "unavailable" ||
			!strings.Contains(got.body, "connection refused") || strings.Contains(got.body, host) {
			t.Errorf("GET %s with the backend down = %d %s, want 500 unavailable, connection refused, no address", path, got.code, got.body)
		}
	}
}

// fixedRules is a rule source that external mode must not read.
type fixedRules struct{}

func (fixedRules) Status() []rules.GroupStatus {
	return []rules.GroupStatus{{Name: "embedded-idle", Rules: []rules.RuleStatus{{Type: "recording", Name: "not:the:backend"}}}}
}

// firingRules is an embedded rule source with Prometheus's test rules,
// the alert firing.
type firingRules struct{}

func (firingRules) Status() []rules.GroupStatus {
	at := time.Unix(1700000000, 0)
	return []rules.GroupStatus{{Name: "servescope-test", File: "rules.yml", Interval: time.Second, LastEvaluation: at, Rules: []rules.RuleStatus{
		{Type: "recording", Name: "job:up:sum", Query: "sum by (job) (up)", Health: "ok", LastEvaluation: at},
		{Type: "alerting", Name: "AlwaysFiring", Query: "vector(1)", Health: "ok", State: "firing", LastEvaluation: at,
			Labels: map[string]string{"severity": "info"}, Annotations: map[string]string{"summary": "always firing"},
			Alerts: []rules.AlertStatus{{Labels: map[string]string{"alertname": "AlwaysFiring", "severity": "info"}, Annotations: map[string]string{"summary": "always firing"}, State: "firing", ActiveAt: at, Value: 1}}},
	}}}
}

func equalJSON(a, b any) bool {
	x, _ := json.Marshal(a) // maps marshal with sorted keys
	y, _ := json.Marshal(b)
	return string(x) == string(y)
}

// drop removes keys at every level.
func drop(v any, keys []string) any {
	switch v := v.(type) {
	case map[string]any:
		out := map[string]any{}
		for k, x := range v {
			if !slices.Contains(keys, k) {
				out[k] = drop(x, keys)
			}
		}
		return out
	case []any:
		out := make([]any, len(v))
		for i, x := range v {
			out[i] = drop(x, keys)
		}
		return out
	}
	return v
}

// missingKeys lists the keys of want, at every level, that got lacks
// (arrays compare their first elements; a value of another JSON type
// counts as missing).
func missingKeys(got, want any, at string) []string {
	var out []string
	switch w := want.(type) {
	case map[string]any:
		g, ok := got.(map[string]any)
		if !ok {
			return []string{at + " (not an object)"}
		}
		for k, wv := range w {
			gv, ok := g[k]
			if !ok {
				out = append(out, at+"."+k)
				continue
			}
			out = append(out, missingKeys(gv, wv, at+"."+k)...)
		}
	case []any:
		g, ok := got.([]any)
		if !ok {
			return []string{at + " (not an array)"}
		}
		if len(w) > 0 && len(g) > 0 {
			out = append(out, missingKeys(g[0], w[0], at+"[0]")...)
		}
	}
	slices.Sort(out)
	return out
}
