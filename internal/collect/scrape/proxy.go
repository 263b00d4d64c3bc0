package scrape

import (
	"encoding/base64"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	config_util "github.com/prometheus/common/config"
	"github.com/prometheus/common/model"
	promconfig "github.com/prometheus/prometheus/config"
	pdiscovery "github.com/prometheus/prometheus/discovery"
	"github.com/prometheus/prometheus/model/relabel"
	pscrape "github.com/prometheus/prometheus/scrape"
)

// filterProxy is the pre-filter in front of Prometheus's scrape loop: an
// HTTP forward proxy with no server, answered in memory by the connection
// the scrape clients' dial function returns (conn.go, pipe.go), set as the
// proxy_url of every job it filters (Prometheus's scrape manager has no
// parser hook). It fetches each plain-http target itself with Prometheus's
// request headers, within the scrape timeout, over kept-alive target
// connections (upstream.go), and answers with the body uncompressed, the
// unread families' sample lines dropped (filter.go), and a Content-Length.
// The job comes as the proxy URL's user name (Proxy-Authorization).
//
// It counts per target the sample lines it dropped in the last scrape, for
// seriesScraped to say what the target sent, and remembers a failed fetch's
// error, which the target status shows instead of the proxy's 502.
//
// body_size_limit counts the target's bytes, as without the proxy: a body
// of limit bytes or more is cut there and padded so that Prometheus reads
// limit bytes and fails the scrape with its own error.
type filterProxy struct {
	logger *slog.Logger
	jobs   atomic.Pointer[map[string]*jobFilter]
	// upstream are the idle connections to the targets; done closes with
	// the proxy; dials counts the clients' connections (tests).
	upstream  upstreamPool
	done      chan struct{}
	closeOnce sync.Once
	dials     atomic.Int64

	mu sync.Mutex
	// targets are by scrape URL: every filtered job filters with the same
	// keep, and a target's scrapes come one after the other. (A URL
	// scraped by a filtered and an unfiltered job would count the lines
	// dropped for the first in the second's scrape_samples_scraped.)
	targets map[string]*targetState
	swept   time.Time
	keep    string // the regex the targets' states were filtered with

	// skips learns from the filtered bodies which targets declare no
	// histogram (nhcbskip.go).
	skips *nhcbSkip
}

// jobFilter is how one job's bodies are filtered.
type jobFilter struct {
	keep  *nameDecisions // shared by the jobs of one keep
	limit int64
	// nhcb and classic: see lineFilter.
	nhcb, classic bool
}

// targetState is one target's filter (its decisions are its job's, set
// for each scrape) and last scrape.
type targetState struct {
	mu     sync.Mutex // held while a scrape of the target is filtered
	filter *lineFilter
	// dropped and err are the last scrape's, read under filterProxy.mu.
	dropped int
	err     error
	used    time.Time
	// contentType and text are the last Content-Type and whether it is a
	// text format (a target sends the same one every time).
	contentType string
	text        bool
}

// textFormat is isTextFormat, remembered for the last type (st.mu held).
func (st *targetState) textFormat(contentType string) bool {
	if st == nil {
		return false
	}
	if contentType != st.contentType {
		st.contentType, st.text = contentType, isTextFormat(contentType)
	}
	return st.text
}

// targetIdle is how long a target's state outlives its last scrape.
const targetIdle = 10 * time.Minute

func newFilterProxy(logger *slog.Logger) *filterProxy {
	p := &filterProxy{logger: logger, targets: map[string]*targetState{}, done: make(chan struct{}), skips: newNHCBSkip()}
	empty := map[string]*jobFilter{}
	p.jobs.Store(&empty)
	return p
}

// proxyURL is the proxy_url of a job: the job's name, base64-encoded (a
// name may hold a colon), is the user name.
func (p *filterProxy) proxyURL(job string) *url.URL {
	return &url.URL{Scheme: "http", User: url.User(base64.RawURLEncoding.EncodeToString([]byte(job))), Host: pipeHost}
}

// setJobs replaces the filtered jobs; keep identifies their keep (its
// regex), and the targets' states are forgotten when it changes.
func (p *filterProxy) setJobs(jobs map[string]*jobFilter, keep string) {
	p.jobs.Store(&jobs)
	p.mu.Lock()
	if keep != p.keep {
		clear(p.targets)
		p.keep = keep
	}
	p.mu.Unlock()
}

// filters says whether job's bodies are filtered.
func (p *filterProxy) filters(job string) (*jobFilter, bool) {
	jf, ok := (*p.jobs.Load())[job]
	return jf, ok
}

// serve returns once the proxy is closed (its work is done in the
// clients' goroutines: conn.go).
func (p *filterProxy) serve() { <-p.done }

// close closes the proxy: new dials fail and idle target connections
// close (the clients close their own connections).
func (p *filterProxy) close() error {
	p.closeOnce.Do(func() {
		close(p.done)
		p.upstream.close()
	})
	return nil
}

// last returns the lines dropped from target url in its last scrape and
// the error of its last fetch, and whether the proxy has scraped it.
func (p *filterProxy) last(url string) (dropped int, err error, ok bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	st, ok := p.targets[url]
	if !ok {
		return 0, nil, false
	}
	return st.dropped, st.err, true
}

// state returns a target's state, forgetting targets idle for targetIdle.
func (p *filterProxy) state(k string) *targetState {
	p.mu.Lock()
	defer p.mu.Unlock()
	now := time.Now()
	if now.Sub(p.swept) > targetIdle {
		for k, st := range p.targets {
			if now.Sub(st.used) > targetIdle {
				delete(p.targets, k)
			}
		}
		p.swept = now
	}
	st, ok := p.targets[k]
	if !ok {
		st = &targetState{filter: newLineFilter(nil)}
		p.targets[k] = st
	}
	st.used = now
	return st
}

// record stores the outcome of a scrape of a target.
func (p *filterProxy) record(st *targetState, dropped int, err error) {
	p.mu.Lock()
	st.dropped, st.err = dropped, err
	p.mu.Unlock()
}

// proxyJob returns the job of a request (see proxyURL), "" when it names
// none.
func proxyJob(r *http.Request) string {
	h := r.Header.Get("Proxy-Authorization")
	if h == "" {
		return ""
	}
	req := http.Request{Header: http.Header{"Authorization": {h}}}
	user, _, _ := req.BasicAuth()
	job, err := base64.RawURLEncoding.DecodeString(user)
	if err != nil {
		return ""
	}
	return string(job)
}

// prefilter points the jobs of scs (copies withKeep made) that the proxy
// can filter at it and tells the proxy how to filter each; keep is the
// keep rule withKeep appended. A job is left alone, filtered by the keep
// alone, when:
//   - it has a proxy of its own (proxy_url, proxy_from_environment,
//     proxy_connect_header);
//   - its scheme is https (a CONNECT tunnel could not be filtered);
//   - its relabelling can scrape through a unix socket (the socket dialer
//     would send the proxy's request to the target);
//   - its own metric_relabel_configs can rename a series: the keep then
//     sees names the target did not send, and dropping a line by the name
//     the target sent could drop what the keep would keep. Keeping it
//     simple and safe: any replace, lowercase, uppercase or hashmod writing
//     __name__ (or a templated target label), and any labelmap.
func (p *filterProxy) prefilter(scs []*promconfig.ScrapeConfig, keep *relabel.Config, sumCountOnly []string) {
	jobs := map[string]*jobFilter{}
	var re string
	if keep != nil {
		re = keep.Regex.String()
		re := keep.Regex
		keepName := newNameDecisions(func(name string) bool {
			return keepsName(re, name) && !unreadBuckets(re, name, sumCountOnly)
		})
		for _, sc := range scs {
			if !filterable(sc) {
				continue
			}
			sc.HTTPClientConfig.ProxyConfig.ProxyURL = config_util.URL{URL: p.proxyURL(sc.JobName)}
			jobs[sc.JobName] = &jobFilter{keep: keepName, limit: int64(sc.BodySizeLimit),
				nhcb: sc.ConvertClassicHistogramsToNHCBEnabled(), classic: sc.AlwaysScrapeClassicHistogramsEnabled()}
		}
	}
	p.setJobs(jobs, re)
}

// targetSettings are target labels that change how a target is scraped
// (Prometheus's scrape/target.go): a unix socket, and the histogram
// settings the filter counts dropped lines by.
var targetSettings = []model.LabelName{pscrape.UnixSocketLabel, "__convert_classic_histograms_to_nhcb__", "__always_scrape_classic_histograms__"}

// filterable says whether the proxy can filter a job (see prefilter).
func filterable(sc *promconfig.ScrapeConfig) bool {
	pc := sc.HTTPClientConfig.ProxyConfig
	if pc.ProxyURL.URL != nil || pc.ProxyFromEnvironment || len(pc.ProxyConnectHeader) > 0 {
		return false
	}
	if sc.Scheme == "https" {
		return false
	}
	for _, rc := range sc.RelabelConfigs {
		if slices.Contains(targetSettings, model.LabelName(rc.TargetLabel)) || strings.Contains(rc.TargetLabel, "$") || rc.Action == relabel.LabelMap {
			return false
		}
	}
	for _, c := range sc.ServiceDiscoveryConfigs {
		if st, ok := c.(pdiscovery.StaticConfig); ok {
			for _, g := range st {
				for _, l := range targetSettings {
					if _, ok := g.Labels[l]; ok {
						return false
					}
					for _, t := range g.Targets {
						if _, ok := t[l]; ok {
							return false
						}
					}
				}
			}
		}
	}
	// The keep rule is last; the job's own steps come before it.
	for _, rc := range sc.MetricRelabelConfigs[:max(len(sc.MetricRelabelConfigs)-1, 0)] {
		switch rc.Action {
		case relabel.LabelMap:
			return false
		case relabel.Replace, relabel.Lowercase, relabel.Uppercase, relabel.HashMod:
			if rc.TargetLabel == model.MetricNameLabel || strings.Contains(rc.TargetLabel, "$") {
				return false
			}
		}
	}
	return true
}
