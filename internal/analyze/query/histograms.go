package query

import (
	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/histogram"
	"github.com/prometheus/prometheus/promql"
)

// sampleHistogram is a native histogram as the HTTP API writes it, the way
// Prometheus's util/jsonutil.MarshalHistogram does: count, sum, and each
// non-empty bucket with its bounds and which of them it includes. servescope
// stores classic histograms as native histograms with custom buckets by
// default, so a query selecting one (rate(x[5m]) of a latency histogram)
// answers with these.
func sampleHistogram(h *histogram.FloatHistogram) *model.SampleHistogram {
	out := &model.SampleHistogram{Count: model.FloatString(h.Count), Sum: model.FloatString(h.Sum)}
	for it := h.AllBucketIterator(); it.Next(); {
		b := it.At()
		if b.Count == 0 {
			continue // Prometheus writes no empty bucket either
		}
		boundaries := int32(2) // open on both sides
		switch {
		case b.LowerInclusive && b.UpperInclusive:
			boundaries = 3
		case b.LowerInclusive:
			boundaries = 1
		case b.UpperInclusive:
			boundaries = 0
		}
		out.Buckets = append(out.Buckets, &model.HistogramBucket{
			Boundaries: boundaries, Lower: model.FloatString(b.Lower), Upper: model.FloatString(b.Upper), Count: model.FloatString(b.Count),
		})
	}
	return out
}

// histogramPairs are a series' histogram points as the HTTP API writes them.
func histogramPairs(ps []promql.HPoint) []model.SampleHistogramPair {
	out := make([]model.SampleHistogramPair, len(ps))
	for i, p := range ps {
		out[i] = model.SampleHistogramPair{Timestamp: model.Time(p.T), Histogram: sampleHistogram(p.H)}
	}
	return out
}
