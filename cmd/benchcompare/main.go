// Package main is the benchcompare command (`make bench-compare`): it
// measures what servescope costs next to a Prometheus watching the same
// fleet. One `servescope sim` serves a simulated fleet; the first -targets of
// its targets (an even sample over every kind: vLLM, SGLang, dcgm-exporter,
// Kueue, kube-state-metrics) are scraped at -interval by `servescope serve`
// and by each Prometheus given (Debian's `prometheus` by default, and
// optionally a second one such as Prometheus 3 built from
// github.com/prometheus/prometheus/cmd/prometheus), the Prometheus servers
// evaluating the rules file of `servescope rules` at the same interval as
// servescope evaluates them built in. After -warmup it reads each process's
// CPU seconds from /proc/<pid>/stat over -duration, its RSS and peak RSS, its
// head series (/api/v1/status/tsdb), then sends the same dashboard queries
// (instant and a 3-minute range) to each in turn, -rounds times, and prints
// p50/p95 and the ratios servescope ÷ Prometheus. It is not a test: its
// figures depend on the machine and what else runs on it.
package main

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/servescope/servescope/cmd/internal/benchproc"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "benchcompare:", err)
		os.Exit(1)
	}
}

type options struct {
	bin, prom, prom3 string
	scenario         string
	targets          int
	interval         time.Duration
	warmup           time.Duration
	duration         time.Duration
	rounds           int
	keep             bool
	serveArgs        string
	profile          string
	serveEnv         string
	// classic keeps servescope's classic histograms (a series per bucket)
	// instead of its default native histograms with custom buckets.
	classic bool
}

// server is one process under measurement.
type server struct {
	name string
	base string
	cmd  *exec.Cmd
	// measured
	cpu        float64 // cores over the window
	rss, peak  int     // MiB
	series     uint64
	lat        map[string][]time.Duration // by "instant" / "range"
	failed     int
	missedRule float64
	groups     []ruleTime // rule groups by last evaluation time
	rules      []ruleTime // the slowest rules
}

type ruleTime struct {
	name    string
	seconds float64
}

func run() error {
	var o options
	flag.StringVar(&o.bin, "bin", "bin/servescope", "servescope binary")
	flag.StringVar(&o.prom, "prometheus", "prometheus", "a Prometheus binary (Debian's by default); empty: none")
	flag.StringVar(&o.prom3, "prometheus3", "", "a second Prometheus binary, e.g. Prometheus 3 built with `go build -o ~/.cache/servescope/prometheus-v0.316.0 github.com/prometheus/prometheus/cmd/prometheus` (empty: none)")
	flag.StringVar(&o.scenario, "scenario", "healthy", "simulated scenario")
	flag.IntVar(&o.targets, "targets", 200, "targets scraped by every server (an even sample of the simulator's)")
	flag.DurationVar(&o.interval, "interval", 5*time.Second, "scrape and rule evaluation interval")
	flag.DurationVar(&o.warmup, "warmup", 60*time.Second, "scraping before the CPU window")
	flag.DurationVar(&o.duration, "duration", 120*time.Second, "the CPU window")
	flag.IntVar(&o.rounds, "rounds", 10, "rounds of dashboard queries after the window (each query instant and range, on every server)")
	flag.BoolVar(&o.keep, "keep", false, "keep the work directory (logs, data)")
	flag.StringVar(&o.serveArgs, "serve-args", "", "extra `servescope serve` flags, space-separated")
	flag.StringVar(&o.serveEnv, "serve-env", "", "extra environment of `servescope serve`, space-separated NAME=VALUE (e.g. GOGC=75)")
	flag.StringVar(&o.profile, "cpuprofile", "", "write servescope's CPU profile of the window to this file (serve --web.enable-pprof), and each Prometheus's to this file name followed by .prometheus-N; the heap profiles at the window's end to the same names with .heap after the file name")
	flag.BoolVar(&o.classic, "keep-classic-histograms", false, "servescope stores classic histograms as Prometheus does (servescope.keep_classic_histograms: true) instead of as native histograms with custom buckets")
	flag.Parse()

	dir, err := os.MkdirTemp("", "servescope-benchcompare-")
	if err != nil {
		return fmt.Errorf("work directory: %w", err)
	}
	if o.keep {
		fmt.Println("work directory:", dir)
	} else {
		defer os.RemoveAll(dir)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	// The simulator, with enough GPUs for the targets asked (about 0.75
	// targets per GPU: a vLLM pod per GPU or two, a dcgm-exporter per node).
	gpus := max(16, int(math.Ceil(float64(o.targets)*1.4)))
	simAddr, err := benchproc.FreeAddr()
	if err != nil {
		return err
	}
	all := filepath.Join(dir, "sim-targets.json")
	sim, err := start(ctx, dir, "sim", o.bin, "sim", "--scenario", o.scenario, "--gpus", strconv.Itoa(gpus), "--listen", simAddr, "--file-sd", all, "--log.level", "error")
	if err != nil {
		return err
	}
	defer stop(sim)
	if err := benchproc.WaitHTTP(ctx, "http://"+simAddr+"/truth", 5*time.Minute); err != nil {
		return err
	}
	n, err := sampleTargets(all, filepath.Join(dir, "targets.json"), o.targets)
	if err != nil {
		return err
	}

	jobs := fmt.Sprintf(`global: {scrape_interval: %s, scrape_timeout: %s, evaluation_interval: %s}
scrape_configs:
  - job_name: sim-honor
    honor_labels: true
    file_sd_configs: [{files: ['%[4]s']}]
    relabel_configs: [{source_labels: [__meta_sim_honor_labels], regex: 'true', action: keep}]
  - job_name: sim
    honor_labels: false
    file_sd_configs: [{files: ['%[4]s']}]
    relabel_configs: [{source_labels: [__meta_sim_honor_labels], regex: 'true', action: drop}]
`, o.interval, o.interval, o.interval, filepath.Join(dir, "targets.json"))
	serveCfg := jobs
	if o.classic {
		serveCfg += "servescope:\n  keep_classic_histograms: true\n"
	}
	if err := os.WriteFile(filepath.Join(dir, "serve.yml"), []byte(serveCfg), 0o644); err != nil {
		return fmt.Errorf("write config: %w", err)
	}
	rules, err := exec.CommandContext(ctx, o.bin, "rules", "--interval", o.interval.String()).Output()
	if err != nil {
		return fmt.Errorf("%s rules: %w", o.bin, err)
	}
	if err := os.WriteFile(filepath.Join(dir, "rules.yml"), rules, 0o644); err != nil {
		return fmt.Errorf("write rules: %w", err)
	}
	promCfg := jobs + "rule_files: ['" + filepath.Join(dir, "rules.yml") + "']\n"
	if err := os.WriteFile(filepath.Join(dir, "prometheus.yml"), []byte(promCfg), 0o644); err != nil {
		return fmt.Errorf("write config: %w", err)
	}

	var servers []*server
	defer func() {
		for _, s := range servers {
			stop(s.cmd)
		}
	}()
	addr, err := benchproc.FreeAddr()
	if err != nil {
		return err
	}
	args := append([]string{"serve", "--config", filepath.Join(dir, "serve.yml"), "--storage.path", filepath.Join(dir, "servescope"),
		"--web.listen-address", addr, "--log.level", "error"}, strings.Fields(o.serveArgs)...)
	if o.profile != "" {
		args = append(args, "--web.enable-pprof")
	}
	c, err := startEnv(ctx, dir, "servescope", strings.Fields(o.serveEnv), o.bin, args...)
	if err != nil {
		return err
	}
	servers = append(servers, &server{name: "servescope", base: "http://" + addr, cmd: c})
	for i, p := range []string{o.prom, o.prom3} {
		if p == "" {
			continue
		}
		addr, err := benchproc.FreeAddr()
		if err != nil {
			return err
		}
		name := fmt.Sprintf("prometheus-%d", i+1)
		c, err := start(ctx, dir, name, p, "--config.file="+filepath.Join(dir, "prometheus.yml"),
			"--storage.tsdb.path="+filepath.Join(dir, name), "--web.listen-address="+addr, "--log.level=error")
		if err != nil {
			return err
		}
		servers = append(servers, &server{name: name + " " + version(ctx, p), base: "http://" + addr, cmd: c})
	}
	for _, s := range servers {
		if err := benchproc.WaitHTTP(ctx, s.base+"/-/ready", 5*time.Minute); err != nil {
			return fmt.Errorf("%s: %w", s.name, err)
		}
	}
	fmt.Printf("%d targets of the %s scenario (%d GPUs simulated) scraped every %s; warming up %s, then a CPU window of %s\n",
		n, o.scenario, gpus, o.interval, o.warmup, o.duration)
	time.Sleep(o.warmup) // real time: the servers scrape and evaluate meanwhile

	t0 := time.Now()
	before := make([]float64, len(servers))
	for i, s := range servers {
		if before[i], err = cpuSeconds(s.cmd.Process.Pid); err != nil {
			return err
		}
	}
	profiled := make(chan error, 1)
	if o.profile != "" {
		// Every server's profile of the same window: servescope's into the
		// file named, each Prometheus's beside it (Prometheus serves pprof
		// by default).
		go func() {
			errs := make(chan error, len(servers))
			for i, s := range servers {
				file := o.profile
				if i > 0 {
					file += "." + strings.Fields(s.name)[0]
				}
				go func() {
					errs <- fetch(s.base+"/debug/pprof/profile?seconds="+strconv.Itoa(int(o.duration.Seconds())), file)
				}()
			}
			var err error
			for range servers {
				err = errors.Join(err, <-errs)
			}
			profiled <- err
		}()
	} else {
		profiled <- nil
	}
	time.Sleep(o.duration)
	wall := time.Since(t0).Seconds()
	for i, s := range servers {
		after, err := cpuSeconds(s.cmd.Process.Pid)
		if err != nil {
			return err
		}
		s.cpu = (after - before[i]) / wall
		s.peak, s.rss = benchproc.Memory(s.cmd.Process.Pid)
		s.series, err = headSeries(s.base)
		if err != nil {
			return fmt.Errorf("%s: %w", s.name, err)
		}
		s.missedRule, _ = metricSum(s.base, "prometheus_rule_group_iterations_missed_total")
		if s.groups, s.rules, err = ruleTimes(s.base); err != nil {
			return fmt.Errorf("%s: %w", s.name, err)
		}
	}
	load := loadAvg()
	sent, kept, scraped, err := targetSeries(servers[0].base)
	if err != nil {
		return err
	}
	if err := <-profiled; err != nil {
		return fmt.Errorf("profile: %w", err)
	}
	if o.profile != "" {
		// And each server's heap as the window ends, beside its CPU profile.
		for i, s := range servers {
			file := o.profile + ".heap"
			if i > 0 {
				file += "." + strings.Fields(s.name)[0]
			}
			if err := fetch(s.base+"/debug/pprof/heap", file); err != nil {
				return fmt.Errorf("heap profile: %w", err)
			}
		}
	}

	// The dashboard's queries, on every server in turn.
	client := &http.Client{Timeout: time.Minute}
	for r := range o.rounds {
		now := time.Now()
		for k := range servers {
			s := servers[(k+r)%len(servers)] // who goes first rotates
			if s.lat == nil {
				s.lat = map[string][]time.Duration{}
			}
			for _, q := range dashboardQueries {
				inst := url.Values{"query": {q}, "time": {unix(now)}}
				rng := url.Values{"query": {q}, "start": {unix(now.Add(-3 * time.Minute))}, "end": {unix(now)}, "step": {strconv.FormatFloat(o.interval.Seconds(), 'f', -1, 64)}}
				for kind, path := range map[string]string{"instant": "/api/v1/query?" + inst.Encode(), "range": "/api/v1/query_range?" + rng.Encode()} {
					d, err := timed(client, s.base+path)
					if err != nil {
						s.failed++
						fmt.Fprintf(os.Stderr, "%s: %s %s: %v\n", s.name, kind, q, err)
						continue
					}
					s.lat[kind] = append(s.lat[kind], d)
				}
			}
		}
	}
	report(o, servers, load)
	histograms := "native histograms with custom buckets"
	if o.classic {
		histograms = "classic histograms"
	}
	fmt.Printf("servescope (%s): /api/v1/targets, %d targets scraped: %d series sent, %d kept (%.1f and %.1f per target)\n",
		histograms, scraped, sent, kept, float64(sent)/float64(max(scraped, 1)), float64(kept)/float64(max(scraped, 1)))
	return nil
}

// dashboardQueries are what the dashboard's Fleet and Serving pages ask for
// every panel, over the recorded series both sides evaluate.
var dashboardQueries = []string{
	`avg(servescope:gpu_busy_ratio:avg)`,
	`sum(servescope:generation_tokens_per_second:sum)`,
	`max by (namespace, pod) (servescope:kv_cache_usage_ratio:avg)`,
	`servescope:ttft_seconds:p95`,
	`sum by (namespace, pod) (servescope:generation_tokens_per_second:sum) / sum by (namespace, pod) (servescope:requests_running:sum)`,
}

func report(o options, servers []*server, load string) {
	fmt.Printf("load average at the end of the window: %s\n\n", load)
	fmt.Println("| | CPU (cores) | RSS | peak RSS | head series | rule iterations missed | query p50 | query p95 | instant p95 | range p95 | failed queries |")
	fmt.Println("|---|---|---|---|---|---|---|---|---|---|---|")
	for _, s := range servers {
		all := append(slices.Clone(s.lat["instant"]), s.lat["range"]...)
		fmt.Printf("| %s | %.3f | %d MiB | %d MiB | %d | %.0f | %s | %s | %s | %s | %d |\n", s.name, s.cpu, s.rss, s.peak, s.series, s.missedRule,
			ms(pct(all, 0.5)), ms(pct(all, 0.95)), ms(pct(s.lat["instant"], 0.95)), ms(pct(s.lat["range"], 0.95)), s.failed)
	}
	fmt.Println()
	for _, s := range servers {
		fmt.Printf("%s: rule groups' last evaluation:", s.name)
		for _, g := range s.groups {
			fmt.Printf(" %s %.3f s;", g.name, g.seconds)
		}
		fmt.Printf(" slowest rules:")
		for _, r := range s.rules[:min(5, len(s.rules))] {
			fmt.Printf(" %s %.3f s;", r.name, r.seconds)
		}
		fmt.Println()
	}
	ours := servers[0]
	ourAll := append(slices.Clone(ours.lat["instant"]), ours.lat["range"]...)
	for _, p := range servers[1:] {
		theirs := append(slices.Clone(p.lat["instant"]), p.lat["range"]...)
		fmt.Printf("\nservescope ÷ %s: CPU %.2f×, RSS %.2f×, peak RSS %.2f×, head series %.2f×, query p95 %.2f×\n", p.name,
			p.ratio(ours.cpu, p.cpu), p.ratio(float64(ours.rss), float64(p.rss)), p.ratio(float64(ours.peak), float64(p.peak)),
			p.ratio(float64(ours.series), float64(p.series)), p.ratio(pct(ourAll, 0.95).Seconds(), pct(theirs, 0.95).Seconds()))
	}
	fmt.Printf("\n(%d targets, %s interval, %s window after %s warm-up, %d rounds of %d queries × instant and 3-minute range)\n",
		o.targets, o.interval, o.duration, o.warmup, o.rounds, len(dashboardQueries))
}

func (*server) ratio(a, b float64) float64 {
	if b == 0 {
		return math.NaN()
	}
	return a / b
}

func ms(d time.Duration) string { return d.Round(time.Millisecond).String() }

func pct(ds []time.Duration, p float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[min(len(s)-1, int(math.Ceil(float64(len(s))*p))-1)]
}

func unix(t time.Time) string { return strconv.FormatFloat(float64(t.UnixMilli())/1000, 'f', 3, 64) }

// timed GETs u and returns how long the whole answer took; an error status
// or an API error counts as a failure.
func timed(c *http.Client, u string) (time.Duration, error) {
	t0 := time.Now()
	resp, err := c.Get(u)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	d := time.Since(t0)
	if err != nil {
		return 0, err
	}
	var r struct {
		Status string `json:"status"`
		Error  string `json:"error"`
		Data   struct {
			Result []json.RawMessage `json:"result"`
		} `json:"data"`
	}
	if err := json.Unmarshal(b, &r); err != nil {
		return 0, fmt.Errorf("status %d: %w", resp.StatusCode, err)
	}
	if r.Status != "success" {
		return 0, fmt.Errorf("status %d: %s", resp.StatusCode, r.Error)
	}
	if len(r.Data.Result) == 0 {
		return 0, errors.New("empty result")
	}
	return d, nil
}

// sampleTargets writes to dst an even sample of n targets of the file_sd
// file src (all kinds of target in their proportions), each with its
// group's labels, and returns how many it wrote.
func sampleTargets(src, dst string, n int) (int, error) {
	b, err := os.ReadFile(src)
	if err != nil {
		return 0, fmt.Errorf("read targets: %w", err)
	}
	var groups []struct {
		Targets []string          `json:"targets"`
		Labels  map[string]string `json:"labels"`
	}
	if err := json.Unmarshal(b, &groups); err != nil {
		return 0, fmt.Errorf("read targets %s: %w", src, err)
	}
	type one struct {
		Targets []string          `json:"targets"`
		Labels  map[string]string `json:"labels"`
	}
	var flat []one
	for _, g := range groups {
		for _, t := range g.Targets {
			flat = append(flat, one{Targets: []string{t}, Labels: g.Labels})
		}
	}
	if len(flat) < n {
		return 0, fmt.Errorf("the simulator serves %d targets, fewer than %d", len(flat), n)
	}
	out := make([]one, 0, n)
	for i := range n {
		out = append(out, flat[i*len(flat)/n])
	}
	b, err = json.Marshal(out)
	if err != nil {
		return 0, fmt.Errorf("encode targets: %w", err)
	}
	if err := os.WriteFile(dst, b, 0o644); err != nil {
		return 0, fmt.Errorf("write targets: %w", err)
	}
	return len(out), nil
}

// start runs bin with args, its output in dir/name.log.
func start(ctx context.Context, dir, name, bin string, args ...string) (*exec.Cmd, error) {
	return startEnv(ctx, dir, name, nil, bin, args...)
}

// startEnv is start with env added to the environment.
func startEnv(ctx context.Context, dir, name string, env []string, bin string, args ...string) (*exec.Cmd, error) {
	log, err := os.Create(filepath.Join(dir, name+".log"))
	if err != nil {
		return nil, fmt.Errorf("log of %s: %w", name, err)
	}
	return benchproc.Command{Bin: bin, Args: args, Env: env, Output: log, WaitDelay: 20 * time.Second}.Start(ctx)
}

// stop ends a process started here: SIGTERM, then its exit.
func stop(c *exec.Cmd) {
	_ = c.Process.Signal(syscall.SIGTERM) // it may have exited already
	done := make(chan struct{})
	go func() { _ = c.Wait(); close(done) }() // its exit status says nothing here
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		_ = c.Process.Kill()
		<-done
	}
}

func version(ctx context.Context, bin string) string {
	out, _ := exec.CommandContext(ctx, bin, "--version").CombinedOutput() // a name without a version is still a name
	return versionOf(string(out), bin)
}

// versionOf reads the version from `prometheus --version`'s first line
// ("prometheus, version 2.42.0+ds (branch: …"); a build without one (`go
// build` of a module version prints "version  (branch: , …") is named by
// its binary's file name, which make prometheus3 gives the version.
func versionOf(out, bin string) string {
	if f := strings.Fields(out); len(f) >= 3 && !strings.HasPrefix(f[2], "(") {
		return f[2]
	}
	return filepath.Base(bin)
}

// cpuSeconds reads a process's user and system time from /proc/<pid>/stat.
func cpuSeconds(pid int) (float64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, fmt.Errorf("cpu of %d: %w", pid, err)
	}
	// Fields after the command name, which is in parentheses.
	f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+1:]))
	if len(f) < 13 {
		return 0, fmt.Errorf("cpu of %d: short stat line", pid)
	}
	utime, err1 := strconv.ParseFloat(f[11], 64)
	stime, err2 := strconv.ParseFloat(f[12], 64)
	if err := errors.Join(err1, err2); err != nil {
		return 0, fmt.Errorf("cpu of %d: %w", pid, err)
	}
	const ticks = 100 // USER_HZ on Linux
	return (utime + stime) / ticks, nil
}

func headSeries(base string) (uint64, error) {
	resp, err := http.Get(base + "/api/v1/status/tsdb")
	if err != nil {
		return 0, fmt.Errorf("tsdb status: %w", err)
	}
	defer resp.Body.Close()
	var r struct {
		Data struct {
			HeadStats struct {
				NumSeries uint64 `json:"numSeries"`
			} `json:"headStats"`
		} `json:"data"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&r); err != nil {
		return 0, fmt.Errorf("tsdb status: %w", err)
	}
	return r.Data.HeadStats.NumSeries, nil
}

// ruleTimes reads /api/v1/rules: each group's and each rule's last
// evaluation time, the slowest first.
func ruleTimes(base string) (groups, rules []ruleTime, err error) {
	resp, err := http.Get(base + "/api/v1/rules?type=record")
	if err != nil {
		return nil, nil, fmt.Errorf("rules: %w", err)
	}
	defer resp.Body.Close()
	var r struct {
		Data struct {
			Groups []struct {
				Name           string  `json:"name"`
				EvaluationTime float64 `json:"evaluationTime"`
				Rules          []struct {
					Name           string  `json:"name"`
					EvaluationTime float64 `json:"evaluationTime"`
				} `json:"rules"`
			} `json:"groups"`
		} `json:"data"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&r); err != nil {
		return nil, nil, fmt.Errorf("rules: %w", err)
	}
	for _, g := range r.Data.Groups {
		groups = append(groups, ruleTime{g.Name, g.EvaluationTime})
		for _, x := range g.Rules {
			rules = append(rules, ruleTime{x.Name, x.EvaluationTime})
		}
	}
	slices.SortFunc(rules, func(a, b ruleTime) int { return cmp.Compare(b.seconds, a.seconds) })
	return groups, rules, nil
}

// metricSum adds the samples of one metric on base's /metrics.
func metricSum(base, name string) (float64, error) {
	resp, err := http.Get(base + "/metrics")
	if err != nil {
		return 0, fmt.Errorf("metrics: %w", err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, fmt.Errorf("metrics: %w", err)
	}
	var sum float64
	for _, l := range strings.Split(string(b), "\n") {
		f := strings.Fields(l)
		if len(f) >= 2 && (f[0] == name || strings.HasPrefix(f[0], name+"{")) {
			v, err := strconv.ParseFloat(f[len(f)-1], 64)
			if err == nil {
				sum += v
			}
		}
	}
	return sum, nil
}

// fetch writes the body of u to file.
func fetch(u, file string) error {
	resp, err := http.Get(u)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s: status %d", u, resp.StatusCode)
	}
	f, err := os.Create(file)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, resp.Body); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	return strings.Join(strings.Fields(string(b))[:3], " ")
}
