package api

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/prometheus/common/model"
)

// TestResponseCap: a response over MaxResponseBytes is refused with 422
// and a message to narrow the query; one under it is served.
func TestResponseCap(t *testing.T) {
	vec := model.Vector{}
	for range 100 {
		vec = append(vec, &model.Sample{Metric: model.Metric{"__name__": "m", "pod": model.LabelValue(strings.Repeat("p", 50))}, Value: 1})
	}
	for _, tc := range []struct {
		max  int
		code int
	}{{-1, 200}, {1 << 20, 200}, {1000, 422}} {
		a := New(Options{Querier: &fixedQuerier{value: vec}, MaxResponseBytes: tc.max})
		srv := httptest.NewServer(SecurityHeaders(a))
		resp, err := http.Get(srv.URL + "/api/v1/query?query=m")
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		srv.Close()
		if resp.StatusCode != tc.code {
			t.Errorf("max %d: %d, want %d: %.200s", tc.max, resp.StatusCode, tc.code, body)
		}
		if tc.code == 422 && !strings.Contains(string(body), "narrow the query") {
			t.Errorf("max %d: %s", tc.max, body)
		}
		if resp.Header.Get("X-Content-Type-Options") != "nosniff" || resp.Header.Get("Content-Security-Policy") == "" {
			t.Errorf("security headers missing: %v", resp.Header)
		}
	}
}

// TestStarting: while the store opens, only /-/healthy answers 200.
func TestStarting(t *testing.T) {
	h := Starting()
	for path, want := range map[string]int{"/-/healthy": 200, "/-/ready": 503, "/api/v1/query": 503, "/": 503} {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
		if rec.Code != want {
			t.Errorf("%s: %d, want %d", path, rec.Code, want)
		}
	}
}
