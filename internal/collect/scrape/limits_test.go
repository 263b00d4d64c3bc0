package scrape

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/servescope/servescope/internal/config"
	"github.com/servescope/servescope/internal/store/tsdb"
	"github.com/servescope/servescope/internal/testutil/proc"
)

// target serves a fixed exposition and counts its scrapes.
type target struct {
	*httptest.Server
	hits atomic.Int64
}

func serve(t *testing.T, body string) *target {
	t.Helper()
	tg := &target{}
	tg.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		tg.hits.Add(1)
		w.Header().Set("Content-Type", "text/plain; version=0.0.4")
		_, _ = w.Write([]byte(body)) // the scraper may hang up at its body limit
	}))
	t.Cleanup(tg.Close)
	return tg
}

func series(n int) string {
	var b strings.Builder
	for i := range n {
		fmt.Fprintf(&b, "many_series{i=\"%d\"} 1\n", i)
	}
	return b.String()
}

// TestLimitsRefuseBadTargets: targets over their sample, body and label
// limits (the last ones servescope's defaults) fail with a clear error in
// the target status, a parse error names its line and is cut short, and a
// good target beside them keeps being scraped on its schedule.
func TestLimitsRefuseBadTargets(t *testing.T) {
	good := serve(t, "up_and_fine 1\n")
	samples := serve(t, series(2000))
	body := serve(t, series(2000))
	var labels strings.Builder
	labels.WriteString("wide{")
	for i := range 100 { // over the default label_limit of 64
		fmt.Fprintf(&labels, "l%d=\"v\",", i)
	}
	labels.WriteString("} 1\n")
	wide := serve(t, labels.String())
	long := serve(t, "long_value{v=\""+strings.Repeat("x", 5000)+"\"} 1\n") // over the default 4096
	garbage := serve(t, "fine_one 1\nfine_two 2\nbroken{"+strings.Repeat("a", 20000)+"\n")

	host := func(tg *target) string { return strings.TrimPrefix(tg.URL, "http://") }
	yml := fmt.Sprintf(`global:
  scrape_interval: 1s
  scrape_timeout: 1s
scrape_configs:
  - job_name: good
    static_configs: [{targets: [%q]}]
  - job_name: samples
    sample_limit: 1000
    static_configs: [{targets: [%q]}]
  - job_name: body
    body_size_limit: 10KB
    static_configs: [{targets: [%q]}]
  - job_name: wide
    static_configs: [{targets: [%q]}]
  - job_name: long
    static_configs: [{targets: [%q]}]
  - job_name: garbage
    static_configs: [{targets: [%q]}]
`, host(good), host(samples), host(body), host(wide), host(long), host(garbage))
	cfg, err := config.Parse("limits.yml", []byte(yml), nil)
	if err != nil {
		t.Fatal(err)
	}
	m, _ := run(t, cfg, Options{LocateEvery: 100 * time.Millisecond})

	want := map[string]string{
		"samples": "sample limit exceeded (sample_limit: 1000",
		"body":    "body size limit exceeded (body_size_limit: 10KiB",
		"wide":    "label_limit exceeded",
		"long":    "label_value_length_limit exceeded",
		"garbage": "parse error at line 3:",
	}
	byJob := func() map[string]Target {
		out := map[string]Target{}
		for _, tg := range m.Active() {
			out[tg.ScrapePool] = tg
		}
		return out
	}
	proc.Eventually(t, "every bad target refused with its reason", 60*time.Second, func() (bool, string) {
		ts := byJob()
		var state strings.Builder
		ok := ts["good"].Health == "up"
		fmt.Fprintf(&state, "good: %s %q\n", ts["good"].Health, ts["good"].LastError)
		for job, w := range want {
			tg := ts[job]
			fmt.Fprintf(&state, "%s: %s %q\n", job, tg.Health, tg.LastError)
			ok = ok && tg.Health == "down" && strings.Contains(tg.LastError, w)
		}
		return ok, state.String()
	})
	for job := range want {
		if e := byJob()[job].LastError; len(e) > MaxErrorLength+100 {
			t.Errorf("%s: error of %d bytes, want about %d at most", job, len(e), MaxErrorLength)
		}
	}
	// The good target keeps its 1s schedule beside the failing ones.
	from := good.hits.Load()
	proc.Eventually(t, "good target scraped 3 more times", 30*time.Second, func() (bool, string) {
		n := good.hits.Load() - from
		return n >= 3, fmt.Sprintf("%d scrapes", n)
	})
	// Reading the status never fetches: the parse error was located once.
	before := garbage.hits.Load()
	for range 20 {
		m.Active()
	}
	if n := garbage.hits.Load() - before; n > 2 {
		t.Errorf("20 status reads fetched the failing target %d times (its own scrapes at most 2)", n)
	}
}

func TestTruncate(t *testing.T) {
	for _, tc := range []struct {
		in   string
		n    int
		want string
	}{
		{"short", 10, "short"},
		{"abcdef", 3, "abc… (3 more bytes)"},
		{"aé", 2, "a… (2 more bytes)"}, // never cuts a rune
	} {
		if got := Truncate(tc.in, tc.n); got != tc.want {
			t.Errorf("Truncate(%q, %d) = %q, want %q", tc.in, tc.n, got, tc.want)
		}
	}
}

// run starts a Manager with opts on cfg over a new store, stopped at the
// end of the test.
func run(t *testing.T, cfg *config.Config, opts Options) (*Manager, *tsdb.DB) {
	t.Helper()
	db, err := tsdb.Open(tsdb.Options{Path: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	opts.Registerer, opts.Appendable = prometheus.NewRegistry(), db.AppendableV2()
	m, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	if err := m.ApplyConfig(cfg); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- m.Run(t.Context()) }()
	t.Cleanup(func() { <-done })
	return m, db
}
