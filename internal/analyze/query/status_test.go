package query

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// TestRemoteStatus reads targets and the config through Remote from a
// server answering as Prometheus does, and fails clearly on errors that
// never name the backend's address (they reach API clients).
func TestRemoteStatus(t *testing.T) {
	t.Parallel()
	mux := http.NewServeMux()
	mux.HandleFunc("/api/v1/targets", func(w http.ResponseWriter, r *http.Request) {
		if r.FormValue("state") != "active" {
			t.Errorf("targets asked with state=%q", r.FormValue("state"))
		}
		w.Write([]byte(`{"status":"success","data":{"activeTargets":[
			{"labels":{"job":"vllm","instance":"a:8000"},"scrapeUrl":"http://a:8000/metrics","health":"up","scrapeInterval":"15s","seriesScraped":120,"seriesKept":80},
			{"labels":{"job":"dcgm","instance":"b:9400"},"scrapeUrl":"http://b:9400/metrics","health":"down"}],"droppedTargets":[]}}`))
	})
	mux.HandleFunc("/api/v1/status/config", func(w http.ResponseWriter, _ *http.Request) {
		w.Write([]byte(`{"status":"success","data":{"yaml":"global:\n  scrape_interval: 1m\n"}}`))
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	r, err := NewRemote(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	ts, err := r.Targets(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if len(ts) != 2 || ts[0].Labels["job"] != "vllm" || ts[0].ScrapeInterval != 15*time.Second || ts[0].Health != "up" ||
		ts[1].ScrapeURL != "http://b:9400/metrics" || ts[1].ScrapeInterval != 0 || ts[1].Health != "down" ||
		ts[0].SeriesScraped == nil || *ts[0].SeriesScraped != 120 || *ts[0].SeriesKept != 80 || ts[1].SeriesScraped != nil {
		t.Errorf("targets = %+v", ts)
	}
	if y, err := r.ConfigYAML(t.Context()); err != nil || !strings.Contains(y, "scrape_interval: 1m") {
		t.Errorf("config = %q, %v", y, err)
	}

	bad := http.NewServeMux()
	bad.HandleFunc("/api/v1/targets", func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusServiceUnavailable)
		w.Write([]byte(`{"status":"error","errorType":"unavailable","error":"not ready"}`))
	})
	badSrv := httptest.NewServer(bad)
	t.Cleanup(badSrv.Close)
	rb, err := NewRemote(badSrv.URL)
	if err != nil {
		t.Fatal(err)
	}
	_, err = rb.Targets(t.Context())
	var qe *Error
	if !errors.As(err, &qe) || qe.Type != ErrorType("unavailable") || !strings.Contains(err.Error(), "not ready") || strings.Contains(err.Error(), badSrv.URL) {
		t.Errorf("error envelope: %v", err)
	}
	if _, err := rb.ConfigYAML(t.Context()); err == nil || !strings.Contains(err.Error(), "/api/v1/status/config") || strings.Contains(err.Error(), badSrv.URL) {
		t.Errorf("missing config endpoint: %v", err)
	}
}
