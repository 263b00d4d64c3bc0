package rules

import (
	"github.com/prometheus/prometheus/model/histogram"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/storage"
	"github.com/prometheus/prometheus/tsdb/chunkenc"
	"github.com/prometheus/prometheus/util/annotations"
)

// memSeriesSet replays series read by readAll; the copies are read-only, so
// any number of sets may replay them at once.
type memSeriesSet struct {
	series []*memSeries
	i      int
	ws     annotations.Annotations
}

func newMemSeriesSet(series []*memSeries) *memSeriesSet {
	return &memSeriesSet{series: series, i: -1}
}

func (s *memSeriesSet) Next() bool {
	s.i++
	return s.i < len(s.series)
}

func (s *memSeriesSet) At() storage.Series                { return s.series[s.i] }
func (s *memSeriesSet) Err() error                        { return nil }
func (s *memSeriesSet) Warnings() annotations.Annotations { return s.ws }
func (s *memSeries) Labels() labels.Labels                { return s.lset }
func (s *memSeries) Iterator(it chunkenc.Iterator) chunkenc.Iterator {
	if mi, ok := it.(*memIterator); ok {
		*mi = memIterator{s: s, i: -1}
		return mi
	}
	return &memIterator{s: s, i: -1}
}

// memIterator is a chunkenc.Iterator over a memSeries: the same samples,
// value types and histograms (copied out, as a chunk iterator copies them)
// as the store's iterator gave.
type memIterator struct {
	s *memSeries
	i int
}

func (it *memIterator) valueType() chunkenc.ValueType {
	switch {
	case it.i >= len(it.s.ts):
		return chunkenc.ValNone
	case it.s.hs != nil && it.s.hs[it.i] != nil:
		return chunkenc.ValHistogram
	case it.s.fhs != nil && it.s.fhs[it.i] != nil:
		return chunkenc.ValFloatHistogram
	}
	return chunkenc.ValFloat
}

func (it *memIterator) Next() chunkenc.ValueType {
	if it.i < len(it.s.ts) {
		it.i++
	}
	return it.valueType()
}

// millis is a timestamp in milliseconds: chunkenc.Iterator's Seek takes
// one, which go vet would otherwise take for io.Seeker's offset.
type millis = int64

// Seek moves to the first sample at or after t, never backwards.
func (it *memIterator) Seek(t millis) chunkenc.ValueType {
	if it.i < 0 {
		it.i = 0
	}
	for it.i < len(it.s.ts) && it.s.ts[it.i] < t {
		it.i++
	}
	return it.valueType()
}

func (it *memIterator) At() (int64, float64) { return it.s.ts[it.i], it.s.fs[it.i] }

func (it *memIterator) AtHistogram(h *histogram.Histogram) (int64, *histogram.Histogram) {
	src := it.s.hs[it.i]
	if h == nil {
		return it.s.ts[it.i], src.Copy()
	}
	src.CopyTo(h)
	return it.s.ts[it.i], h
}

func (it *memIterator) AtFloatHistogram(fh *histogram.FloatHistogram) (int64, *histogram.FloatHistogram) {
	if it.s.hs != nil && it.s.hs[it.i] != nil {
		return it.s.ts[it.i], it.s.hs[it.i].ToFloat(fh)
	}
	src := it.s.fhs[it.i]
	if fh == nil {
		return it.s.ts[it.i], src.Copy()
	}
	src.CopyTo(fh)
	return it.s.ts[it.i], fh
}

func (it *memIterator) AtT() int64 { return it.s.ts[it.i] }

func (it *memIterator) AtST() int64 {
	if it.s.sts == nil {
		return 0
	}
	return it.s.sts[it.i]
}

func (it *memIterator) Err() error { return nil }
