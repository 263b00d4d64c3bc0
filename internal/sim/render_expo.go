package sim

import (
	"bytes"
	"fmt"
	"slices"
	"sort"
	"sync"
	"sync/atomic"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/model"
)

// Rendering keeps, per family table, a few long-lived builders: sets of
// client_model dto.MetricFamily messages whose metrics are overwritten in
// place on every scrape and then written in the text format (render_text.go).
// The output is what a client_golang registry gathering the same const
// metrics and expfmt's encoder would write (TestRenderMatchesRegistry):
// families sorted by name, metrics by label values, label pairs by name.

// famDesc is one declared family variant: a wire name with one label set.
type famDesc struct {
	name    string
	fam     int       // index of the family in its table (name order)
	names   []*string // label names, sorted
	perm    []int     // perm[i] is the position in the label values of names[i]
	created *famDesc  // the <base>_created gauge, for families that have one
}

// famTable is a set of family declarations, built once per cluster, with
// the idle builders over it.
type famTable struct {
	descs map[string]*famDesc // by key
	names []string            // wire names, sorted
	help  []string
	types []dto.MetricType
	text  []famText    // per family: pre-rendered header and sample names
	hint  atomic.Int64 // size of the last render, to size the next one's buffer
	mu    sync.Mutex
	free  []*builder // idle builders; unlike a sync.Pool they survive GC, so big ones are not rebuilt
}

// maxIdleBuilders bounds the idle builders kept per table (concurrent
// scrapes beyond it build their own).
const maxIdleBuilders = 16

func newFamTable(specs []famSpec) *famTable {
	all := make([]famSpec, 0, len(specs))
	for _, s := range specs {
		all = append(all, s)
		if s.created {
			all = append(all, famSpec{name: createdName(s), help: s.help, typ: gaugeT, labels: s.labels})
		}
	}
	help, typ := map[string]string{}, map[string]famType{}
	for _, s := range all {
		if _, ok := help[s.name]; !ok {
			help[s.name], typ[s.name] = s.help, s.typ
		}
	}
	t := &famTable{descs: map[string]*famDesc{}, names: sortedKeys(help)}
	index := map[string]int{}
	for i, n := range t.names {
		index[n] = i
		t.help = append(t.help, help[n])
		t.types = append(t.types, typ[n].dto())
	}
	for _, s := range all {
		d := &famDesc{name: s.name, fam: index[s.name]}
		d.perm = make([]int, len(s.labels))
		for i := range d.perm {
			d.perm[i] = i
		}
		sort.SliceStable(d.perm, func(i, j int) bool { return s.labels[d.perm[i]] < s.labels[d.perm[j]] })
		for _, p := range d.perm {
			name := s.labels[p]
			d.names = append(d.names, &name)
		}
		t.descs[specKey(s)] = d
	}
	for _, s := range specs {
		if s.created {
			t.descs[specKey(s)].created = t.descs[createdName(s)]
		}
	}
	t.text = make([]famText, len(t.names))
	for i := range t.names {
		t.text[i] = newFamText(t.names[i], t.help[i], t.types[i])
	}
	for _, d := range t.descs {
		for _, n := range d.names {
			if !model.LegacyValidation.IsValidMetricName(*n) {
				t.text[d.fam].fast = false
			}
		}
	}
	return t
}

// dto is the client_model type of a family type.
func (t famType) dto() dto.MetricType {
	switch t {
	case counterT:
		return dto.MetricType_COUNTER
	case histT:
		return dto.MetricType_HISTOGRAM
	}
	return dto.MetricType_GAUGE
}

// specKey is a family variant's key in its table.
func specKey(s famSpec) string {
	if s.key != "" {
		return s.key
	}
	return s.name
}

// builder holds one table's families while a target is rendered.
type builder struct {
	t       *famTable
	fams    []builtFam
	err     error
	scratch []byte                // one sample's name and labels
	les     map[*float64][]string // formatted upper bounds by bucket layout
}

// builtFam is one family: its dto message and every metric it ever held
// (the first n are this render's).
type builtFam struct {
	mf     *dto.MetricFamily
	pool   []*dto.Metric
	n      int
	escape bool // a label value needs escaping: expfmt writes the family
}

// builder takes an idle builder of the table, or builds one.
func (t *famTable) builder() *builder {
	t.mu.Lock()
	if n := len(t.free); n > 0 {
		b := t.free[n-1]
		t.free[n-1] = nil
		t.free = t.free[:n-1]
		t.mu.Unlock()
		return b
	}
	t.mu.Unlock()
	b := &builder{t: t, fams: make([]builtFam, len(t.names)), les: map[*float64][]string{}}
	for i := range b.fams {
		b.fams[i].mf = &dto.MetricFamily{Name: &t.names[i], Help: &t.help[i], Type: &t.types[i]}
	}
	return b
}

// release resets b and keeps it for the next render.
func (t *famTable) release(b *builder) {
	for i := range b.fams {
		b.fams[i].n, b.fams[i].escape = 0, false
		b.fams[i].mf.Metric = nil
	}
	b.err = nil
	t.mu.Lock()
	if len(t.free) < maxIdleBuilders {
		t.free = append(t.free, b)
	}
	t.mu.Unlock()
}

func (b *builder) fail(err error) {
	if b.err == nil {
		b.err = err
	}
}

// next returns the family's next metric with its label pairs set to lv.
//
//go:norace
func (b *builder) next(d *famDesc, lv []string) *dto.Metric {
	if len(lv) != len(d.names) {
		b.fail(fmt.Errorf("family %s: %d label values for %d labels", d.name, len(lv), len(d.names)))
		return nil
	}
	f := &b.fams[d.fam]
	if f.n == len(f.pool) {
		f.pool = append(f.pool, &dto.Metric{})
	}
	m := f.pool[f.n]
	f.n++
	k := len(d.names)
	if cap(m.Label) < k {
		ls := make([]*dto.LabelPair, k)
		n := copy(ls, m.Label[:cap(m.Label)])
		for i := n; i < k; i++ {
			ls[i] = &dto.LabelPair{Value: new(string)}
		}
		m.Label = ls
	}
	m.Label = m.Label[:k]
	for i, lp := range m.Label {
		v := lv[d.perm[i]]
		lp.Name = d.names[i]
		*lp.Value = v
		if needsEscape(v) {
			f.escape = true
		}
	}
	return m
}

//go:norace
func (b *builder) gauge(d *famDesc, v float64, lv []string) {
	if m := b.next(d, lv); m != nil {
		if m.Gauge == nil {
			m.Gauge = &dto.Gauge{Value: new(float64)}
		}
		*m.Gauge.Value = v
	}
}

//go:norace
func (b *builder) counter(d *famDesc, v float64, lv []string) {
	if m := b.next(d, lv); m != nil {
		if m.Counter == nil {
			m.Counter = &dto.Counter{Value: new(float64)}
		}
		*m.Counter.Value = v
	}
}

// hist writes a classic histogram: cumulative buckets without +Inf (the
// encoder adds it from the count), as NewConstHistogram does.
//
//go:norace
func (b *builder) hist(d *famDesc, h *hist, lv []string) {
	m := b.next(d, lv)
	if m == nil {
		return
	}
	x := m.Histogram
	if x == nil {
		x = &dto.Histogram{SampleCount: new(uint64), SampleSum: new(float64)}
		m.Histogram = x
	}
	*x.SampleCount, *x.SampleSum = h.count, h.sum
	k := len(h.bounds)
	if cap(x.Bucket) < k {
		bs := make([]*dto.Bucket, k)
		n := copy(bs, x.Bucket[:cap(x.Bucket)])
		for i := n; i < k; i++ {
			bs[i] = &dto.Bucket{CumulativeCount: new(uint64)}
		}
		x.Bucket = bs
	}
	x.Bucket = x.Bucket[:k]
	var c uint64
	for i, bk := range x.Bucket {
		c += h.counts[i]
		bk.UpperBound = &h.bounds[i]
		*bk.CumulativeCount = c
	}
}

// compareMetrics orders metrics as client_golang's registry does: by
// label count, then by label values in label-name order.
//
//go:norace
func compareMetrics(a, b *dto.Metric) int {
	if len(a.Label) != len(b.Label) {
		return len(a.Label) - len(b.Label)
	}
	for i, lp := range a.Label {
		if va, vb := *lp.Value, *b.Label[i].Value; va != vb {
			if va < vb {
				return -1
			}
			return 1
		}
	}
	return 0
}

// encode sorts the metrics and writes the families in the text format.
func (b *builder) encode() ([]byte, error) {
	if b.err != nil {
		return nil, b.err
	}
	out := bytes.NewBuffer(make([]byte, 0, b.t.hint.Load()*9/8+512))
	for i := range b.fams {
		f := &b.fams[i]
		if f.n == 0 {
			continue
		}
		ms := f.pool[:f.n]
		if !slices.IsSortedFunc(ms, compareMetrics) {
			slices.SortFunc(ms, compareMetrics)
		}
		for j := 1; j < len(ms); j++ {
			if compareMetrics(ms[j-1], ms[j]) == 0 {
				return nil, fmt.Errorf("family %s: duplicate series %v", b.t.names[i], ms[j].Label)
			}
		}
		f.mf.Metric = ms
		if err := b.writeFamily(out, i); err != nil {
			return nil, fmt.Errorf("encode family %s: %w", b.t.names[i], err)
		}
	}
	b.t.hint.Store(int64(out.Len()))
	return out.Bytes(), nil
}

// emitter is what the collectors write through: families by table key.
type emitter struct{ b *builder }

//go:norace
func (e emitter) desc(key string) *famDesc {
	d := e.b.t.descs[key]
	if d == nil {
		e.b.fail(fmt.Errorf("family %q is not declared", key))
	}
	return d
}

//go:norace
func (e emitter) gauge(key string, v float64, lv ...string) {
	if d := e.desc(key); d != nil {
		e.b.gauge(d, v, lv)
	}
}

//go:norace
func (e emitter) counter(key string, v float64, lv ...string) {
	if d := e.desc(key); d != nil {
		e.b.counter(d, v, lv)
	}
}

//go:norace
func (e emitter) hist(key string, h *hist, lv ...string) {
	if d := e.desc(key); d != nil {
		e.b.hist(d, h, lv)
	}
}

// counterCreated writes a counter and its _created gauge.
func (e emitter) counterCreated(key string, v, created float64, lv ...string) {
	if d := e.desc(key); d != nil {
		e.b.counter(d, v, lv)
		e.createdOf(d, created, lv)
	}
}

// histCreated writes a histogram and its _created gauge.
func (e emitter) histCreated(key string, h *hist, created float64, lv ...string) {
	if d := e.desc(key); d != nil {
		e.b.hist(d, h, lv)
		e.createdOf(d, created, lv)
	}
}

//go:norace
func (e emitter) createdOf(d *famDesc, created float64, lv []string) {
	if d.created == nil {
		e.b.fail(fmt.Errorf("family %s has no _created gauge", d.name))
		return
	}
	e.b.gauge(d.created, created, lv)
}

// renderCacheBytes bounds the renders kept for the current simulated time.
const renderCacheBytes = 64 << 20

// renderCache keeps the renders of one simulated time, so that scrapes
// within one tick (an HA pair of Prometheus servers, a retry) share one
// render; the first render at a later time drops them.
type renderCache struct {
	mu    sync.Mutex
	now   float64
	size  int
	items map[string][]byte
}

func (rc *renderCache) get(path string, now float64) ([]byte, bool) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	if now != rc.now {
		return nil, false
	}
	b, ok := rc.items[path]
	return b, ok
}

func (rc *renderCache) put(path string, now float64, b []byte) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	if now != rc.now || rc.items == nil {
		rc.items, rc.size, rc.now = map[string][]byte{}, 0, now
	}
	if rc.size+len(b) > renderCacheBytes {
		return
	}
	rc.items[path] = b
	rc.size += len(b)
}
