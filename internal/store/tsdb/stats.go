package tsdb

import (
	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/tsdb/index"
)

// HeadStatus is the in-memory head block's cardinality, the figures of
// Prometheus's /api/v1/status/tsdb.
type HeadStatus struct {
	NumSeries        uint64
	NumLabelPairs    int
	MinTime, MaxTime int64 // milliseconds since the epoch
	// The top entries, largest first: series per metric name, values per
	// label name, bytes of values per label name, series per label pair.
	SeriesByMetric, ValuesByLabel, BytesByLabel, SeriesByPair []Count
}

// Count is one entry of a cardinality list.
type Count struct {
	Name  string
	Value uint64
}

// HeadStatus computes the head's cardinality with limit entries per list
// (expensive on a large head: it walks the postings); zero in agent mode,
// which has no head.
func (d *DB) HeadStatus(limit int) HeadStatus {
	if d.db == nil {
		return HeadStatus{}
	}
	s := d.db.Head().Stats(model.MetricNameLabel, limit)
	p := s.IndexPostingStats
	return HeadStatus{NumSeries: s.NumSeries, NumLabelPairs: p.NumLabelPairs, MinTime: s.MinTime, MaxTime: s.MaxTime,
		SeriesByMetric: counts(p.CardinalityMetricsStats), ValuesByLabel: counts(p.CardinalityLabelStats),
		BytesByLabel: counts(p.LabelValueStats), SeriesByPair: counts(p.LabelValuePairsStats)}
}

func counts(in []index.Stat) []Count {
	out := make([]Count, 0, len(in))
	for _, s := range in {
		out = append(out, Count{Name: s.Name, Value: s.Count})
	}
	return out
}
