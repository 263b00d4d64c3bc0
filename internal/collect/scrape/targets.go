package scrape

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	config_util "github.com/prometheus/common/config"
	promconfig "github.com/prometheus/prometheus/config"
	"github.com/prometheus/prometheus/model/labels"

	"github.com/servescope/servescope/internal/collect/parse"
)

// Target is one target's status, in the JSON shape of Prometheus's
// /api/v1/targets.
type Target struct {
	DiscoveredLabels   map[string]string `json:"discoveredLabels"`
	Labels             map[string]string `json:"labels"`
	ScrapePool         string            `json:"scrapePool"`
	ScrapeURL          string            `json:"scrapeUrl"`
	GlobalURL          string            `json:"globalUrl"`
	LastError          string            `json:"lastError"`
	LastScrape         time.Time         `json:"lastScrape"`
	LastScrapeDuration float64           `json:"lastScrapeDuration"`
	Health             string            `json:"health"`
	ScrapeInterval     string            `json:"scrapeInterval"`
	ScrapeTimeout      string            `json:"scrapeTimeout"`
	// Exporter is the exporter servescope recognised from the target's
	// metric families (vllm, sglang, dcgm, kueue, ...), and Unrecognised is
	// set when it knows none of them: the target is still scraped and
	// stored, just not read by the catalog.
	Exporter     string `json:"exporter,omitempty"`
	Unrecognised bool   `json:"unrecognised,omitempty"`
}

// DroppedTarget is a discovered target that relabelling dropped.
type DroppedTarget struct {
	DiscoveredLabels map[string]string `json:"discoveredLabels"`
	ScrapePool       string            `json:"scrapePool"`
}

// Metadata is one metric family's metadata as a target exposed it.
type Metadata struct {
	Target map[string]string `json:"target,omitempty"`
	Metric string            `json:"metric,omitempty"`
	Type   string            `json:"type"`
	Help   string            `json:"help"`
	Unit   string            `json:"unit"`
}

// Active returns the status of every active target, sorted by pool and URL.
// A parse error gets the line it happened on once the locator has re-read
// the target, which it starts here in the background.
func (m *Manager) Active() []Target {
	var out []Target
	for pool, ts := range m.scrape.TargetsActive() {
		sc := m.config(pool)
		for _, t := range ts {
			lb := labels.NewBuilder(labels.EmptyLabels())
			st := Target{
				DiscoveredLabels:   t.DiscoveredLabels(lb).Map(),
				Labels:             t.Labels(lb).Map(),
				ScrapePool:         pool,
				ScrapeURL:          t.URL().String(),
				GlobalURL:          t.URL().String(),
				LastScrape:         t.LastScrape(),
				LastScrapeDuration: t.LastScrapeDuration().Seconds(),
				Health:             string(t.Health()),
			}
			if sc != nil {
				st.ScrapeInterval = sc.ScrapeInterval.String()
				st.ScrapeTimeout = sc.ScrapeTimeout.String()
			}
			if m.recognize != nil && !st.LastScrape.IsZero() && st.Health == "up" {
				md := t.ListMetadata()
				families := make([]string, 0, len(md))
				for _, f := range md {
					families = append(families, f.MetricFamily)
				}
				st.Exporter = m.recognize(families)
				st.Unrecognised = st.Exporter == ""
			}
			if err := t.LastError(); err != nil {
				st.LastError = m.errs.describe(sc, st.ScrapeURL, st.LastScrape, err)
			}
			out = append(out, st)
		}
	}
	slices.SortFunc(out, func(a, b Target) int {
		return strings.Compare(a.ScrapePool+"\x00"+a.ScrapeURL, b.ScrapePool+"\x00"+b.ScrapeURL)
	})
	return out
}

// Dropped returns the targets relabelling dropped, and the count per pool.
func (m *Manager) Dropped() ([]DroppedTarget, map[string]int) {
	var out []DroppedTarget
	for pool, ts := range m.scrape.TargetsDropped() {
		for _, t := range ts {
			out = append(out, DroppedTarget{DiscoveredLabels: t.DiscoveredLabels(labels.NewBuilder(labels.EmptyLabels())).Map(), ScrapePool: pool})
		}
	}
	return out, m.scrape.TargetsDroppedCounts()
}

// Metadata lists the metric metadata targets exposed, optionally for one
// metric family.
func (m *Manager) Metadata(metric string) []Metadata {
	var out []Metadata
	for _, ts := range m.scrape.TargetsActive() {
		for _, t := range ts {
			for _, md := range t.ListMetadata() {
				if metric != "" && md.MetricFamily != metric {
					continue
				}
				out = append(out, Metadata{
					Target: t.Labels(labels.NewBuilder(labels.EmptyLabels())).Map(),
					Metric: md.MetricFamily, Type: string(md.Type), Help: md.Help, Unit: md.Unit,
				})
			}
		}
	}
	return out
}

// errorLocator turns a target's parse error into one that names the line.
// The scrape manager keeps only the parser's message, so the locator
// fetches the target once more, in the background, and finds the line with
// the parse package. Results are cached per target and scrape.
type errorLocator struct {
	mu     sync.Mutex
	cache  map[string]located // by scrape URL
	client map[string]*http.Client
}

type located struct {
	scrape  time.Time
	msg     string
	pending bool
}

func newErrorLocator() *errorLocator {
	return &errorLocator{cache: map[string]located{}, client: map[string]*http.Client{}}
}

// notParse are scrape errors that are not about the exposition's content.
var notParse = []string{"server returned HTTP status", "limit exceeded", "context deadline exceeded", "connection refused", "no such host", "EOF", "body size"}

func (l *errorLocator) describe(sc *promconfig.ScrapeConfig, url string, at time.Time, err error) string {
	msg := err.Error()
	if sc == nil || !strings.Contains(msg, "while parsing") && !strings.Contains(msg, "expected") && !strings.Contains(msg, "invalid") {
		return msg
	}
	for _, s := range notParse {
		if strings.Contains(msg, s) {
			return msg
		}
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	c, ok := l.cache[url]
	if ok && c.scrape.Equal(at) && !c.pending {
		return c.msg
	}
	if !ok || !c.scrape.Equal(at) {
		l.cache[url] = located{scrape: at, msg: msg, pending: true}
		go l.locate(sc, url, at, msg)
	}
	return msg
}

func (l *errorLocator) locate(sc *promconfig.ScrapeConfig, url string, at time.Time, msg string) {
	timeout := time.Duration(sc.ScrapeTimeout)
	if timeout <= 0 {
		timeout = 10 * time.Second
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	out := msg
	if line, err := l.fetchAndLocate(ctx, sc, url); err == nil && line > 0 {
		out = fmt.Sprintf("parse error at line %d: %s", line, msg)
	}
	l.mu.Lock()
	if c := l.cache[url]; c.scrape.Equal(at) {
		l.cache[url] = located{scrape: at, msg: out}
	}
	l.mu.Unlock()
}

func (l *errorLocator) fetchAndLocate(ctx context.Context, sc *promconfig.ScrapeConfig, url string) (int, error) {
	l.mu.Lock()
	client, ok := l.client[sc.JobName]
	l.mu.Unlock()
	if !ok {
		c, err := config_util.NewClientFromConfig(sc.HTTPClientConfig, sc.JobName)
		if err != nil {
			return 0, fmt.Errorf("client for job %s: %w", sc.JobName, err)
		}
		l.mu.Lock()
		l.client[sc.JobName] = c
		l.mu.Unlock()
		client = c
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, http.NoBody)
	if err != nil {
		return 0, fmt.Errorf("request %s: %w", url, err)
	}
	req.Header.Set("Accept", "application/openmetrics-text;version=1.0.0;q=0.5,text/plain;version=0.0.4;q=0.4,*/*;q=0.1")
	resp, err := client.Do(req)
	if err != nil {
		return 0, fmt.Errorf("fetch %s: %w", url, err)
	}
	defer resp.Body.Close()
	limit := int64(sc.BodySizeLimit)
	if limit <= 0 {
		limit = 64 << 20
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, limit))
	if err != nil {
		return 0, fmt.Errorf("read %s: %w", url, err)
	}
	err = parse.Each(body, resp.Header.Get("Content-Type"), func(parse.Sample) error { return nil })
	var pe *parse.Error
	if errors.As(err, &pe) {
		return pe.Line, nil
	}
	return 0, nil
}
