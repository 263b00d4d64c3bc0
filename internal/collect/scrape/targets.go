package scrape

import (
	"slices"
	"strings"
	"time"

	"github.com/prometheus/prometheus/model/labels"
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
	// set when it knows none of them: the target is still scraped, but
	// nothing reads its families, so only what servescope.keep_metrics
	// keeps is stored.
	Exporter     string `json:"exporter,omitempty"`
	Unrecognised bool   `json:"unrecognised,omitempty"`
	// SeriesScraped and SeriesKept are the series of the last scrape as
	// the target sent them and as stored: servescope drops at scrape time
	// what nothing reads (servescope.keep_metrics keeps more). Both are
	// absent before the first scrape.
	SeriesScraped *int `json:"seriesScraped,omitempty"`
	SeriesKept    *int `json:"seriesKept,omitempty"`
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
// It only reads what the scrape manager and the error locator stored: a
// parse error names its line once Run's locator has found it, a limit
// error names the limit, and every error is cut to MaxErrorLength.
func (m *Manager) Active() []Target {
	var out []Target
	for pool, ts := range m.scrape.TargetsActive() {
		sc := m.config(pool)
		for _, t := range ts {
			lb := labels.NewBuilder(labels.EmptyLabels())
			// A target whose loop was just replaced shows the old loop's
			// state until its first scrape (nhcbskip.go).
			last := m.handedOver(pool, t)
			st := Target{
				DiscoveredLabels:   t.DiscoveredLabels(lb).Map(),
				Labels:             t.Labels(lb).Map(),
				ScrapePool:         pool,
				ScrapeURL:          t.URL().String(),
				GlobalURL:          t.URL().String(),
				LastScrape:         last.LastScrape(),
				LastScrapeDuration: last.LastScrapeDuration().Seconds(),
				Health:             string(last.Health()),
			}
			_, fetchErr, _ := m.filter.last(st.ScrapeURL)
			if n, ok := m.counts.series(t.Labels(lb)); ok {
				st.SeriesScraped, st.SeriesKept = &n.Scraped, &n.Kept
			}
			if sc != nil {
				st.ScrapeInterval = sc.ScrapeInterval.String()
				st.ScrapeTimeout = sc.ScrapeTimeout.String()
			}
			if m.recognize != nil && !st.LastScrape.IsZero() && st.Health == "up" {
				md := last.ListMetadata()
				families := make([]string, 0, len(md))
				for _, f := range md {
					families = append(families, f.MetricFamily)
				}
				st.Exporter = m.recognize(families)
				st.Unrecognised = st.Exporter == ""
			}
			if err := last.LastError(); err != nil {
				if fetchErr != nil && strings.Contains(err.Error(), "HTTP status 502") {
					// The pre-filter could not fetch the target: its error,
					// not the proxy's status.
					err = fetchErr
				}
				st.LastError = m.errs.describe(sc, st.ScrapeURL, err)
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
	for pool, ts := range m.scrape.TargetsActive() {
		for _, t := range ts {
			for _, md := range m.handedOver(pool, t).ListMetadata() {
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
