package api

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/prometheus/common/model"
)

// TestAgent: an agent's API refuses every query endpoint first, as
// Prometheus Agent does (422 execution, whatever the parameters: bad ones
// are not reported as bad_data), any other path under /api/v1/ too, and
// still serves health, targets, buildinfo, metadata and the status pages;
// methods other than GET and POST stay 405.
func TestAgent(t *testing.T) {
	t.Parallel()
	const msg = "unavailable in agent mode"
	vec := model.Vector{{Metric: model.Metric{"__name__": "up"}, Value: 1}}
	a := New(Options{Querier: &fixedQuerier{value: vec}, Targets: noTargets{}, Build: BuildInfo{Version: "1.2.3"}})
	a.Agent(msg)
	refused := []struct{ method, path string }{
		{"GET", "/api/v1/query?query=up"},
		{"GET", "/api/v1/query?query=sum("},
		{"GET", "/api/v1/query"},
		{"GET", "/api/v1/query?query=up&time=yesterday"},
		{"POST", "/api/v1/query"},
		{"GET", "/api/v1/query_range?query=up&start=0&end=60&step=15"},
		{"GET", "/api/v1/query_range?query=up"},
		{"GET", "/api/v1/query_range?query=up&start=1&end=2&step=x"},
		{"POST", "/api/v1/query_range"},
		{"GET", "/api/v1/query_exemplars?query=sum("},
		{"GET", "/api/v1/format_query?query=sum(up)"},
		{"GET", "/api/v1/format_query?query=sum("},
		{"POST", "/api/v1/parse_query"},
		{"GET", "/api/v1/series?match[]=up"},
		{"GET", "/api/v1/series"},
		{"POST", "/api/v1/series"},
		{"GET", "/api/v1/labels?start=never"},
		{"POST", "/api/v1/labels"},
		{"GET", "/api/v1/label/job/values?limit=-1"},
		{"GET", "/api/v1/label/__name__/values"},
		{"GET", "/api/v1/status/tsdb?limit=0"},
		{"GET", "/api/v1/rules?type=nonsense"},
		{"GET", "/api/v1/alerts"},
		{"GET", "/api/v1/alertmanagers"},
		{"GET", "/api/v1/costs?window=x"},
		{"POST", "/api/v1/admin/tsdb/snapshot"},
	}
	for _, tc := range refused {
		t.Run(tc.method+" "+tc.path, func(t *testing.T) {
			t.Parallel()
			code, typ, errMsg := agentDo(t, a, tc.method, tc.path)
			if code != http.StatusUnprocessableEntity || typ != "execution" || errMsg != msg {
				t.Errorf("%d %s %q, want 422 execution %q", code, typ, errMsg, msg)
			}
		})
	}
	served := []struct {
		method, path string
		code         int
	}{
		{"GET", "/-/healthy", 200},
		{"GET", "/-/ready", 200},
		{"GET", "/api/v1/targets", 200},
		{"GET", "/api/v1/status/buildinfo", 200},
		{"GET", "/api/v1/status/config", 200},
		{"GET", "/api/v1/status/flags", 200},
		{"GET", "/api/v1/metadata", 200},
		{"OPTIONS", "/api/v1/query", 204},
		{"PUT", "/api/v1/query", 405},
		{"DELETE", "/api/v1/series", 405},
		{"PUT", "/api/v1/rules", 405},
	}
	for _, tc := range served {
		t.Run(tc.method+" "+tc.path, func(t *testing.T) {
			t.Parallel()
			if code, typ, errMsg := agentDo(t, a, tc.method, tc.path); code != tc.code {
				t.Errorf("%d %s %q, want %d", code, typ, errMsg, tc.code)
			}
		})
	}
}

// agentDo sends one request (POST with an empty form) and returns the code
// and the error envelope's type and message.
func agentDo(t *testing.T, a *API, method, path string) (int, string, string) {
	t.Helper()
	var req *http.Request
	if method == http.MethodPost {
		req = httptest.NewRequest(method, path, strings.NewReader(url.Values{"query": {"sum("}}.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	} else {
		req = httptest.NewRequest(method, path, nil)
	}
	rec := httptest.NewRecorder()
	a.ServeHTTP(rec, req)
	var r struct{ ErrorType, Error string }
	if rec.Body.Len() > 0 && strings.HasPrefix(rec.Header().Get("Content-Type"), "application/json") {
		if err := json.Unmarshal(rec.Body.Bytes(), &r); err != nil {
			t.Fatalf("%s %s: %v: %s", method, path, err, rec.Body)
		}
	}
	return rec.Code, r.ErrorType, r.Error
}
