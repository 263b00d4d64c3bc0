package main

import (
	"bytes"
	"io"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/alecthomas/kingpin/v2"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/prometheus/promql/promqltest"

	"github.com/servescope/servescope/internal/analyze/query"
	"github.com/servescope/servescope/internal/present/api"
)

// TestReportCommand runs `servescope report` (the default `report fleet`)
// against a Prometheus-compatible API over costSeries, and checks that
// `report utilisation` still parses beside it.
func TestReportCommand(t *testing.T) {
	t.Parallel()
	st := promqltest.LoadedStorage(t, costSeries)
	eng := query.NewEngine(st, query.EngineOptions{Registerer: prometheus.NewRegistry(), MaxSamples: 1e7, Timeout: time.Minute})
	srv := httptest.NewServer(api.New(api.Options{Querier: eng}))
	t.Cleanup(srv.Close)
	dir := t.TempDir()
	prices := filepath.Join(dir, "prices.yml")
	if err := os.WriteFile(prices, []byte("currency: USD\ngpus:\n  - {gpu: H100, hourly: \"2.50\"}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	common := []string{"--server", srv.URL, "--at", "1970-01-01T02:00:00Z", "--window", "2h"}
	tests := []struct {
		name     string
		args     []string
		selected string
		file     string   // written instead of stdout
		want     []string // in the output
		err      string
	}{
		{"default html", append([]string{"report"}, common...), "report fleet", "",
			[]string{"<!doctype html>", `data-panel="team-costs" data-state="ok"`, "<td>chat</td>", "<td>unpriced</td>"}, ""},
		{"md to a file", append([]string{"report", "--prices", prices, "-o", filepath.Join(dir, "r.md")}, common...), "report fleet", "r.md",
			[]string{"# GPU fleet report", "| chat | 0 | 2 | 1 | 1 | 0 | 5.00 USD | 2.50 USD | 0.00 USD |", "| \\_\\_idle\\_\\_ | 0 | 0 | 0 | 0 | 2 | 0.00 USD | 0.00 USD | 5.00 USD |", "(2h)"}, ""},
		{"explicit format", append([]string{"report", "fleet", "--format", "md", "--prices", prices}, common...), "report fleet", "",
			[]string{"## Who pays?"}, ""},
		{"bad at", []string{"report", "--server", srv.URL, "--at", "noon"}, "report fleet", "", nil, `--at: time "noon": want RFC 3339`},
		{"report over 7d", []string{"report", "--server", srv.URL, "--at", "1970-01-08T02:00:00Z", "--window", "7d", "--format", "md"}, "report fleet", "",
			[]string{"# GPU fleet report", "(1w)"}, ""},
		{"diagnose over 7d", []string{"diagnose", "--server", srv.URL, "--at", "1970-01-08T02:00:00Z", "--since", "7d"}, "diagnose", "",
			[]string{"over 168h0m0s"}, ""},
		{"diagnose below a step", []string{"diagnose", "--server", srv.URL, "--at", "1970-01-01T02:00:00Z", "--since", "0s"}, "diagnose", "", nil,
			"shorter than one step"},
		{"utilisation over 7d", []string{"report", "utilisation", "--server", srv.URL, "--at", "1970-01-08T02:00:00Z", "--since", "7d"}, "report utilisation", "",
			[]string{"fleet utilisation at 1970-01-08T02:00:00Z"}, ""},
		{"utilisation", []string{"report", "utilisation", "--server", srv.URL, "--at", "1970-01-01T02:00:00Z", "--since", "2h"}, "report utilisation", "",
			[]string{"fleet utilisation at 1970-01-01T02:00:00Z"}, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var out, errOut bytes.Buffer
			a := kingpin.New("servescope", "")
			cmds := diagnoseCommands(a, env{stdout: &out, stderr: &errOut})
			selected, err := a.Parse(tc.args)
			if err != nil && tc.err != "" && strings.Contains(err.Error(), tc.err) {
				return // refused while parsing the flags
			}
			if err != nil {
				t.Fatal(err)
			}
			if selected != tc.selected {
				t.Fatalf("selected %q, want %q", selected, tc.selected)
			}
			var run *command
			for i := range cmds {
				if cmds[i].clause.FullCommand() == selected {
					run = &cmds[i]
				}
			}
			err = run.run(t.Context())
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("error %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			got := out.String()
			if tc.file != "" {
				b, err := os.ReadFile(filepath.Join(dir, tc.file))
				if err != nil {
					t.Fatal(err)
				}
				if out.Len() != 0 || !strings.Contains(errOut.String(), "wrote ") {
					t.Errorf("with --output: stdout %q, stderr %q", out.String(), errOut.String())
				}
				got = string(b)
			}
			for _, w := range tc.want {
				if !strings.Contains(got, w) {
					t.Errorf("output lacks %q:\n%s", w, got)
				}
			}
		})
	}
}

// TestReportProgress: away from a terminal, `report` writes quiet progress
// lines (one per tenth of its panels) to stderr, ending at 100%, and the
// document alone to stdout.
func TestReportProgress(t *testing.T) {
	t.Parallel()
	server := apiServer(t, costSeries)
	var out, errb bytes.Buffer
	code := run(t.Context(), []string{"report", "--server", server, "--at", "1970-01-01T02:00:00Z", "--window", "2h", "--format", "md"}, env{stdout: &out, stderr: &errb})
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	lines := strings.Split(strings.TrimSpace(errb.String()), "\n")
	if len(lines) < 5 || lines[0] == lines[1] || lines[len(lines)-1] != "report 2h: 100% (done)" {
		t.Errorf("stderr %q: want a line per tenth ending at 100%%", errb.String())
	}
	for _, l := range lines {
		if !strings.HasPrefix(l, "report 2h: ") {
			t.Errorf("stderr line %q is not progress", l)
		}
	}
	if !strings.HasPrefix(out.String(), "# GPU fleet report") {
		t.Errorf("stdout starts %.40q", out.String())
	}
}

// TestTopZeroWindow: `top --window 0s` is refused before anything is read.
func TestTopZeroWindow(t *testing.T) {
	t.Parallel()
	a := kingpin.New("servescope", "")
	cmds := topCommands(a, env{stdout: io.Discard, stderr: io.Discard})
	_, err := a.Parse([]string{"top", "--window", "0s", "--once", "--server", "http://127.0.0.1:1"})
	if err == nil {
		err = cmds[0].run(t.Context())
	}
	if err == nil || !strings.Contains(err.Error(), "--window") || !strings.Contains(err.Error(), "shorter than one step") {
		t.Errorf("top --window 0s: %v, want a refusal naming --window and the step", err)
	}
}
