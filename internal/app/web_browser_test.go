package app

import (
	"bytes"
	"context"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/prometheus/model/labels"

	"github.com/servescope/servescope/internal/analyze/diagnose"
	"github.com/servescope/servescope/internal/analyze/query"
	"github.com/servescope/servescope/internal/analyze/slo"
	"github.com/servescope/servescope/internal/present/api"
	"github.com/servescope/servescope/internal/schema"
	"github.com/servescope/servescope/internal/store/tsdb"
)

// hostilePod is a pod name a hostile target could report.
const hostilePod = `<script>alert("pwned")</script>'"` + "-long-"

// TestWebBrowser serves the dashboard over one simulated history (one
// backfill) and runs the two browser checks on it side by side: every page
// (webPages) and a user's clicks (webInteractions).
func TestWebBrowser(t *testing.T) {
	chromium, err := exec.LookPath("chromium")
	if err != nil {
		t.Skip("chromium is not installed (make test installs Debian's chromium): skipping the browser test")
	}
	if testing.Short() {
		t.Skip("browser test skipped in -short mode")
	}
	t.Parallel()
	srv, end := dashboardServer(t)
	t.Run("pages", func(t *testing.T) {
		t.Parallel()
		webPages(t, chromium, srv, end)
	})
	t.Run("interactions", func(t *testing.T) {
		t.Parallel()
		webInteractions(t, chromium, srv)
	})
}

// webPages loads every dashboard page in headless Chromium and checks that
// each loads without console errors, every panel that must have data has
// it, the URL state round-trips, and a hostile label value is shown as
// text. Screenshots go to $SERVESCOPE_ARTIFACTS (default .artifacts/web
// under the repository).
func webPages(t *testing.T, chromium string, srv *httptest.Server, end time.Time) {
	artifacts := os.Getenv("SERVESCOPE_ARTIFACTS")
	if artifacts == "" {
		artifacts = filepath.Join("..", "..", ".artifacts", "web")
	}
	if err := os.MkdirAll(artifacts, 0o755); err != nil {
		t.Fatal(err)
	}
	b := browser{path: chromium, profile: t.TempDir()}

	// Every page, and the GPU page narrowed to one model (GPUs joined to
	// the model's pods), has data in each panel that must have it. The
	// pages end where the history ends (end=), so a slow backfill on a
	// loaded machine cannot leave "now" past the data. One Chromium run
	// loads a page, dumps its DOM and, for the pages with a screenshot,
	// takes that too (the Fleet page's in dark mode).
	model := url.Values{"model": {"meta-llama/Llama-3.1-8B-Instruct"}}.Encode()
	at := "end=" + url.QueryEscape(end.Format(time.RFC3339))
	doms := map[string]string{}
	for _, p := range []struct{ path, shot string }{
		{"/", "fleet-dark.png"}, {"/serving", "serving.png"}, {"/gpus", "gpus.png"}, {"/gpus?" + model, ""},
		{"/queues", "queues.png"}, {"/findings", "findings.png"},
		{"/query?q=servescope%3Agpu_busy_ratio%3Aavg+or+DCGM_FI_DEV_POWER_USAGE", ""},
	} {
		page := p.path + "?" + at
		if strings.Contains(p.path, "?") {
			page = p.path + "&" + at
		}
		var flags []string
		if p.path == "/" {
			flags = []string{"--force-dark-mode", "--blink-settings=preferredColorScheme=0"}
		}
		shot := ""
		if p.shot != "" {
			shot = filepath.Join(artifacts, p.shot)
		}
		dom := b.dumpShot(t, srv.URL+page, shot, flags...)
		checkPanels(t, page, dom)
		doms[p.path] = dom
	}

	if !strings.Contains(doms["/queues"], `data-panel="team-costs" data-state="ok"`) {
		t.Error("/queues: no team costs")
	}
	if !strings.Contains(doms["/findings"], `data-panel="findings" data-state="ok"`) {
		t.Error("/findings: the diagnosis panel has no findings list")
	}
	// A malformed query shows the engine's error beside the form.
	if dom := b.dump(t, srv.URL+"/query?q=rate%28"); !strings.Contains(dom, `class="error" data-error`) || !strings.Contains(dom, "<textarea") {
		t.Error("/query?q=rate(: no error shown beside the query")
	}

	// URL state: range, refresh, model and pod survive into the pickers
	// and every navigation link.
	state := url.Values{"range": {"3h"}, "refresh": {"30s"}, "pod": {hostilePod}}
	dom := b.dump(t, srv.URL+"/serving?"+state.Encode())
	for _, want := range []string{`<option value="3h" selected`, `<option value="30s" selected`, `data-refresh="30"`, `href="/gpus?` + htmlAttr(state.Encode()) + `"`} {
		if !strings.Contains(dom, want) {
			t.Errorf("URL state: DOM lacks %s", want)
		}
	}
	// The hostile pod is text: in the legend and the pod picker, never an
	// element; the page script did not run an injected alert.
	if strings.Contains(dom, "<script>alert") {
		t.Error("hostile pod label became markup")
	}
	if !strings.Contains(dom, `&lt;script&gt;alert("pwned")&lt;/script&gt;'"-long-`) {
		t.Error("hostile pod label not shown as text")
	}

	// The model page: the Serving page narrowed to one model, with its
	// latency objectives' budgets and burn rates.
	if dom := b.dumpShot(t, srv.URL+"/serving?"+model+"&"+at, filepath.Join(artifacts, "serving-model.png")); !strings.Contains(dom, `data-panel="objectives" data-state="ok"`) {
		t.Error("/serving?model=: no latency objectives table")
	}
	t.Logf("screenshots in %s", artifacts)
}

// browserObjectives are the dashboard's latency objectives: TTFT and
// end-to-end latency of every vLLM model.
var browserObjectives = slo.Set{MinRequestRate: 0.1, Objectives: []slo.Objective{
	{Name: "ttft-500ms", Model: slo.AllModels, Indicator: "ttft", Threshold: 500 * time.Millisecond, Target: 0.99, Window: 28 * 24 * time.Hour, Engine: "vllm"},
	{Name: "e2e-20s", Model: slo.AllModels, Indicator: "e2e", Threshold: 20 * time.Second, Target: 0.99, Window: 28 * 24 * time.Hour, Engine: "vllm"},
}}

// dashboardHistory is the history the dashboard is served over, written
// after dashboardWarmup simulated minutes (not written: the fleet is
// running when the history starts, as after sim backfill's warm-up).
// Scraping and evaluating the catalog's rules over the history is most of
// the browser test's time.
const (
	dashboardHistory = 10 * time.Minute
	dashboardWarmup  = 10 * time.Minute
)

// dashboardServer serves the dashboard over dashboardHistory of the mixed
// scenario's simulated history (16 GPUs) plus a hostile pod, ending now.
func dashboardServer(t *testing.T) (*httptest.Server, time.Time) {
	t.Helper()
	dir := t.TempDir()
	end := time.Now().UTC().Truncate(15 * time.Second)
	if _, err := Backfill(t.Context(), BackfillOptions{Scenario: loadSimScenario(t, "mixed"), GPUs: 16, Seed: 1,
		Duration: dashboardHistory, Warmup: dashboardWarmup, End: end, StoragePath: dir}); err != nil {
		t.Fatal(err)
	}
	db, err := tsdb.Open(tsdb.Options{Path: dir})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() }) // the test is over; a close error changes nothing
	appendHostile(t, db, end)

	engine := query.NewEngine(db.Queryable(), query.EngineOptions{Timeout: time.Minute, MaxSamples: 1e7, Registerer: prometheus.NewRegistry()})
	cat, err := schema.New(schema.Options{})
	if err != nil {
		t.Fatal(err)
	}
	a := api.New(api.Options{Querier: engine})
	calc, err := NewCostCalculator(CostOptions{PriceBook: filepath.Join("..", "..", "examples", "scenarios", "prices.yml")})
	if err != nil {
		t.Fatal(err)
	}
	if err := mountWeb(a, webOptions{Querier: engine, Catalog: cat, Thresholds: diagnose.DefaultThresholds(), Calc: calc, Recorded: true, Objectives: browserObjectives}); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(a)
	t.Cleanup(srv.Close)
	return srv, end

}

// checkPanels fails on a page without panels, a panel showing an error, or
// a panel marked data-must without data.
func checkPanels(t *testing.T, page, dom string) {
	t.Helper()
	mustPanel := regexp.MustCompile(`<section class="panel[^"]*" id="([^"]+)" data-panel="[^"]+" data-state="([^"]+)" data-must`)
	if !strings.Contains(dom, `class="panel`) {
		t.Errorf("%s: no panels in the DOM", page)
	}
	must := mustPanel.FindAllStringSubmatch(dom, -1)
	if len(must) == 0 && !strings.HasPrefix(page, "/findings") && !strings.HasPrefix(page, "/query") {
		t.Errorf("%s: no panel marked data-must found", page)
	}
	for _, m := range must {
		if m[2] != "ok" {
			t.Errorf("%s: panel %s is %q, want data", page, m[1], m[2])
		}
	}
	if strings.Contains(dom, `data-state="error"`) {
		t.Errorf("%s: a panel shows an error", page)
	}
}

// htmlAttr is how Chromium serialises & in an attribute.
func htmlAttr(s string) string { return strings.ReplaceAll(s, "&", "&amp;") }

// appendHostile adds a vLLM pod whose name is hostile, over the last 20
// minutes, as a scrape of a hostile target would.
func appendHostile(t *testing.T, db *tsdb.DB, end time.Time) {
	t.Helper()
	app := db.Appender(context.Background())
	pod := hostilePod + strings.Repeat("x", 200)
	for ts := end.Add(-dashboardHistory); !ts.After(end); ts = ts.Add(15 * time.Second) {
		// The raw series and what the catalog's rules record from them.
		for _, name := range []string{"vllm:num_requests_running", "vllm:num_requests_waiting",
			"servescope:requests_running:sum", "servescope:requests_waiting:sum"} {
			ls := labels.FromStrings("__name__", name, "job", "vllm", "instance", "evil:8000", "namespace", "chat", "pod", pod, "model_name", "evil-model")
			if err := app.Append(ls, ts.UnixMilli(), 3); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := app.Commit(); err != nil {
		t.Fatal(err)
	}
}

type browser struct {
	path, profile string
}

func (b browser) run(t *testing.T, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	base := []string{"--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage",
		"--user-data-dir=" + b.profile, "--enable-logging=stderr", "--v=0", "--window-size=1400,1000"}
	cmd := exec.CommandContext(ctx, b.path, append(base, args...)...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("chromium %v: %v\n%s", args, err, stderr.String())
	}
	for _, line := range strings.Split(stderr.String(), "\n") {
		if strings.Contains(line, "Uncaught") || strings.Contains(line, "CONSOLE") || strings.Contains(line, "Refused to") {
			t.Errorf("chromium %v: console error: %s", args, line)
		}
	}
	return stdout.String()
}

func (b browser) dump(t *testing.T, u string) string {
	t.Helper()
	return b.run(t, "--dump-dom", u)
}

// dumpShot dumps the DOM of u and, unless file is "", writes its
// screenshot to file, in one Chromium run.
func (b browser) dumpShot(t *testing.T, u, file string, flags ...string) string {
	t.Helper()
	if file == "" {
		return b.run(t, append(flags, "--dump-dom", u)...)
	}
	_ = os.Remove(file) // a screenshot left by an earlier run must not pass for this one's
	dom := b.run(t, append(flags, "--dump-dom", "--screenshot="+file, u)...)
	if fi, err := os.Stat(file); err != nil || fi.Size() == 0 {
		t.Errorf("screenshot %s of %s not written: %v", file, u, err)
	}
	return dom
}
