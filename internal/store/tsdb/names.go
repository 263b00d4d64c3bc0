package tsdb

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"

	"github.com/oklog/ulid/v2"
	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/storage"
	ptsdb "github.com/prometheus/prometheus/tsdb"
)

// MetricLabels answers which label names the series of one metric name
// have, at any time the store holds (head and blocks), without reading every
// series each time: the catalog's rules ask it before each query, for the
// few metric names the query reads, to leave out label_replace calls whose
// source label those series never have.
//
// The head's part is remembered per metric name with a fingerprint of the
// name's postings (how many series, a hash of their references and the
// highest reference): unchanged postings are answered from memory, series
// added above the remembered highest reference are read alone, anything
// else (series removed by head truncation, or a series listed after one of
// a higher reference) reads the name's series again. A block's part is read
// once per block, blocks being immutable. The head is read before the
// blocks, so a series moved from one to the other by compaction (which adds
// the block before it truncates the head) is seen in one of them.
//
// The answer may hold label names of series since removed; it never lacks
// one of a series present when it was asked.
type MetricLabels struct {
	db *ptsdb.DB

	mu     sync.Mutex
	head   map[string]*headNames
	blocks map[ulid.ULID]map[string][]string
}

// headNames is what MetricLabels remembers of one metric name's head
// series.
type headNames struct {
	fp    postingsPrint
	names []string // sorted; never modified once published
}

// postingsPrint fingerprints a postings list.
type postingsPrint struct {
	count int
	sum   uint64 // of mix(ref)
	max   storage.SeriesRef
}

// maxMetricLabelNames bounds the metric names remembered.
const maxMetricLabelNames = 16384

// NewMetricLabels reads the label names per metric name of db.
func NewMetricLabels(db *ptsdb.DB) *MetricLabels {
	return &MetricLabels{db: db, head: map[string]*headNames{}, blocks: map[ulid.ULID]map[string][]string{}}
}

// MetricLabelNames is MetricLabels.Of for the embedded store; it fails in
// agent mode.
func (d *DB) MetricLabelNames(ctx context.Context, metric string) ([]string, error) {
	if d.names == nil {
		return nil, fmt.Errorf("label names of %s: %w", metric, ErrAgent)
	}
	return d.names.Of(ctx, metric)
}

// Of returns the sorted label names (with __name__) of the series named
// metric, empty when there are none. The result must not be modified.
func (m *MetricLabels) Of(ctx context.Context, metric string) ([]string, error) {
	head, err := m.headOf(ctx, metric)
	if err != nil {
		return nil, fmt.Errorf("label names of %s: %w", metric, err)
	}
	out := head
	matcher := labels.MustNewMatcher(labels.MatchEqual, model.MetricNameLabel, metric)
	blocks := m.db.Blocks()
	m.mu.Lock()
	defer m.mu.Unlock()
	if len(m.blocks) > 0 {
		live := make(map[ulid.ULID]bool, len(blocks))
		for _, b := range blocks {
			live[b.Meta().ULID] = true
		}
		for id := range m.blocks {
			if !live[id] {
				delete(m.blocks, id)
			}
		}
	}
	for _, b := range blocks {
		id := b.Meta().ULID
		per := m.blocks[id]
		if per == nil {
			per = map[string][]string{}
			m.blocks[id] = per
		}
		names, ok := per[metric]
		if !ok {
			if names, err = blockLabelNames(ctx, b, matcher); err != nil {
				return nil, fmt.Errorf("label names of %s in block %s: %w", metric, id, err)
			}
			if len(per) >= maxMetricLabelNames {
				clear(per)
			}
			per[metric] = names
		}
		if len(names) > 0 && !containsAll(out, names) {
			out = union(out, names)
		}
	}
	return out, nil
}

func blockLabelNames(ctx context.Context, b *ptsdb.Block, m *labels.Matcher) ([]string, error) {
	ir, err := b.Index()
	if err != nil {
		return nil, err
	}
	defer ir.Close()
	names, err := ir.LabelNames(ctx, m)
	if err != nil {
		return nil, err
	}
	return slices.Clip(names), nil
}

// headOf is the label names of the head series named metric.
func (m *MetricLabels) headOf(ctx context.Context, metric string) ([]string, error) {
	ir, err := m.db.Head().Index()
	if err != nil {
		return nil, err
	}
	defer ir.Close()
	m.mu.Lock()
	prev := m.head[metric]
	m.mu.Unlock()

	// One pass over the postings: their fingerprint, the fingerprint of
	// those up to the remembered highest reference, and the ones above it.
	var all, low postingsPrint
	var fresh []storage.SeriesRef
	p, err := ir.Postings(ctx, model.MetricNameLabel, metric)
	if err != nil {
		return nil, err
	}
	for p.Next() {
		ref := p.At()
		all.add(ref)
		switch {
		case prev == nil:
		case ref <= prev.fp.max:
			low.add(ref)
		default:
			fresh = append(fresh, ref)
		}
	}
	if err := p.Err(); err != nil {
		return nil, err
	}
	switch {
	case prev != nil && all == prev.fp:
		return prev.names, nil
	case prev != nil && low.count == prev.fp.count && low.sum == prev.fp.sum:
		// Only series above the remembered ones were added.
		names, err := addSeriesNames(ctx, ir, prev.names, fresh)
		if err != nil {
			return nil, err
		}
		m.remember(metric, &headNames{fp: all, names: names})
		return names, nil
	}
	// First asked, or series were removed or listed out of order: read
	// them all. The fingerprint is the first pass's, so a series added
	// between the passes makes the next call look again.
	p, err = ir.Postings(ctx, model.MetricNameLabel, metric)
	if err != nil {
		return nil, err
	}
	var refs []storage.SeriesRef
	for p.Next() {
		refs = append(refs, p.At())
	}
	if err := p.Err(); err != nil {
		return nil, err
	}
	names, err := addSeriesNames(ctx, ir, nil, refs)
	if err != nil {
		return nil, err
	}
	m.remember(metric, &headNames{fp: all, names: names})
	return names, nil
}

func (m *MetricLabels) remember(metric string, h *headNames) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if len(m.head) >= maxMetricLabelNames {
		clear(m.head)
	}
	m.head[metric] = h
}

// addSeriesNames returns names with the label names of the series refs
// added (a new slice when any is new); series since removed are skipped.
func addSeriesNames(ctx context.Context, ir ptsdb.IndexReader, names []string, refs []storage.SeriesRef) ([]string, error) {
	var b labels.ScratchBuilder
	var add []string
	for i, ref := range refs {
		if i%1024 == 0 && ctx.Err() != nil {
			return nil, ctx.Err()
		}
		if err := ir.Series(ref, &b, nil); err != nil {
			if errors.Is(err, storage.ErrNotFound) {
				continue
			}
			return nil, err
		}
		b.Labels().Range(func(l labels.Label) {
			if _, found := slices.BinarySearch(names, l.Name); !found && !slices.Contains(add, l.Name) {
				add = append(add, l.Name)
			}
		})
	}
	if len(add) == 0 {
		return names, nil
	}
	slices.Sort(add)
	return union(names, add), nil
}

func (f *postingsPrint) add(ref storage.SeriesRef) {
	f.count++
	f.sum += mix(uint64(ref))
	f.max = max(f.max, ref)
}

// mix is splitmix64's finaliser: sums of mixed references differ when the
// sets differ (but for a 2^-64 chance), where sums of references need not.
func mix(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	x ^= x >> 31
	return x
}

func containsAll(have, want []string) bool {
	for _, w := range want {
		if _, ok := slices.BinarySearch(have, w); !ok {
			return false
		}
	}
	return true
}

// union merges two sorted lists into a new one.
func union(a, b []string) []string {
	out := make([]string, 0, len(a)+len(b))
	i, j := 0, 0
	for i < len(a) || j < len(b) {
		switch {
		case j == len(b) || (i < len(a) && a[i] < b[j]):
			out = append(out, a[i])
			i++
		case i == len(a) || b[j] < a[i]:
			out = append(out, b[j])
			j++
		default:
			out = append(out, a[i])
			i, j = i+1, j+1
		}
	}
	return out
}
