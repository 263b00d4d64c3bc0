package api

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/model"

	"github.com/servescope/servescope/internal/analyze/query"
)

type fixedExemplars struct{ start, end time.Time }

func (f *fixedExemplars) Exemplars(_ context.Context, q string, start, end time.Time) ([]query.ExemplarSeries, error) {
	if _, err := query.Format(q); err != nil {
		return nil, err
	}
	f.start, f.end = start, end
	return []query.ExemplarSeries{{SeriesLabels: model.LabelSet{"__name__": "x"},
		Exemplars: []query.Exemplar{{Labels: model.LabelSet{"trace_id": "t"}, Value: 0.5, Timestamp: 1500}}}}, nil
}

// TestEmbeddedStatusEndpoints serves each endpoint of embedded mode from
// its sources in Prometheus's shapes and error codes.
func TestEmbeddedStatusEndpoints(t *testing.T) {
	t.Parallel()
	reg := prometheus.NewRegistry()
	for name, v := range map[string]float64{metricReloadOK: 1, metricReloadTime: 1700000000, metricStart: 1690000000.5, metricHeadChunks: 42} {
		g := prometheus.NewGauge(prometheus.GaugeOpts{Name: name, Help: name})
		g.Set(v)
		reg.MustRegister(g)
	}
	var limit int
	status := Status{
		Config:    func() string { return "global:\n  scrape_interval: 15s\n" },
		Flags:     map[string]string{"storage.path": "./data"},
		Retention: "15d",
		TSDB: func(l int) (TSDBStatus, error) {
			limit = l
			return TSDBStatus{HeadStats: HeadStats{NumSeries: 7, MinTime: 1, MaxTime: 2},
				SeriesCountByMetricName: []TSDBStat{{Name: "up", Value: 7}}}, nil
		},
	}
	ex := &fixedExemplars{}
	a := New(Options{Querier: &fixedQuerier{}, Targets: noTargets{}, Gatherer: reg, Status: status, Exemplars: ex,
		Build: BuildInfo{Version: "1.2.3", Revision: "abc", GoVersion: "go1.26.8"}})
	bare := New(Options{Querier: &fixedQuerier{}, Targets: noTargets{}})
	for _, tt := range []struct {
		name string
		api  *API
		path string
		code int
		body string // the whole body, or with a trailing * its prefix
	}{
		{"format", a, "/api/v1/format_query?query=" + url.QueryEscape("sum by(job)(up)"), 200, `{"status":"success","data":"sum by (job) (up)"}`},
		{"format bad", a, "/api/v1/format_query?query=sum(", 400, `{"status":"error","errorType":"bad_data","error":"invalid parameter \"query\": 1:5: parse error: unclosed left parenthesis"}`},
		{"format empty", a, "/api/v1/format_query", 400, `{"status":"error","errorType":"bad_data","error":"invalid parameter \"query\": *`},
		{"parse", a, "/api/v1/parse_query?query=2", 200, `{"status":"success","data":{"type":"numberLiteral","val":"2"}}`},
		{"parse bad", a, "/api/v1/parse_query?query=sum(", 400, `{"status":"error","errorType":"bad_data",*`},
		{"exemplars", a, "/api/v1/query_exemplars?query=x&start=1&end=2", 200,
			`{"status":"success","data":[{"seriesLabels":{"__name__":"x"},"exemplars":[{"labels":{"trace_id":"t"},"value":"0.5","timestamp":1.5}]}]}`},
		{"exemplars bad query", a, "/api/v1/query_exemplars?query=sum(", 400, `{"status":"error","errorType":"bad_data","error":"invalid parameter \"query\": *`},
		{"exemplars bad span", a, "/api/v1/query_exemplars?query=x&start=10&end=5", 400, `{"status":"error","errorType":"bad_data","error":"end timestamp must not be before start timestamp"}`},
		{"exemplars without store", bare, "/api/v1/query_exemplars?query=x", 200, `{"status":"success","data":[]}`},
		{"exemplars without store bad", bare, "/api/v1/query_exemplars?query=sum(", 400, `{"status":"error","errorType":"bad_data",*`},
		{"config", a, "/api/v1/status/config", 200, `{"status":"success","data":{"yaml":"global:\n  scrape_interval: 15s\n"}}`},
		{"config none", bare, "/api/v1/status/config", 200, `{"status":"success","data":{"yaml":""}}`},
		{"flags", a, "/api/v1/status/flags", 200, `{"status":"success","data":{"storage.path":"./data"}}`},
		{"flags none", bare, "/api/v1/status/flags", 200, `{"status":"success","data":{}}`},
		{"tsdb", a, "/api/v1/status/tsdb?limit=3", 200, `{"status":"success","data":{"headStats":{"numSeries":7,"numLabelPairs":0,"chunkCount":42,"minTime":1,"maxTime":2},"seriesCountByMetricName":[{"name":"up","value":7}],"labelValueCountByLabelName":[],"memoryInBytesByLabelName":[],"seriesCountByLabelValuePair":[]}}`},
		{"tsdb limit 0", a, "/api/v1/status/tsdb?limit=0", 400, `{"status":"error","errorType":"bad_data","error":"limit must be a positive number"}`},
		{"tsdb limit big", a, "/api/v1/status/tsdb?limit=10001", 400, `{"status":"error","errorType":"bad_data","error":"limit must not exceed 10000"}`},
		{"tsdb no store", bare, "/api/v1/status/tsdb", 404, `{"status":"error","errorType":"not_found","error":"this servescope has no embedded store"}`},
		{"buildinfo", a, "/api/v1/status/buildinfo", 200, `{"status":"success","data":{"version":"1.2.3","revision":"abc","branch":"","buildUser":"","buildDate":"","goVersion":"go1.26.8"}}`},
		{"runtimeinfo", a, "/api/v1/status/runtimeinfo", 200, `{"status":"success","data":{"startTime":"2023-07-22T04:26:40.5Z",*`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			tt.api.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, tt.path, nil))
			body := strings.TrimSpace(rec.Body.String())
			ok := body == tt.body
			if p, found := strings.CutSuffix(tt.body, "*"); found {
				ok = strings.HasPrefix(body, p)
			}
			if rec.Code != tt.code || !ok {
				t.Errorf("GET %s = %d %s\nwant %d %s", tt.path, rec.Code, body, tt.code, tt.body)
			}
		})
	}
	if limit != 3 {
		t.Errorf("tsdb asked with limit %d, want 3", limit)
	}
	if ex.start.Unix() != 1 || ex.end.Unix() != 2 {
		t.Errorf("exemplars asked over [%s, %s]", ex.start, ex.end)
	}
	rec := httptest.NewRecorder()
	a.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/api/v1/status/runtimeinfo", nil))
	var ri struct {
		Data runtimeInfo `json:"data"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &ri); err != nil {
		t.Fatal(err)
	}
	if d := ri.Data; !d.ReloadConfigSuccess || d.LastConfigTime.Unix() != 1700000000 || d.StorageRetention != "15d" ||
		d.GoroutineCount == 0 || d.GOMAXPROCS == 0 || d.CWD == "" {
		t.Errorf("runtimeinfo = %+v", d)
	}
}

// TestOptionsAndCORS answers OPTIONS on any API path with 204 and no body,
// and sets the CORS headers when the request has an Origin, as Prometheus
// does by default.
func TestOptionsAndCORS(t *testing.T) {
	t.Parallel()
	a := New(Options{Querier: &fixedQuerier{value: model.Vector{}}, Targets: noTargets{}})
	for _, tt := range []struct {
		method, path, origin string
		code                 int
		allow                string
	}{
		{http.MethodOptions, "/api/v1/query", "http://grafana", 204, "*"},
		{http.MethodOptions, "/api/v1/not/an/endpoint", "", 204, ""},
		{http.MethodGet, "/api/v1/query?query=up", "http://grafana", 200, "*"},
		{http.MethodGet, "/api/v1/query?query=up", "", 200, ""},
	} {
		req := httptest.NewRequest(tt.method, tt.path, nil)
		if tt.origin != "" {
			req.Header.Set("Origin", tt.origin)
		}
		rec := httptest.NewRecorder()
		a.ServeHTTP(rec, req)
		h := rec.Header()
		if rec.Code != tt.code || h.Get("Access-Control-Allow-Origin") != tt.allow || h.Get("Vary") != "Origin" ||
			(tt.method == http.MethodOptions && rec.Body.Len() != 0) {
			t.Errorf("%s %s (Origin %q) = %d %v %q", tt.method, tt.path, tt.origin, rec.Code, h, rec.Body)
		}
		if tt.allow != "" && h.Get("Access-Control-Allow-Methods") != "GET, POST, OPTIONS" {
			t.Errorf("%s %s: methods %q", tt.method, tt.path, h.Get("Access-Control-Allow-Methods"))
		}
	}
}

// fakeBackend answers every endpoint with its path as data, or err.
type fakeBackend struct {
	err    error
	params url.Values
}

func (f *fakeBackend) Read(_ context.Context, ep query.Endpoint, params url.Values) (query.Raw, error) {
	f.params = params
	if f.err != nil {
		return query.Raw{}, f.err
	}
	b, _ := json.Marshal(string(ep))
	return query.Raw{Data: b, Warnings: []string{"from the backend"}}, nil
}

// TestBackendEndpoints serves metadata, rules, alerts, exemplars and the
// status pages but buildinfo from the backend in external mode, and its
// errors with Prometheus's codes.
func TestBackendEndpoints(t *testing.T) {
	t.Parallel()
	for _, ep := range []query.Endpoint{query.EndpointMetadata, query.EndpointRules, query.EndpointAlerts, query.EndpointExemplars,
		query.EndpointConfig, query.EndpointFlags, query.EndpointRuntimeinfo, query.EndpointTSDB} {
		b := &fakeBackend{}
		a := New(Options{Querier: &fixedQuerier{}, Targets: noTargets{}, Backend: b})
		a.HandleRules(fixedRules{})
		rec := httptest.NewRecorder()
		a.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, string(ep)+"?limit=5", nil))
		want := `{"status":"success","data":"` + string(ep) + `","warnings":["from the backend"]}`
		if rec.Code != 200 || strings.TrimSpace(rec.Body.String()) != want || b.params.Get("limit") != "5" {
			t.Errorf("GET %s = %d %s (params %v)", ep, rec.Code, rec.Body, b.params)
		}
	}
	for _, tt := range []struct {
		typ  query.ErrorType
		code int
	}{
		{query.ErrBadData, 400}, {query.ErrExec, 422}, {query.ErrCanceled, 499}, {query.ErrTimeout, 503},
		{query.ErrInternal, 500}, {query.ErrUnavailable, 500}, {query.ErrNotFound, 404},
	} {
		a := New(Options{Querier: &fixedQuerier{}, Targets: noTargets{},
			Backend: &fakeBackend{err: &query.Error{Type: tt.typ, Err: errors.New("it failed"), Detail: errors.New("dial 10.0.0.1:9090")}}})
		rec := httptest.NewRecorder()
		a.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/api/v1/rules", nil))
		want := `{"status":"error","errorType":"` + string(tt.typ) + `","error":"it failed"}`
		if rec.Code != tt.code || strings.TrimSpace(rec.Body.String()) != want {
			t.Errorf("%s: %d %s, want %d %s", tt.typ, rec.Code, rec.Body, tt.code, want)
		}
	}
}
