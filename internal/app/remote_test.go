package app

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"

	"github.com/servescope/servescope/internal/testutil/expo"
	"github.com/servescope/servescope/internal/testutil/proc"
)

// startReceiver runs Debian's Prometheus as a remote-write receiver on
// addr, its store under dir, until t ends (a subtest's end stops it); the
// test is skipped when prometheus is absent.
func startReceiver(t *testing.T, addr, dir string) string {
	t.Helper()
	bin, err := exec.LookPath("prometheus")
	if err != nil {
		t.Skip("Debian's prometheus is not installed; make test installs it (apt-get install prometheus)")
	}
	cfg := filepath.Join(dir, "receiver.yml")
	if err := os.WriteFile(cfg, []byte("global: {scrape_interval: 1m}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	proc.Start(t, dir, "receiver", bin, "--config.file="+cfg, "--storage.tsdb.path="+filepath.Join(dir, "receiver-data"),
		"--web.listen-address="+addr, "--web.enable-remote-write-receiver")
	base := "http://" + addr
	proc.WaitReady(t, "receiver", base, 60*time.Second)
	return base
}

// scrapeLog is a target serving vllmExposition that records when it was
// scraped: each scrape is one `up` sample the receiver must hold.
type scrapeLog struct {
	mu    sync.Mutex
	times []time.Time
}

func (l *scrapeLog) ServeHTTP(w http.ResponseWriter, _ *http.Request) {
	l.mu.Lock()
	l.times = append(l.times, time.Now())
	l.mu.Unlock()
	_, _ = io.WriteString(w, vllmExposition)
}

func (l *scrapeLog) count() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.times)
}

func (l *scrapeLog) since(from time.Time) []time.Time {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []time.Time
	for _, t := range l.times {
		if t.After(from) {
			out = append(out, t)
		}
	}
	return out
}

// remoteConfig is a servescope.yml scraping target every second, with
// external label cluster=a, and remote-writing to receiver when set.
func remoteConfig(target, receiver string) string {
	yml := `global:
  scrape_interval: 1s
  scrape_timeout: 1s
  evaluation_interval: 1s
  external_labels: {cluster: a}
scrape_configs:
  - job_name: vllm
    static_configs: [{targets: ['` + target + `']}]
`
	if receiver != "" {
		yml += `remote_write:
  - url: http://` + receiver + `/api/v1/write
    queue_config: {batch_send_deadline: 200ms, min_backoff: 50ms, max_backoff: 300ms}
    metadata_config: {send_interval: 1s}
`
	}
	return yml
}

// receiverSeries is every series the receiver holds, as label sets.
func receiverSeries(t *testing.T, base string) []model.LabelSet {
	t.Helper()
	var got []model.LabelSet
	proc.GetAPI(t, base+"/api/v1/series?"+url.Values{"match[]": {`{__name__=~".+"}`}, "start": {"0"}}.Encode(), &got)
	return got
}

// upTimes are the timestamps of the receiver's `up` samples of job vllm
// up to at.
func upTimes(t *testing.T, base string, at time.Time) []time.Time {
	t.Helper()
	var m struct {
		Result []struct {
			Values [][2]any `json:"values"`
		} `json:"result"`
	}
	q := url.Values{"query": {`up{job="vllm"}[1h]`}, "time": {strconv.FormatFloat(float64(at.UnixMilli())/1000, 'f', 3, 64)}}
	proc.GetAPI(t, base+"/api/v1/query?"+q.Encode(), &m)
	var out []time.Time
	for _, r := range m.Result {
		for _, v := range r.Values {
			out = append(out, time.UnixMilli(int64(v[0].(float64)*1000+0.5)))
		}
	}
	return out
}

// checkEveryScrape says whether each scrape of the target in (from, to]
// has its `up` sample in the receiver (a sample's timestamp is the scrape's
// start, just before the target served it), and no sample is there twice.
func checkEveryScrape(t *testing.T, base string, scrapes []time.Time, from, to time.Time) (bool, string) {
	t.Helper()
	samples := upTimes(t, base, to.Add(2*time.Second))
	missing := 0
	var first []string
	j := 0
	for _, s := range scrapes {
		if !s.After(from) || s.After(to) {
			continue
		}
		for j < len(samples) && samples[j].Before(s.Add(-time.Second)) {
			j++
		}
		if j < len(samples) && !samples[j].After(s.Add(50*time.Millisecond)) {
			j++
			continue
		}
		missing++
		if len(first) < 5 {
			first = append(first, s.Format("15:04:05.000"))
		}
	}
	return missing == 0, fmt.Sprintf("%d scrapes in (%s, %s] without their sample in the receiver (first %v); %d samples",
		missing, from.Format("15:04:05.000"), to.Format("15:04:05.000"), first, len(samples))
}

// withoutCluster checks every receiver series carries cluster="a" and
// returns the sets without it, as sorted strings.
func withoutCluster(got []model.LabelSet) (sets []string, bad []string) {
	for _, ls := range got {
		if ls["cluster"] != "a" {
			bad = append(bad, ls.String())
		}
		c := ls.Clone()
		delete(c, "cluster")
		sets = append(sets, c.String())
	}
	slices.Sort(sets)
	return sets, bad
}

// TestRemoteWrite runs servescope, then servescope --agent, remote-writing
// to Debian's Prometheus: the receiver holds exactly the series servescope
// has, with the external label; the receiver is stopped while scraping
// goes on and restarted, and every scrape's sample arrives.
func TestRemoteWrite(t *testing.T) {
	for _, agent := range []bool{false, true} {
		t.Run(map[bool]string{false: "serve", true: "agent"}[agent], func(t *testing.T) {
			t.Parallel()
			scrapes := &scrapeLog{}
			target := httptest.NewServer(scrapes)
			defer target.Close()
			host := strings.TrimPrefix(target.URL, "http://")
			dir, recvAddr := t.TempDir(), proc.FreeAddr(t)
			// The agent starts before its receiver: what it scrapes
			// meanwhile waits in the WAL.
			var s *started
			if agent {
				s = start(t, remoteConfig(host, recvAddr), dir, func(o *Options) { o.Agent = true })
			} else {
				s = start(t, remoteConfig(host, ""), dir)
			}
			from := time.Now()
			t.Run("receiver up", func(t *testing.T) {
				recv := startReceiver(t, recvAddr, dir)
				if agent {
					checkAgentAPI(t, s)
					want := agentWant(t, host)
					proc.Eventually(t, "the receiver holds the agent's series", 30*time.Second, func() (bool, string) {
						got, bad := withoutCluster(receiverSeries(t, recv))
						return slices.Equal(got, want) && bad == nil, fmt.Sprintf("got %v\nwant %v\nwithout cluster=a: %v", got, want, bad)
					})
				} else {
					// remote_write comes with a reload: it is read and applied.
					if err := os.WriteFile(filepath.Join(dir, "servescope.yml"), []byte(remoteConfig(host, recvAddr)), 0o644); err != nil {
						t.Fatal(err)
					}
					if err := s.srv.Reload(t.Context()); err != nil {
						t.Fatal(err)
					}
					// The queue the reload starts sends the samples stamped
					// after it started: a scrape begun during the reload and
					// served just after it is stamped before. The window
					// starts a scrape interval later.
					from = time.Now().Add(time.Second)
					proc.Eventually(t, "the receiver holds the embedded store's series", 60*time.Second, func() (bool, string) {
						got, bad := withoutCluster(receiverSeries(t, recv))
						want := embeddedSeries(t, s)
						return slices.Equal(got, want) && bad == nil, fmt.Sprintf("got %v\nwant %v\nwithout cluster=a: %v", got, want, bad)
					})
				}
				proc.Eventually(t, "scrapes arrive", 30*time.Second, func() (bool, string) {
					if to := time.Now().Add(-2 * time.Second); to.Sub(from) < 3*time.Second {
						return false, "fewer than three scrapes in the window yet"
					}
					return checkEveryScrape(t, recv, scrapes.since(from), from, time.Now().Add(-2*time.Second))
				})
				_, metrics := getBody(t, s.base+"/metrics")
				for _, m := range []string{"prometheus_remote_storage_samples_total{", "prometheus_remote_storage_bytes_total{", "prometheus_remote_storage_shards{"} {
					if !strings.Contains(metrics, m) {
						t.Errorf("/metrics has no %s…", m)
					}
				}
			})
			if t.Failed() {
				return
			}
			// The receiver is down: scraping goes on into the WAL.
			down := scrapes.count()
			proc.Eventually(t, "scrapes while the receiver is down", 30*time.Second, func() (bool, string) {
				n := scrapes.count() - down
				return n >= 4, fmt.Sprint(n, " scrapes")
			})
			t.Run("receiver back", func(t *testing.T) {
				recv := startReceiver(t, recvAddr, dir)
				back := time.Now()
				proc.Eventually(t, "every scrape, before, during and after the outage, arrives", 60*time.Second, func() (bool, string) {
					if time.Since(back) < 2*time.Second {
						return false, "receiver just restarted"
					}
					return checkEveryScrape(t, recv, scrapes.since(from), from, time.Now().Add(-2*time.Second))
				})
			})
		})
	}
}

// embeddedSeries is every series the embedded store holds, as sorted
// strings.
func embeddedSeries(t *testing.T, s *started) []string {
	t.Helper()
	got, err := s.srv.Querier().Series(t.Context(), []string{`{__name__=~".+"}`}, time.Unix(0, 0), time.Now().Add(time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	out := make([]string, 0, len(got))
	for _, ls := range got {
		out = append(out, ls.String())
	}
	slices.Sort(out)
	return out
}

// agentWant is what an agent scraping vllmExposition at host must send:
// the exposed series and the scrape's own, with the target's labels.
func agentWant(t *testing.T, host string) []string {
	t.Helper()
	target := model.LabelSet{"job": "vllm", "instance": model.LabelValue(host)}
	var want []string
	for _, smp := range expo.Parse(t, []byte(vllmExposition)) {
		ls := target.Clone()
		smp.Labels.Range(func(l labels.Label) { ls[model.LabelName(l.Name)] = model.LabelValue(l.Value) })
		want = append(want, ls.String())
	}
	for _, name := range []string{"up", "scrape_duration_seconds", "scrape_samples_scraped", "scrape_samples_post_metric_relabeling", "scrape_series_added"} {
		ls := target.Clone()
		ls[model.MetricNameLabel] = model.LabelValue(name)
		want = append(want, ls.String())
	}
	slices.Sort(want)
	return want
}

// checkAgentAPI checks what an agent serves: health, readiness, targets
// and /metrics as usual; queries, rules, diagnoses and the dashboard
// answer Prometheus Agent's error.
func checkAgentAPI(t *testing.T, s *started) {
	t.Helper()
	proc.WaitReady(t, "agent", s.base, 30*time.Second)
	for _, path := range []string{"/api/v1/query", "/api/v1/query_range", "/api/v1/series", "/api/v1/labels", "/api/v1/rules", "/api/v1/alerts", "/api/v1/diagnoses", "/api/v1/costs", "/api/v1/fleet"} {
		code, r := s.get(t, path, url.Values{"query": {"up"}, "match[]": {"up"}, "start": {"0"}, "end": {"60"}, "step": {"15"}})
		if code != http.StatusUnprocessableEntity || r.ErrorType != "execution" || !strings.Contains(r.Error, "agent mode") {
			t.Errorf("GET %s in agent mode: %d %s %q, want 422 execution naming agent mode", path, code, r.ErrorType, r.Error)
		}
	}
	if code, body := getBody(t, s.base+"/"); !strings.Contains(body, "agent mode") {
		t.Errorf("GET / in agent mode: %d %q", code, body)
	}
	proc.Eventually(t, "agent target scraped", 30*time.Second, func() (bool, string) {
		code, r := s.get(t, "/api/v1/targets", nil)
		return code == 200 && strings.Contains(string(r.Data), `"health":"up"`), fmt.Sprint(code, " ", string(r.Data))
	})
}

// TestAgentNeedsRemoteWrite: an agent without remote_write, or reading a
// remote API, refuses to start, and a reload dropping remote_write keeps
// the running config.
func TestAgentNeedsRemoteWrite(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	cfgFile := filepath.Join(dir, "servescope.yml")
	if err := os.WriteFile(cfgFile, []byte(remoteConfig("127.0.0.1:1", "")), 0o644); err != nil {
		t.Fatal(err)
	}
	o := Options{ConfigFile: cfgFile, StoragePath: filepath.Join(dir, "data"), ListenAddress: "127.0.0.1:0", Agent: true}
	if _, err := New(o); err == nil || !strings.Contains(err.Error(), "remote_write") || !strings.Contains(err.Error(), cfgFile) {
		t.Errorf("agent without remote_write: %v, want an error naming the file and remote_write", err)
	}
	o.RemoteURL = "http://127.0.0.1:1"
	if err := os.WriteFile(cfgFile, []byte(remoteConfig("127.0.0.1:1", "127.0.0.1:2")), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := New(o); err == nil || !strings.Contains(err.Error(), "--query.remote-url") {
		t.Errorf("agent with --query.remote-url: %v, want a refusal", err)
	}

	s := start(t, remoteConfig("127.0.0.1:1", "127.0.0.1:2"), t.TempDir(), func(o *Options) { o.Agent = true })
	if err := os.WriteFile(s.srv.opts.ConfigFile, []byte(remoteConfig("127.0.0.1:1", "")), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := s.srv.Reload(t.Context()); err == nil || !strings.Contains(err.Error(), "remote_write") {
		t.Errorf("agent reloading a config without remote_write: %v, want a refusal", err)
	}
}
