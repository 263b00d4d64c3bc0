// Package expo reads metrics exposition in tests through the parser the
// product scrapes and backfills with (internal/collect/parse): the same
// samples, the same family types, the same target labels. Only _test.go
// files import it.
package expo

import (
	"testing"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/histogram"
	"github.com/prometheus/prometheus/model/labels"

	"github.com/servescope/servescope/internal/collect/parse"
)

// Sample is one parsed exposition sample.
type Sample struct {
	Labels labels.Labels
	Value  float64
	// Family and Type are the # TYPE line the series belongs to; empty
	// when it has none.
	Family string
	Type   model.MetricType
	// H or FH is a histogram sample (ScrapeWith with ConvertNHCB); Value
	// is then unused.
	H  *histogram.Histogram
	FH *histogram.FloatHistogram
}

// Cumulative reports whether the sample only grows: a counter, or a
// histogram's or summary's buckets, sum and count.
func (s Sample) Cumulative() bool {
	switch s.Type {
	case model.MetricTypeCounter:
		return true
	case model.MetricTypeHistogram, model.MetricTypeSummary:
		return s.Labels.Get(model.MetricNameLabel) != s.Family // not a summary's quantile
	}
	return false
}

// Parse parses text-format exposition b, failing tb on a parse error.
func Parse(tb testing.TB, b []byte) []Sample {
	tb.Helper()
	return Scrape(tb, b, labels.EmptyLabels(), false)
}

// Scrape parses b as a scrape of target would: target labels attached
// with honor_labels honor (parse.WithTarget).
func Scrape(tb testing.TB, b []byte, target labels.Labels, honor bool) []Sample {
	tb.Helper()
	return ScrapeWith(tb, b, target, honor, parse.Options{})
}

// ScrapeWith is Scrape read with opts (parse.EachWith): with ConvertNHCB,
// each classic histogram is one native histogram sample, as a scrape with
// convert_classic_histograms_to_nhcb stores it.
func ScrapeWith(tb testing.TB, b []byte, target labels.Labels, honor bool, opts parse.Options) []Sample {
	tb.Helper()
	var out []Sample
	lb := labels.NewBuilder(labels.EmptyLabels())
	err := parse.EachWith(b, parse.TextContentType, opts, func(s parse.Sample) error {
		var ls labels.Labels
		if target.IsEmpty() {
			ls = s.Labels.Copy()
		} else {
			ls = parse.WithTarget(lb, s.Labels, target, honor)
		}
		out = append(out, Sample{Labels: ls, Value: s.V, Family: s.Family, Type: s.Type, H: s.H, FH: s.FH})
		return nil
	})
	if err != nil {
		tb.Fatalf("parse exposition: %v", err)
	}
	return out
}
