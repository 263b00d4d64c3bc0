package scrape

import (
	"context"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/histogram"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/model/value"
	pscrape "github.com/prometheus/prometheus/scrape"
	"github.com/prometheus/prometheus/storage"
)

// countingAppendable sits between the scrape manager and the store and
// records servescope's own scrape metrics: samples ingested and scrape
// duration per job. The scrape loop writes its synthetic
// scrape_duration_seconds sample through the same appender, so the
// duration is the exact one the target's series records.
//
// It also keeps, per target, the series of its last scrape as the target
// sent them and as stored after metric relabelling (the scrape loop's
// scrape_samples_scraped and scrape_samples_post_metric_relabeling), for
// the target status.
type countingAppendable struct {
	next storage.AppendableV2
	// dropped returns the sample lines the pre-filter dropped from a
	// target (by scrape URL) in its last scrape; nil when there is none.
	dropped  func(url string) (int, bool)
	samples  *prometheus.CounterVec
	duration *prometheus.HistogramVec

	mu     sync.Mutex
	counts map[uint64]SeriesCounts // by the hash of the target's labels
	// jobs are samples and duration's children by job, looked up once.
	jobs map[string]jobMetrics
}

// jobMetrics are one job's children of the samples and duration metrics.
type jobMetrics struct {
	samples  prometheus.Counter
	duration prometheus.Observer
}

// job returns the metrics of a job.
func (c *countingAppendable) job(name string) jobMetrics {
	c.mu.Lock()
	defer c.mu.Unlock()
	m, ok := c.jobs[name]
	if !ok {
		m = jobMetrics{samples: c.samples.WithLabelValues(name), duration: c.duration.WithLabelValues(name)}
		c.jobs[name] = m
	}
	return m
}

// SeriesCounts are the series of a target's last scrape: sent by the
// target and kept after metric relabelling (servescope drops the series
// nothing reads there).
type SeriesCounts struct {
	Scraped, Kept int
}

func newCountingAppendable(next storage.AppendableV2, reg prometheus.Registerer, dropped func(url string) (int, bool)) *countingAppendable {
	c := &countingAppendable{
		next:    next,
		dropped: dropped,
		counts:  map[uint64]SeriesCounts{},
		jobs:    map[string]jobMetrics{},
		samples: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "servescope_samples_ingested_total",
			Help: "Samples committed to the store from scrapes, by job (staleness markers excluded).",
		}, []string{"job"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "servescope_scrape_duration_seconds",
			Help:    "Duration of target scrapes, by job.",
			Buckets: prometheus.ExponentialBuckets(0.001, 4, 8),
		}, []string{"job"}),
	}
	reg.MustRegister(c.samples, c.duration)
	return c
}

func (c *countingAppendable) AppenderV2(ctx context.Context) storage.AppenderV2 {
	a := &countingAppender{AppenderV2: c.next.AppenderV2(ctx), parent: c, duration: -1}
	if c.dropped != nil {
		// The scrape manager passes the target (Options.PassMetadataInContext).
		if t, ok := pscrape.TargetFromContext(ctx); ok {
			a.url = t.URL().String()
		}
	}
	return a
}

type countingAppender struct {
	storage.AppenderV2
	parent   *countingAppendable
	job      string
	n        int
	duration float64
	// target is the hash of the scraped target's labels, counts its
	// series and gone whether it went away (staleness markers of the
	// report series), once the report series are appended.
	target uint64
	counts SeriesCounts
	gone   bool
	// url is the scrape URL of the target when the pre-filter may have
	// dropped lines of it, and down whether its scrape failed.
	url  string
	down bool
}

func (a *countingAppender) Append(ref storage.SeriesRef, ls labels.Labels, st, t int64, v float64, h *histogram.Histogram, fh *histogram.FloatHistogram, opts storage.AppendV2Options) (storage.SeriesRef, error) {
	name := ls.Get(model.MetricNameLabel)
	if a.url != "" && !value.IsStaleNaN(v) {
		switch name {
		case "up":
			a.down = v == 0
		case "scrape_samples_scraped":
			// What the target sent: the scrape loop counted the lines
			// the pre-filter left it.
			if n, ok := a.parent.dropped(a.url); ok && !a.down {
				v += float64(n)
			}
		}
	}
	r, err := a.AppenderV2.Append(ref, ls, st, t, v, h, fh, opts)
	if err != nil {
		return r, err
	}
	if value.IsStaleNaN(v) {
		if name == "scrape_samples_scraped" {
			a.target, a.gone = targetHash(ls), true
		}
		return r, err
	}
	a.n++
	if a.job == "" {
		// Every sample of a scrape carries the target's job label.
		a.job = ls.Get("job")
	}
	switch name {
	case "scrape_duration_seconds":
		a.duration = v
	case "scrape_samples_scraped":
		a.target, a.counts.Scraped = targetHash(ls), int(v)
	case "scrape_samples_post_metric_relabeling":
		a.counts.Kept = int(v)
	}
	return r, err
}

// targetHash identifies a target by the labels of its report series
// without the name: exactly the target's labels.
func targetHash(ls labels.Labels) uint64 {
	return labels.NewBuilder(ls).Del(model.MetricNameLabel).Labels().Hash()
}

func (a *countingAppender) Commit() error {
	err := a.AppenderV2.Commit()
	if err == nil {
		m := a.parent.job(a.job)
		m.samples.Add(float64(a.n))
		if a.duration >= 0 {
			m.duration.Observe(a.duration)
		}
		if a.target != 0 {
			a.parent.mu.Lock()
			if a.gone {
				delete(a.parent.counts, a.target)
			} else {
				a.parent.counts[a.target] = a.counts
			}
			a.parent.mu.Unlock()
		}
	}
	return err
}

// series returns the series counts of the target with labels ls, and
// whether it has been scraped.
func (c *countingAppendable) series(ls labels.Labels) (SeriesCounts, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	sc, ok := c.counts[ls.Hash()]
	return sc, ok
}
