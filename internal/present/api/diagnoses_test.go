package api_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/servescope/servescope/internal/analyze/diagnose"
	"github.com/servescope/servescope/internal/analyze/query"
	"github.com/servescope/servescope/internal/present/api"
)

// fakeDiagnoser records what it was asked and answers with a fixed report.
type fakeDiagnoser struct {
	at      time.Time
	window  time.Duration
	cluster string
	err     error
}

func (f *fakeDiagnoser) DiagnoseCluster(_ context.Context, cluster string, at time.Time, window time.Duration) (*diagnose.Report, error) {
	f.at, f.window, f.cluster = at, window, cluster
	if f.err != nil {
		return nil, f.err
	}
	return &diagnose.Report{At: at, Window: window, Pods: []diagnose.PodStatus{{Primary: diagnose.StateIdle}}}, nil
}

func TestDiagnoses(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 3, 2, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		name       string
		query      string
		err        error
		wantCode   int
		wantAt     time.Time
		wantWindow time.Duration
		cluster    string
	}{
		{name: "defaults", wantCode: http.StatusOK, wantAt: now, wantWindow: time.Hour},
		{name: "time and since", query: "?time=1772445600&since=30m", wantCode: http.StatusOK, wantAt: time.Unix(1772445600, 0).UTC(), wantWindow: 30 * time.Minute},
		{name: "one cluster", query: "?cluster=eu-1", wantCode: http.StatusOK, wantAt: now, wantWindow: time.Hour, cluster: "eu-1"},
		{name: "bad since", query: "?since=-5m", wantCode: http.StatusBadRequest},
		{name: "bad time", query: "?time=yesterday", wantCode: http.StatusBadRequest},
		{name: "query error", err: &query.Error{Type: query.ErrExec, Err: errors.New("boom")}, wantCode: http.StatusUnprocessableEntity},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			d := &fakeDiagnoser{err: tc.err}
			a := api.New(api.Options{Now: func() time.Time { return now }})
			a.Handle("/api/v1/diagnoses", a.Diagnoses(d))
			rec := httptest.NewRecorder()
			a.ServeHTTP(rec, httptest.NewRequestWithContext(t.Context(), http.MethodGet, "/api/v1/diagnoses"+tc.query, nil))
			if rec.Code != tc.wantCode {
				t.Fatalf("code %d, want %d: %s", rec.Code, tc.wantCode, rec.Body)
			}
			var resp struct {
				Status string          `json:"status"`
				Data   diagnose.Report `json:"data"`
			}
			if err := json.Unmarshal(rec.Body.Bytes(), &resp); err != nil {
				t.Fatal(err)
			}
			if tc.wantCode != http.StatusOK {
				if resp.Status != "error" {
					t.Errorf("status %q, want error", resp.Status)
				}
				return
			}
			if !d.at.Equal(tc.wantAt) || d.window != tc.wantWindow || d.cluster != tc.cluster {
				t.Errorf("asked at %s over %s of cluster %q, want %s over %s of %q", d.at, d.window, d.cluster, tc.wantAt, tc.wantWindow, tc.cluster)
			}
			if resp.Status != "success" || len(resp.Data.Pods) != 1 || resp.Data.Pods[0].Primary != diagnose.StateIdle {
				t.Errorf("response %+v", resp)
			}
		})
	}
}
