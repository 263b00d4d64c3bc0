package scrape

import (
	"bufio"
	"cmp"
	"compress/gzip"
	"context"
	"encoding/base64"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strconv"
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
// HTTP forward proxy served in memory (pipe.go), set as the proxy_url of
// every job it filters (Prometheus's scrape manager has no parser hook). It fetches
// each plain-http target itself with Prometheus's request headers, within
// the request's context (the scrape timeout), and streams the body back
// uncompressed with the unread families' sample lines dropped (filter.go).
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
	ln     *pipeListener
	srv    *http.Server
	client *http.Client
	jobs   atomic.Pointer[map[string]*jobFilter]

	mu sync.Mutex
	// targets are by scrape URL: every filtered job filters with the same
	// keep, and a target's scrapes come one after the other. (A URL
	// scraped by a filtered and an unfiltered job would count the lines
	// dropped for the first in the second's scrape_samples_scraped.)
	targets map[string]*targetState
	swept   time.Time
	keep    string // the regex of the targets' decisions
}

// jobFilter is how one job's bodies are filtered.
type jobFilter struct {
	keep  func(name string) bool
	limit int64
	// nhcb and classic: see lineFilter.
	nhcb, classic bool
}

// targetState is one target's cache of name decisions and last scrape.
type targetState struct {
	mu     sync.Mutex // held while a scrape of the target is filtered
	filter *lineFilter
	out    *bufio.Writer
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
	p := &filterProxy{
		logger:  logger,
		ln:      newPipeListener(),
		targets: map[string]*targetState{},
		client: &http.Client{
			Transport: &http.Transport{
				Proxy:               nil,
				DialContext:         (&net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
				MaxIdleConns:        20000,
				MaxIdleConnsPerHost: 1000,
				ReadBufferSize:      filterBufferSize,
				IdleConnTimeout:     5 * time.Minute,
				// The Accept-Encoding of the scrape is forwarded and the
				// body decoded here.
				DisableCompression: true,
			},
			// Prometheus's client follows redirects (or not) itself.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
	}
	p.srv = &http.Server{Handler: p, ReadHeaderTimeout: time.Minute, ErrorLog: slog.NewLogLogger(logger.Handler(), slog.LevelDebug)}
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
// regex), and the targets' cached decisions are forgotten when it changes.
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

// serve serves until close.
func (p *filterProxy) serve() {
	if err := p.srv.Serve(p.ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		p.logger.Error("scrape filter stopped", "err", err)
	}
}

func (p *filterProxy) close() error { return p.srv.Close() }

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
func (p *filterProxy) state(k string, keep func(string) bool) *targetState {
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
		st = &targetState{filter: newLineFilter(keep)}
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

// hopHeaders are not forwarded (RFC 9110 section 7.6.1) and the proxy's own.
var hopHeaders = []string{"Connection", "Proxy-Connection", "Keep-Alive", "Proxy-Authenticate", "Proxy-Authorization", "Te", "Trailer", "Transfer-Encoding", "Upgrade"}

func (p *filterProxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method == http.MethodConnect {
		p.tunnel(w, r)
		return
	}
	if !r.URL.IsAbs() {
		http.Error(w, "servescope scrape filter: not a proxy request", http.StatusBadRequest)
		return
	}
	job := proxyJob(r)
	ctx := r.Context()
	if s, err := strconv.ParseFloat(r.Header.Get("X-Prometheus-Scrape-Timeout-Seconds"), 64); err == nil && s > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, time.Duration(s*float64(time.Second)))
		defer cancel()
	}
	out, err := http.NewRequestWithContext(ctx, r.Method, r.URL.String(), http.NoBody)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	out.Header = r.Header.Clone()
	for _, h := range hopHeaders {
		out.Header.Del(h)
	}
	out.Host = r.Host
	jf, filtered := p.filters(job)
	var st *targetState
	if filtered {
		st = p.state(r.URL.String(), jf.keep)
		st.mu.Lock()
		defer st.mu.Unlock()
	}
	resp, err := p.client.Do(out)
	if err != nil {
		if st != nil {
			p.record(st, 0, err)
		}
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	defer resp.Body.Close()
	enc := resp.Header.Get("Content-Encoding")
	if !filtered || resp.StatusCode != http.StatusOK || !st.textFormat(resp.Header.Get("Content-Type")) || (enc != "" && enc != "gzip" && enc != "identity") {
		if st != nil {
			p.record(st, 0, nil)
		}
		passThrough(w, resp)
		return
	}
	body := io.Reader(resp.Body)
	if enc == "gzip" {
		br := bufio.NewReader(resp.Body)
		if magic, err := br.Peek(2); err != nil || magic[0] != 0x1f || magic[1] != 0x8b {
			// Not gzip: Prometheus fails it with its own error.
			p.record(st, 0, nil)
			resp.Body = io.NopCloser(br)
			passThrough(w, resp)
			return
		}
		gz, err := gzip.NewReader(br)
		if err != nil {
			p.record(st, 0, nil)
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		defer gz.Close()
		body = gz
	}
	copyHeader(w.Header(), resp.Header)
	w.Header().Del("Content-Encoding")
	w.Header().Del("Content-Length")
	w.WriteHeader(resp.StatusCode)
	st.filter.nhcb, st.filter.classic = jf.nhcb, jf.classic
	// One large chunk rather than a write per line: the buffer is the
	// target's, reused from scrape to scrape.
	if st.out == nil {
		st.out = bufio.NewWriterSize(w, filterBufferSize)
	} else {
		st.out.Reset(w)
	}
	stats, err := st.filter.copy(st.out, body, jf.limit)
	if err == nil || errors.Is(err, errOverLimit) {
		err = cmp.Or(st.out.Flush(), err)
	}
	st.out.Reset(nil)
	p.record(st, stats.Samples, nil)
	switch {
	case errors.Is(err, errOverLimit):
		pad(w, jf.limit-stats.Out)
	case err != nil:
		// The target's body broke off: break the response off too, for
		// Prometheus to fail the scrape.
		panic(http.ErrAbortHandler)
	}
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

func copyHeader(dst, src http.Header) {
	for k, vs := range src {
		dst[k] = append(dst[k][:0:0], vs...)
	}
	for _, h := range hopHeaders {
		dst.Del(h)
	}
}

// passThrough answers with the target's response unchanged.
func passThrough(w http.ResponseWriter, resp *http.Response) {
	copyHeader(w.Header(), resp.Header)
	w.WriteHeader(resp.StatusCode)
	if _, err := io.Copy(w, resp.Body); err != nil {
		panic(http.ErrAbortHandler)
	}
}

// pad writes n bytes of spaces.
func pad(w io.Writer, n int64) {
	var spaces [32 << 10]byte
	for i := range spaces {
		spaces[i] = ' '
	}
	for n > 0 {
		k, err := w.Write(spaces[:min(n, int64(len(spaces)))])
		if err != nil {
			return
		}
		n -= int64(k)
	}
}

// tunnel relays a CONNECT (an https target) unchanged, unfiltered.
func (p *filterProxy) tunnel(w http.ResponseWriter, r *http.Request) {
	var d net.Dialer
	up, err := d.DialContext(r.Context(), "tcp", r.Host)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	hj, ok := w.(http.Hijacker)
	if !ok {
		_ = up.Close()
		http.Error(w, "servescope scrape filter: cannot tunnel", http.StatusInternalServerError)
		return
	}
	down, rw, err := hj.Hijack()
	if err != nil {
		_ = up.Close()
		return
	}
	if _, err := io.WriteString(down, "HTTP/1.1 200 Connection established\r\n\r\n"); err != nil {
		_ = up.Close()
		_ = down.Close()
		return
	}
	done := make(chan struct{}, 2)
	go func() {
		// What the client sent after its request is buffered in rw.
		_, _ = io.Copy(up, rw)
		done <- struct{}{}
	}()
	go func() {
		_, _ = io.Copy(down, up)
		done <- struct{}{}
	}()
	<-done
	_ = up.Close()
	_ = down.Close()
	<-done
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
func (p *filterProxy) prefilter(scs []*promconfig.ScrapeConfig, keep *relabel.Config) {
	jobs := map[string]*jobFilter{}
	var re string
	if keep != nil {
		re = keep.Regex.String()
		re := keep.Regex
		keepName := func(name string) bool { return keepsName(re, name) }
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
