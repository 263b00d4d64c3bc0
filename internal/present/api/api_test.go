package api

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/model"

	"github.com/servescope/servescope/internal/analyze/query"
	"github.com/servescope/servescope/internal/collect/scrape"
)

// fixedQuerier answers every query with one value or one error, and
// records the time it was asked for.
type fixedQuerier struct {
	value model.Value
	err   error
	at    time.Time
	rng   query.Range
}

func (f *fixedQuerier) Query(_ context.Context, _ string, t time.Time) (query.Result, error) {
	f.at = t
	return query.Result{Value: f.value, Warnings: []string{"w"}}, f.err
}

func (f *fixedQuerier) QueryRange(_ context.Context, _ string, r query.Range) (query.Result, error) {
	f.rng = r
	return query.Result{Value: f.value}, f.err
}

func (f *fixedQuerier) Series(context.Context, []string, time.Time, time.Time) ([]model.LabelSet, error) {
	return []model.LabelSet{}, f.err
}

func (f *fixedQuerier) LabelNames(context.Context, []string, time.Time, time.Time) ([]string, error) {
	return nil, f.err
}

func (f *fixedQuerier) LabelValues(context.Context, string, []string, time.Time, time.Time) ([]string, error) {
	return []string{"a", "b", "c"}, f.err
}

type noTargets struct{}

func (noTargets) Active() []scrape.Target                           { return nil }
func (noTargets) Dropped() ([]scrape.DroppedTarget, map[string]int) { return nil, map[string]int{} }
func (noTargets) Metadata(string) []scrape.Metadata                 { return nil }

func TestResponses(t *testing.T) {
	vec := model.Vector{{Metric: model.Metric{"__name__": "up", "job": "vllm"}, Value: 1, Timestamp: 1700000000123}}
	tests := []struct {
		name string
		err  error
		path string
		code int
		body string
	}{
		{"vector", nil, "/api/v1/query?query=up&time=1700000000.123", 200,
			`{"status":"success","data":{"resultType":"vector","result":[{"metric":{"__name__":"up","job":"vllm"},"value":[1700000000.123,"1"]}]},"warnings":["w"]}`},
		{"bad data", &query.Error{Type: query.ErrBadData, Err: errors.New("1:5: parse error: unexpected end of input")}, "/api/v1/query?query=sum(", 400,
			`{"status":"error","errorType":"bad_data","error":"1:5: parse error: unexpected end of input"}`},
		{"execution", &query.Error{Type: query.ErrExec, Err: errors.New("vector cannot contain metrics with the same labelset")}, "/api/v1/query?query=x", 422,
			`{"status":"error","errorType":"execution","error":"vector cannot contain metrics with the same labelset"}`},
		{"timeout", &query.Error{Type: query.ErrTimeout, Err: errors.New("query timed out in expression evaluation")}, "/api/v1/query?query=x", 503,
			`{"status":"error","errorType":"timeout","error":"query timed out in expression evaluation"}`},
		{"empty query", nil, "/api/v1/query", 400,
			`{"status":"error","errorType":"bad_data","error":"invalid parameter \"query\": empty query"}`},
		{"bad time", nil, "/api/v1/query?query=up&time=yesterday", 400,
			`{"status":"error","errorType":"bad_data","error":"invalid parameter \"time\": cannot parse \"yesterday\" to a valid timestamp"}`},
		{"bad step", nil, "/api/v1/query_range?query=up&start=1&end=2&step=x", 400,
			`{"status":"error","errorType":"bad_data","error":"invalid parameter \"step\": cannot parse \"x\" to a valid duration"}`},
		{"label values limit", nil, "/api/v1/label/job/values?limit=2", 200,
			`{"status":"success","data":["a","b"],"warnings":["results truncated due to limit"]}`},
		{"empty series", nil, "/api/v1/series?match[]=up", 200, `{"status":"success","data":[]}`},
		{"targets", nil, "/api/v1/targets", 200, `{"status":"success","data":{"activeTargets":[],"droppedTargets":[],"droppedTargetCounts":{}}}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := New(Options{Querier: &fixedQuerier{value: vec, err: tt.err}, Targets: noTargets{}})
			rec := httptest.NewRecorder()
			a.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, tt.path, nil))
			if rec.Code != tt.code || strings.TrimSpace(rec.Body.String()) != tt.body {
				t.Errorf("GET %s = %d %s\nwant %d %s", tt.path, rec.Code, rec.Body, tt.code, tt.body)
			}
		})
	}
}

// TestTimeParameters checks Prometheus's time handling: fractions round to
// milliseconds (0.3 s is not 299 ms), RFC 3339 works, and POST forms are
// read like query strings (Grafana posts queries).
func TestTimeParameters(t *testing.T) {
	f := &fixedQuerier{value: model.Vector{}}
	a := New(Options{Querier: f, Targets: noTargets{}})
	for _, tt := range []struct {
		in   string
		want time.Time
	}{
		{"1795874818.3", time.UnixMilli(1795874818300)},
		{"1700000000", time.Unix(1700000000, 0)},
		{"2026-11-28T10:00:00.5Z", time.Date(2026, 11, 28, 10, 0, 0, 5e8, time.UTC)},
	} {
		rec := httptest.NewRecorder()
		a.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/api/v1/query?"+url.Values{"query": {"up"}, "time": {tt.in}}.Encode(), nil))
		if rec.Code != 200 || !f.at.Equal(tt.want) {
			t.Errorf("time=%s: %d, evaluated at %s, want %s", tt.in, rec.Code, f.at, tt.want)
		}
	}
	form := url.Values{"query": {"up"}, "start": {"100"}, "end": {"200"}, "step": {"15s"}}
	req := httptest.NewRequest(http.MethodPost, "/api/v1/query_range", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	rec := httptest.NewRecorder()
	a.ServeHTTP(rec, req)
	if rec.Code != 200 || f.rng.Step != 15*time.Second || f.rng.Start.Unix() != 100 || f.rng.End.Unix() != 200 {
		t.Errorf("POST range: %d %+v", rec.Code, f.rng)
	}
	rec = httptest.NewRecorder()
	a.ServeHTTP(rec, httptest.NewRequest(http.MethodDelete, "/api/v1/query?query=up", nil))
	if rec.Code != http.StatusMethodNotAllowed {
		t.Errorf("DELETE: %d", rec.Code)
	}
	body, _ := io.ReadAll(rec.Body)
	if !strings.Contains(string(body), `"status":"error"`) {
		t.Errorf("DELETE body %s", body)
	}
}
