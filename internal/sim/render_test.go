package sim

import (
	"bytes"
	"errors"
	"math"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/expfmt"
)

// viaRegistry renders what the builder holds the reference way: every
// metric as a client_golang const metric gathered by a registry (which
// sorts families and metrics) and written by expfmt's text encoder.
func viaRegistry(t *testing.T, b *builder) []byte {
	t.Helper()
	var metrics []prometheus.Metric
	for i := range b.fams {
		f := &b.fams[i]
		for _, m := range f.pool[:f.n] {
			var names, values []string
			for _, lp := range m.Label {
				names = append(names, lp.GetName())
				values = append(values, lp.GetValue())
			}
			desc := prometheus.NewDesc(b.t.names[i], b.t.help[i], names, nil)
			var (
				pm  prometheus.Metric
				err error
			)
			switch {
			case m.Gauge != nil:
				pm, err = prometheus.NewConstMetric(desc, prometheus.GaugeValue, m.Gauge.GetValue(), values...)
			case m.Counter != nil:
				pm, err = prometheus.NewConstMetric(desc, prometheus.CounterValue, m.Counter.GetValue(), values...)
			case m.Histogram != nil:
				buckets := map[float64]uint64{}
				for _, bk := range m.Histogram.Bucket {
					buckets[bk.GetUpperBound()] = bk.GetCumulativeCount()
				}
				pm, err = prometheus.NewConstHistogram(desc, m.Histogram.GetSampleCount(), m.Histogram.GetSampleSum(), buckets, values...)
			}
			if err != nil {
				t.Fatalf("%s: %v", b.t.names[i], err)
			}
			metrics = append(metrics, pm)
		}
	}
	reg := prometheus.NewPedanticRegistry()
	if err := reg.Register(collectorFunc(func(ch chan<- prometheus.Metric) {
		for _, m := range metrics {
			ch <- m
		}
	})); err != nil {
		t.Fatal(err)
	}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatalf("gather: %v", err)
	}
	var out bytes.Buffer
	enc := expfmt.NewEncoder(&out, expfmt.NewFormat(expfmt.TypeTextPlain))
	for _, mf := range mfs {
		if err := enc.Encode(mf); err != nil {
			t.Fatalf("encode %s: %v", mf.GetName(), err)
		}
	}
	return out.Bytes()
}

// collectorFunc adapts a function to an unchecked prometheus.Collector.
type collectorFunc func(ch chan<- prometheus.Metric)

func (f collectorFunc) Describe(chan<- *prometheus.Desc)    {}
func (f collectorFunc) Collect(ch chan<- prometheus.Metric) { f(ch) }

// TestRenderMatchesRegistry holds the builder and the text writer to what
// a client_golang registry and expfmt make of the same metrics, for every
// target of every scenario.
func TestRenderMatchesRegistry(t *testing.T) {
	t.Parallel()
	for _, name := range scenarioNames {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			c := newTestCluster(t, name, 16)
			c.Step(c.Start().Add(12 * time.Minute))
			c.mu.RLock()
			defer c.mu.RUnlock()
			for _, tg := range c.Targets() {
				tc, err := c.targetCollector(tg.Path)
				if errors.Is(err, ErrTargetDown) {
					continue
				}
				if err != nil {
					t.Fatal(err)
				}
				b := tc.tab.builder()
				tc.collect(emitter{b})
				want := viaRegistry(t, b)
				got, err := b.encode()
				tc.tab.release(b)
				if err != nil {
					t.Fatalf("%s: %v", tg.Path, err)
				}
				if !bytes.Equal(got, want) {
					diffLines(t, tg.Path, got, want)
				}
			}
		})
	}
}

func diffLines(t *testing.T, what string, got, want []byte) {
	t.Helper()
	g, w := strings.Split(string(got), "\n"), strings.Split(string(want), "\n")
	for i := range min(len(g), len(w)) {
		if g[i] != w[i] {
			t.Fatalf("%s differs at line %d:\n got: %s\nwant: %s", what, i+1, g[i], w[i])
		}
	}
	t.Fatalf("%s: %d lines, want %d", what, len(g), len(w))
}

// TestRenderEdgeCases covers what the scenarios never produce: values that
// need escaping (expfmt writes those families), no labels, special floats,
// large counts, an empty histogram, metrics emitted out of order, a
// duplicate series and an undeclared family.
func TestRenderEdgeCases(t *testing.T) {
	t.Parallel()
	tab := newFamTable([]famSpec{
		{name: "a_gauge", help: `help with \ and` + "\nnewline", typ: gaugeT, labels: []string{"z", "b"}},
		{name: "b_total", help: "a counter", typ: counterT, labels: []string{"x"}, created: true},
		{name: "c_seconds", help: "a histogram", typ: histT, created: true},
		{name: "d_plain", help: "no labels", typ: gaugeT},
	})
	bounds := []float64{0, 0.5, 1e6, 1e21}
	h := hist{bounds: bounds, counts: []uint64{0, 3, 0, 2_000_000, 7}, sum: 1e-7, count: 2_000_010}
	empty := hist{bounds: bounds, counts: make([]uint64, len(bounds)+1)}
	fill := func(em emitter) {
		em.gauge("a_gauge", 1.5, "z2", "b")
		em.gauge("a_gauge", -1, "z1", `quote " back \ slash`)
		em.gauge("a_gauge", 1e-9, "z1", "new\nline")
		em.counterCreated("b_total", 1234567, 1.7e9, "y")
		em.counterCreated("b_total", 0, 1.7e9, "")
		em.histCreated("c_seconds", &h, 12.5)
		em.gauge("d_plain", math.Copysign(0, -1))
	}
	for _, tc := range []struct {
		name string
		fill func(em emitter)
		err  string
	}{
		{"values", fill, ""},
		{"special floats", func(em emitter) {
			for i, v := range []float64{math.Inf(-1), math.Inf(1), math.NaN(), -2.5e-300, 123456789012, 0.1, 100000, 999999, 1e6} {
				em.gauge("a_gauge", v, "v", strconv.Itoa(i))
			}
		}, ""},
		{"empty histogram", func(em emitter) { em.histCreated("c_seconds", &empty, 0) }, ""},
		{"duplicate", func(em emitter) { em.gauge("d_plain", 1); em.gauge("d_plain", 2) }, "duplicate series"},
		{"undeclared", func(em emitter) { em.gauge("nope", 1) }, `family "nope" is not declared`},
		{"label count", func(em emitter) { em.gauge("a_gauge", 1, "only-one") }, "1 label values for 2 labels"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for range 2 { // the second round reuses the builder's metrics
				b := tab.builder()
				tc.fill(emitter{b})
				var want []byte
				if tc.err == "" {
					want = viaRegistry(t, b)
				}
				got, err := b.encode()
				tab.release(b)
				if tc.err != "" {
					if err == nil || !strings.Contains(err.Error(), tc.err) {
						t.Fatalf("err = %v, want %q", err, tc.err)
					}
					continue
				}
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(got, want) {
					diffLines(t, tc.name, got, want)
				}
			}
		})
	}
}

// TestServerScrapeCache checks that scrapes within one tick share a
// render, that a later tick renders afresh, and that the shared render is
// what RenderBytes makes.
func TestServerScrapeCache(t *testing.T) {
	t.Parallel()
	c := newTestCluster(t, "healthy", 8)
	c.Step(c.Start().Add(time.Minute))
	path := c.Targets()[0].Path
	a, err := c.scrape(path)
	if err != nil {
		t.Fatal(err)
	}
	b, err := c.scrape(path)
	if err != nil {
		t.Fatal(err)
	}
	if &a[0] != &b[0] {
		t.Error("two scrapes in one tick rendered twice")
	}
	fresh, err := c.RenderBytes(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(a, fresh) {
		t.Error("the cached render differs from a fresh one")
	}
	c.Step(c.Start().Add(time.Minute + time.Second))
	later, err := c.scrape(path)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Equal(a, later) {
		t.Error("a scrape one tick later returned the old render")
	}
	if !slices.Equal(a, fresh) {
		t.Error("rendering at a later tick changed an earlier render")
	}
}
