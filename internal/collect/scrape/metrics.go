package scrape

import (
	"context"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/histogram"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/model/value"
	"github.com/prometheus/prometheus/storage"
)

// countingAppendable sits between the scrape manager and the store and
// records servescope's own scrape metrics: samples ingested and scrape
// duration per job. The scrape loop writes its synthetic
// scrape_duration_seconds sample through the same appender, so the
// duration is the exact one the target's series records.
type countingAppendable struct {
	next     storage.AppendableV2
	samples  *prometheus.CounterVec
	duration *prometheus.HistogramVec
}

func newCountingAppendable(next storage.AppendableV2, reg prometheus.Registerer) *countingAppendable {
	c := &countingAppendable{
		next: next,
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
	return &countingAppender{AppenderV2: c.next.AppenderV2(ctx), parent: c, duration: -1}
}

type countingAppender struct {
	storage.AppenderV2
	parent   *countingAppendable
	job      string
	n        int
	duration float64
}

func (a *countingAppender) Append(ref storage.SeriesRef, ls labels.Labels, st, t int64, v float64, h *histogram.Histogram, fh *histogram.FloatHistogram, opts storage.AppendV2Options) (storage.SeriesRef, error) {
	r, err := a.AppenderV2.Append(ref, ls, st, t, v, h, fh, opts)
	if err == nil && !value.IsStaleNaN(v) {
		a.n++
		if a.job == "" {
			// Every sample of a scrape carries the target's job label.
			a.job = ls.Get("job")
		}
		if ls.Get(model.MetricNameLabel) == "scrape_duration_seconds" {
			a.duration = v
		}
	}
	return r, err
}

func (a *countingAppender) Commit() error {
	err := a.AppenderV2.Commit()
	if err == nil {
		a.parent.samples.WithLabelValues(a.job).Add(float64(a.n))
		if a.duration >= 0 {
			a.parent.duration.WithLabelValues(a.job).Observe(a.duration)
		}
	}
	return err
}
