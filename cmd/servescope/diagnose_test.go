package main

import (
	"bytes"
	"fmt"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/prometheus/promql/promqltest"

	"github.com/servescope/servescope/internal/analyze/diagnose"
	"github.com/servescope/servescope/internal/analyze/query"
	"github.com/servescope/servescope/internal/app"
	"github.com/servescope/servescope/internal/present/api"
	"github.com/servescope/servescope/internal/present/cli"
)

// apiServer serves a promqltest load script through the Prometheus API,
// as servescope would, and returns its URL.
func apiServer(t *testing.T, script string) string {
	t.Helper()
	st := promqltest.LoadedStorage(t, script)
	eng := query.NewEngine(st, query.EngineOptions{Registerer: prometheus.NewRegistry(), MaxSamples: 1e7, Timeout: time.Minute})
	srv := httptest.NewServer(api.New(api.Options{Querier: eng}))
	t.Cleanup(srv.Close)
	return srv.URL
}

// TestDiagnoseOutput checks that the header counts what the table lists
// and that JSON carries the window as text, not nanoseconds.
func TestDiagnoseOutput(t *testing.T) {
	t.Parallel()
	common := []string{"diagnose", "--server", apiServer(t, costSeries), "--at", "1970-01-01T02:00:00Z", "--since", "-1h"}

	var out, errs bytes.Buffer
	if code := run(t.Context(), common, env{stdout: &out, stderr: &errs}); code != 0 {
		t.Fatalf("exit %d: %s", code, errs.String())
	}
	lines := strings.Split(out.String(), "\n")
	var pods, findings int
	if _, err := fmt.Sscanf(lines[0][strings.Index(lines[0], ": ")+2:], "%d pods, %d findings", &pods, &findings); err != nil {
		t.Fatalf("header %q: %v", lines[0], err)
	}
	rows := 0
	for i, l := range lines {
		if strings.HasPrefix(l, "SUBJECT") {
			for _, r := range lines[i+1:] {
				if r == "" {
					break
				}
				rows++
			}
		}
	}
	if rows != findings {
		t.Errorf("header says %d findings, the table lists %d:\n%s", findings, rows, out.String())
	}

	out.Reset()
	if code := run(t.Context(), append(common, "--output", "json"), env{stdout: &out, stderr: &errs}); code != 0 {
		t.Fatalf("exit %d: %s", code, errs.String())
	}
	if !strings.Contains(out.String(), `"window": "1h0m0s"`) {
		t.Errorf("JSON window not 1h0m0s:\n%.400s", out.String())
	}
}

// TestFindingsHeader counts the listed findings: healthy subjects are not
// rows, so they are not counted either.
func TestFindingsHeader(t *testing.T) {
	t.Parallel()
	at := time.Date(2026, 3, 10, 12, 0, 0, 0, time.UTC)
	r := &diagnose.Report{At: at, Window: time.Hour, Findings: []diagnose.Finding{
		{Subject: diagnose.Subject{Level: diagnose.LevelPod, Namespace: "chat", Pod: "a"}, State: diagnose.StateHealthy, Since: at},
		{Subject: diagnose.Subject{Level: diagnose.LevelPod, Namespace: "chat", Pod: "b"}, State: diagnose.StateIdle, Since: at},
		{Subject: diagnose.Subject{Level: diagnose.LevelPod, Namespace: "chat", Pod: "c"}, State: diagnose.StateHealthy, Since: at},
	}}
	var out bytes.Buffer
	if err := cli.WriteDiagnosis(&out, r); err != nil {
		t.Fatal(err)
	}
	if first, _, _ := strings.Cut(out.String(), "\n"); !strings.Contains(first, "over 1h0m0s: 0 pods, 1 findings") {
		t.Errorf("header %q: want 1 finding (the idle one the table lists)", first)
	}
}

// TestUtilisationCoverage: two hours of data read over 24 hours warn, as
// cost does; over the two hours they do not.
func TestUtilisationCoverage(t *testing.T) {
	t.Parallel()
	server := apiServer(t, costSeries+"  up{job=\"x\"} 1x120\n")
	at := time.Unix(0, 0).Add(2 * time.Hour).UTC()
	for _, tc := range []struct {
		window time.Duration
		warn   bool
	}{{24 * time.Hour, true}, {2 * time.Hour, false}} {
		var out bytes.Buffer
		if err := app.WarnCoverage(t.Context(), &out, server, at, tc.window); err != nil {
			t.Fatal(err)
		}
		if got := strings.Contains(out.String(), "warning: data covers only 1970-01-01T00:"); got != tc.warn {
			t.Errorf("window %s: warning %v, want %v: %q", tc.window, got, tc.warn, out.String())
		}
	}
}
