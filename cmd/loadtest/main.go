// Package main is the loadtest command: it measures whether scraping keeps its schedule under API
// load: it serves N vLLM-like targets, starts a `servescope serve` binary
// scraping them, fires a fixed rate of mixed dashboard pages and PromQL
// queries at it, and reports the requests/s served within 1 s at p95,
// scrapes missed, false up == 0 and the server's RSS. `make loadtest` runs
// it; it is not a test: its figures depend on the machine.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/servescope/servescope/cmd/internal/benchproc"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "loadtest:", err)
		os.Exit(1)
	}
}

type options struct {
	bin      string
	rate     int
	duration time.Duration
	warmup   time.Duration
	targets  int
	interval time.Duration
	extra    string
}

func run() error {
	var o options
	flag.StringVar(&o.bin, "bin", "bin/servescope", "servescope binary to load")
	flag.IntVar(&o.rate, "rate", 200, "requests per second sent (open loop)")
	flag.DurationVar(&o.duration, "duration", 60*time.Second, "how long the load lasts")
	flag.DurationVar(&o.warmup, "warmup", 30*time.Second, "scraping before the load, so pages have data")
	flag.IntVar(&o.targets, "targets", 20, "vLLM-like targets of ~400 series each")
	flag.DurationVar(&o.interval, "interval", 5*time.Second, "scrape and evaluation interval")
	flag.StringVar(&o.extra, "args", "", "extra serve flags, space-separated")
	flag.Parse()

	dir, err := os.MkdirTemp("", "servescope-loadtest-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	targets, taddr, err := serveTargets(o.targets)
	if err != nil {
		return err
	}
	defer targets.Close()
	addr, err := benchproc.FreeAddr()
	if err != nil {
		return err
	}
	cfg := filepath.Join(dir, "servescope.yml")
	var b strings.Builder
	fmt.Fprintf(&b, "global:\n  scrape_interval: %s\n  scrape_timeout: %s\n  evaluation_interval: %s\nscrape_configs:\n", o.interval, o.interval, o.interval)
	for i := range o.targets {
		fmt.Fprintf(&b, "  - job_name: vllm-%d\n    metrics_path: /metrics/%d\n    static_configs: [{targets: [%q], labels: {namespace: serving, pod: vllm-%d}}]\n",
			i, i, taddr, i)
	}
	if err := os.WriteFile(cfg, []byte(b.String()), 0o644); err != nil {
		return err
	}
	args := []string{"serve", "--config", cfg, "--storage.path", filepath.Join(dir, "data"), "--web.listen-address", addr, "--log.level", "error"}
	args = append(args, strings.Fields(o.extra)...)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	cmd, err := benchproc.Command{Bin: o.bin, Args: args, Output: os.Stderr, WaitDelay: 10 * time.Second}.Start(ctx)
	if err != nil {
		return err
	}
	defer func() { cancel(); _ = cmd.Wait() }() // SIGTERM; its exit status says nothing here
	base := "http://" + addr
	if err := benchproc.WaitHTTP(ctx, base+"/-/ready", time.Minute); err != nil {
		return err
	}
	fmt.Printf("%s %s: %d targets every %s; warming up for %s\n", o.bin, o.extra, o.targets, o.interval, o.warmup)
	time.Sleep(o.warmup) // real time: the server scrapes meanwhile

	start := time.Now()
	res := load(base, o.rate, o.duration)
	end := time.Now()
	time.Sleep(2 * o.interval) // let the last scrapes land
	missed, falseDown, err := scrapeStats(base, o, start, end)
	if err != nil {
		return err
	}
	peak, rss := benchproc.Memory(cmd.Process.Pid)
	res.report(o, missed, falseDown, peak, rss)
	return nil
}

// serveTargets serves /metrics/N: a vLLM-like exposition of ~400 series
// whose counters grow with every scrape.
func serveTargets(n int) (*http.Server, string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, "", err
	}
	var mu sync.Mutex
	rounds := make([]int, n)
	srv := &http.Server{ReadHeaderTimeout: 5 * time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		i, err := strconv.Atoi(strings.TrimPrefix(r.URL.Path, "/metrics/"))
		if err != nil || i < 0 || i >= n {
			http.NotFound(w, r)
			return
		}
		mu.Lock()
		rounds[i]++
		round := rounds[i]
		mu.Unlock()
		w.Header().Set("Content-Type", "text/plain; version=0.0.4")
		_, _ = io.WriteString(w, exposition(round)) // the scraper may hang up
	})}
	go func() { _ = srv.Serve(l) }() // ends with Close
	return srv, l.Addr().String(), nil
}

// exposition is two vLLM engines' gauges, counters and latency histograms.
func exposition(round int) string {
	var b strings.Builder
	edges := []string{"0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1.0", "2.5", "5.0", "10.0", "20.0", "40.0", "80.0", "+Inf"}
	for engine := range 2 {
		l := fmt.Sprintf(`engine="%d",model_name="llama"`, engine)
		for _, g := range []string{"vllm:num_requests_running", "vllm:num_requests_waiting", "vllm:kv_cache_usage_perc"} {
			fmt.Fprintf(&b, "%s{%s} %d\n", g, l, round%7)
		}
		for _, c := range []string{"vllm:prompt_tokens_total", "vllm:generation_tokens_total", "vllm:request_success_total"} {
			fmt.Fprintf(&b, "%s{%s} %d\n", c, l, round*13)
		}
		for _, h := range []string{"vllm:time_to_first_token_seconds", "vllm:inter_token_latency_seconds", "vllm:e2e_request_latency_seconds",
			"vllm:request_queue_time_seconds", "vllm:request_prefill_time_seconds", "vllm:request_decode_time_seconds"} {
			for i, e := range edges {
				fmt.Fprintf(&b, "%s_bucket{%s,le=\"%s\"} %d\n", h, l, e, round*(i+1))
			}
			fmt.Fprintf(&b, "%s_sum{%s} %d\n%s_count{%s} %d\n", h, l, round*7, h, l, round*len(edges))
		}
	}
	return b.String()
}

// The mixed load: dashboard pages and the queries a Grafana panel sends.
var (
	pages   = []string{"/", "/serving", "/gpus", "/queues", "/findings"}
	queries = []string{
		`sum by (pod) (rate(vllm:generation_tokens_total[1m]))`,
		`histogram_quantile(0.95, sum by (le, pod) (rate(vllm:time_to_first_token_seconds_bucket[1m])) or sum by (pod) (rate(vllm:time_to_first_token_seconds[1m])))`, // classic or NHCB
		`max by (pod) (vllm:kv_cache_usage_perc)`,
		`sum(vllm:num_requests_waiting)`,
	}
)

type sample struct {
	kind    string
	code    int
	latency time.Duration
}

type results struct {
	samples []sample
	sent    int
}

// load sends rate requests per second for d, open loop (a slow server
// does not slow the sender), each with a 30 s client timeout.
func load(base string, rate int, d time.Duration) results {
	client := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 512}}
	var (
		mu  sync.Mutex
		out results
		wg  sync.WaitGroup
	)
	tick := time.NewTicker(time.Second / time.Duration(rate))
	defer tick.Stop()
	end := time.Now().Add(d)
	for i := 0; time.Now().Before(end); i++ {
		<-tick.C
		var kind, path string
		switch i % 10 {
		case 0, 1, 2, 3:
			kind, path = "page", pages[i%len(pages)]
		case 4, 5, 6, 7:
			kind, path = "query", "/api/v1/query?"+url.Values{"query": {queries[i%len(queries)]}}.Encode()
		default:
			now := time.Now()
			kind, path = "range", "/api/v1/query_range?"+url.Values{"query": {queries[i%len(queries)]},
				"start": {strconv.FormatInt(now.Add(-10*time.Minute).Unix(), 10)}, "end": {strconv.FormatInt(now.Unix(), 10)}, "step": {"15"}}.Encode()
		}
		out.sent++
		wg.Go(func() {
			t0 := time.Now()
			code := 0
			resp, err := client.Get(base + path)
			if err == nil {
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				code = resp.StatusCode
			}
			mu.Lock()
			out.samples = append(out.samples, sample{kind: kind, code: code, latency: time.Since(t0)})
			mu.Unlock()
		})
	}
	wg.Wait()
	return out
}

// scrapeStats counts, from the server's own up series over the load, the
// scrapes missing against the schedule (one per target allowed for the
// window's edges) and the scrapes that recorded up == 0.
func scrapeStats(base string, o options, start, end time.Time) (missed, falseDown int, err error) {
	window := end.Sub(start)
	want := int(window / o.interval)
	q := fmt.Sprintf("count_over_time(up[%ds])", int(window.Seconds()))
	counts, err := instant(base, q, end)
	if err != nil {
		return 0, 0, err
	}
	downs, err := instant(base, fmt.Sprintf("count_over_time((up == 0)[%ds:%ds])", int(window.Seconds()), int(o.interval.Seconds())), end)
	if err != nil {
		return 0, 0, err
	}
	missed = (o.targets - len(counts)) * want
	for _, c := range counts {
		if short := want - 1 - int(c); short > 0 {
			missed += short
		}
	}
	for _, d := range downs {
		falseDown += int(d)
	}
	return missed, falseDown, nil
}

func instant(base, q string, at time.Time) ([]float64, error) {
	resp, err := http.Get(base + "/api/v1/query?" + url.Values{"query": {q}, "time": {strconv.FormatInt(at.Unix(), 10)}}.Encode())
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var r struct {
		Status string `json:"status"`
		Error  string `json:"error"`
		Data   struct {
			Result []struct {
				Value [2]any `json:"value"`
			} `json:"result"`
		} `json:"data"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&r); err != nil {
		return nil, fmt.Errorf("%s: %w", q, err)
	}
	if r.Status != "success" {
		return nil, fmt.Errorf("%s: %s", q, r.Error)
	}
	var out []float64
	for _, s := range r.Data.Result {
		v, _ := s.Value[1].(string)
		f, err := strconv.ParseFloat(v, 64)
		if err != nil {
			return nil, fmt.Errorf("%s: value %q: %w", q, v, err)
		}
		out = append(out, f)
	}
	return out, nil
}

func percentile(ds []time.Duration, p float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	slices.Sort(ds)
	return ds[min(len(ds)-1, int(float64(len(ds))*p))]
}

func (r results) report(o options, missed, falseDown, peakMiB, rssMiB int) {
	secs := o.duration.Seconds()
	codes := map[int]int{}
	var ok []time.Duration
	byKind := map[string][]time.Duration{}
	for _, s := range r.samples {
		codes[s.code]++
		if s.code == http.StatusOK {
			ok = append(ok, s.latency)
			byKind[s.kind] = append(byKind[s.kind], s.latency)
		}
	}
	// The most requests per second served with a p95 under 1 s: the
	// fastest answers first, as many as keep their p95 below 1 s.
	slices.Sort(ok)
	within := 0
	for n := len(ok); n > 0; n-- {
		if ok[min(n-1, int(float64(n)*0.95))] < time.Second {
			within = n
			break
		}
	}
	fmt.Printf("sent %d requests at %d/s for %s (40%% dashboard pages, 40%% instant queries, 20%% 10-minute range queries)\n", r.sent, o.rate, o.duration)
	fmt.Printf("answered 200: %d (%.1f/s), p50 %s, p95 %s, p99 %s\n", len(ok), float64(len(ok))/secs,
		percentile(slices.Clone(ok), 0.5).Round(time.Millisecond), percentile(slices.Clone(ok), 0.95).Round(time.Millisecond), percentile(slices.Clone(ok), 0.99).Round(time.Millisecond))
	for _, k := range []string{"page", "query", "range"} {
		ds := byKind[k]
		fmt.Printf("  %-5s 200: %5d  p50 %s  p95 %s\n", k, len(ds), percentile(slices.Clone(ds), 0.5).Round(time.Millisecond), percentile(slices.Clone(ds), 0.95).Round(time.Millisecond))
	}
	fmt.Printf("served at p95 < 1 s: %.1f requests/s\n", float64(within)/secs)
	keys := make([]int, 0, len(codes))
	for c := range codes {
		keys = append(keys, c)
	}
	slices.Sort(keys)
	fmt.Print("status codes (0 = client timeout or connection error):")
	for _, c := range keys {
		fmt.Printf(" %d×%d", c, codes[c])
	}
	fmt.Println()
	fmt.Printf("scrapes missed: %d of %d expected; scrapes with up == 0: %d\n", missed, o.targets*int(o.duration/o.interval), falseDown)
	fmt.Printf("servescope RSS: peak %d MiB, at the end %d MiB\n", peakMiB, rssMiB)
}
