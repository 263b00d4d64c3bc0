package app

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/servescope/servescope/internal/present/web"
)

// TestReportServed reads the fleet report once from a real servescope
// serving simulated history and writes it in both formats: every panel has data, the
// diagnosis, the capacity advice and the priced cost per team are in it,
// and the HTML loads nothing from outside itself.
func TestReportServed(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end report skipped in -short mode")
	}
	t.Parallel()
	dir := t.TempDir()
	end := time.Now().UTC().Truncate(30 * time.Second)
	if _, err := Backfill(t.Context(), BackfillOptions{Scenario: loadSimScenario(t, "mixed"), GPUs: 4, Seed: 1,
		Duration: 10 * time.Minute, Interval: 30 * time.Second, End: end, StoragePath: filepath.Join(dir, "data"), EvalInterval: -1}); err != nil {
		t.Fatal(err)
	}
	s := start(t, "global: {scrape_interval: 15s}\nscrape_configs: []\n", dir)
	prices := filepath.Join("..", "..", "examples", "scenarios", "prices.yml")

	panel := regexp.MustCompile(`data-panel="([^"]+)" data-state="([^"]+)"`)
	// The panels are read once, and the document written in both formats.
	doc, err := ReadReport(t.Context(), ReportOptions{Server: s.base, Window: 10 * time.Minute, At: end, Cost: CostOptions{PriceBook: prices}})
	if err != nil {
		t.Fatal(err)
	}
	for _, format := range []string{web.FormatHTML, web.FormatMarkdown} {
		var buf bytes.Buffer
		if err := doc.Write(&buf, format); err != nil {
			t.Fatalf("%s: %v", format, err)
		}
		out := buf.String()
		if format == web.FormatHTML {
			states := panel.FindAllStringSubmatch(out, -1)
			// 18 panels less the two of inference gateways and the
			// objectives' (none configured here), left out without data.
			if len(states) != 15 {
				t.Errorf("html: %d panels, want 15", len(states))
			}
			for _, m := range states {
				if m[2] != "ok" {
					t.Errorf("html: panel %s is %q, want data", m[1], m[2])
				}
			}
			for _, bad := range []string{"<script", "<link", "src=", "href=\"http", "url("} {
				if strings.Contains(out, bad) {
					t.Errorf("html: contains %q", bad)
				}
			}
			loadInBrowser(t, out)
			continue
		}
		for _, want := range []string{"# GPU fleet report", "| physical GPUs | ", "| unused | ", " USD |", "## Why not?", "### Top findings",
			"| model | GPU | GPUs held |", "| team | reserved GPU-h |", "data:image/svg+xml;base64,"} {
			if !strings.Contains(out, want) {
				t.Errorf("md: lacks %q:\n%s", want, out)
			}
		}
		if strings.Contains(out, "no data in range") || strings.Contains(out, "not available") {
			t.Errorf("md: a panel has no data:\n%s", out)
		}
		// The mixed fleet serves its demand (the simulator's truth: healthy):
		// no GPUs to add (a default TTFT target once said "add 7 MIG slices").
		if strings.Contains(out, "add at least") {
			t.Errorf("md: the healthy mixed fleet is told to add GPUs:\n%s", out)
		}
	}
}

// loadInBrowser opens the HTML report as a file in headless Chromium, when
// installed: it must load without console errors (its Content-Security-
// Policy refusing nothing it needs) with the same panels.
func loadInBrowser(t *testing.T, html string) {
	t.Helper()
	chromium, err := exec.LookPath("chromium")
	if err != nil {
		t.Log("chromium is not installed: the report is not loaded in a browser")
		return
	}
	file := filepath.Join(t.TempDir(), "report.html")
	if err := os.WriteFile(file, []byte(html), 0o644); err != nil {
		t.Fatal(err)
	}
	dom := browser{path: chromium, profile: t.TempDir()}.dump(t, "file://"+file)
	for _, want := range []string{`data-panel="quadrant" data-state="ok"`, `<svg class="chart"`, "Who pays?"} {
		if !strings.Contains(dom, want) {
			t.Errorf("report in the browser: DOM lacks %s", want)
		}
	}
}
