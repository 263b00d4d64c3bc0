package rules

import (
	"context"
	"slices"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/model/value"
	"github.com/prometheus/prometheus/storage"
	"github.com/prometheus/prometheus/tsdb/chunkenc"
)

// groupRead says whether a read is an instant selector whose parent is a
// `group` or `group by (…)` aggregation: the engine then asks with the
// aggregation's name and, the parent being the aggregation itself, its
// grouping with By set (`without`, or anything between the two, such as
// parentheses or a unary minus, leaves By unset). Such an aggregation
// outputs, per group, the value 1 when at least one of its series has a
// sample in the lookback window, so one such series per group gives the
// very same result: the catalog's topology rule (which GPU each pod holds)
// groups every family of dcgm-exporter, some 25 series per GPU, down to one.
func (q *sharedQuerier) groupRead(h *storage.SelectHints) bool {
	return h.Func == "group" && h.By && h.Range == 0 && h.Step == 0 && q.lookback > 0
}

// selectGroup reads the selector's series and answers with, per group of
// the aggregation's grouping labels, the first series that has a sample
// the engine would take at the read's evaluation time (the newest at or
// before the end of the window, not older than the window's start, not a
// staleness marker), cut to that sample as an instant read's copy is. The
// samples of a series whose group already has one are not decoded. Groups
// are told apart by the hash of their labels, as the engine tells them
// apart.
func (q *sharedQuerier) selectGroup(ctx context.Context, h *storage.SelectHints, ms []*labels.Matcher) storage.SeriesSet {
	q.grouped.Add(1)
	ss := q.Querier.Select(ctx, false, h, ms...)
	grouping := slices.Clone(h.Grouping)
	slices.Sort(grouping)
	var (
		seen = map[uint64]bool{} // the groups with a series, by grouping hash
		out  []*memSeries
		hash uint64
		hbuf []byte
		it   chunkenc.Iterator
		b    seriesBuf
		a    arena
	)
	for ss.Next() {
		s := ss.At()
		hash, hbuf = s.Labels().HashForLabels(hbuf, grouping...)
		if seen[hash] {
			continue
		}
		var (
			m   *memSeries
			err error
		)
		if m, it, err = b.read(s, it, &a, q.cut(h)); err != nil {
			return storage.ErrSeriesSet(err)
		}
		if !hasSampleAt(m, h.Start, h.End) {
			continue
		}
		seen[hash] = true
		out = append(out, m)
	}
	if err := ss.Err(); err != nil {
		return storage.ErrSeriesSet(err)
	}
	return &memSeriesSet{series: out, i: -1, ws: ss.Warnings()}
}

// hasSampleAt says whether the engine finds a value of s for an instant
// read of [start, end]: its newest sample at or before end is not before
// start and not a staleness marker.
func hasSampleAt(s *memSeries, start, end int64) bool {
	i, _ := slices.BinarySearch(s.ts, end+1)
	if i--; i < 0 || s.ts[i] < start {
		return false
	}
	switch {
	case s.hs != nil && s.hs[i] != nil:
		return !value.IsStaleNaN(s.hs[i].Sum)
	case s.fhs != nil && s.fhs[i] != nil:
		return !value.IsStaleNaN(s.fhs[i].Sum)
	}
	return !value.IsStaleNaN(s.fs[i])
}
