package schema

import (
	"fmt"
	"slices"
	"strings"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql/parser"
)

// Default bucket upper bounds of the engines' latency histograms, from
// vllm/v1/metrics/buckets.py@139b1c3f (the same numbers are hard-coded in
// 0.11/0.12's loggers.py) and SGLang's metrics collector defaults; see
// serving-metrics.md §1.3 and §3. An engine started with custom buckets
// (vLLM's --custom-histogram-buckets) has others.
var (
	vllmTTFTBuckets           = []float64{0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10, 20, 40, 80, 160, 640, 2560}
	vllmITLBuckets            = []float64{0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.75, 1, 2.5, 5, 7.5, 10, 20, 40, 80}
	vllmRequestLatencyBuckets = []float64{0.3, 0.5, 0.8, 1, 1.5, 2, 2.5, 5, 10, 15, 20, 30, 40, 50, 60, 120, 240, 480, 960, 1920, 7680}
	sglangTTFTBuckets         = []float64{0.1, 0.2, 0.4, 0.6, 0.8, 1, 2, 4, 6, 8, 10, 20, 40, 60, 80, 100, 200, 400}
	sglangITLBuckets          = []float64{0.002, 0.004, 0.006, 0.008, 0.010, 0.015, 0.020, 0.025, 0.030, 0.035, 0.040, 0.060, 0.080, 0.100, 0.200, 0.400, 0.600, 0.800, 1, 2, 4, 6, 8}
	sglangE2EBuckets          = []float64{0.1, 0.2, 0.4, 0.6, 0.8, 1, 2, 4, 6, 8, 10, 20, 40, 60, 80, 100, 200, 400, 600, 1200, 1800, 2400}
)

// HistogramSource is one source of a histogram signal as a family: what a
// query needs to read its classic series (<Name>_bucket, <Name>_count) or
// its native histogram (<Name>) alike.
type HistogramSource struct {
	Exporter, Versions string
	// Name is the histogram's family name, without _bucket.
	Name string
	// Matchers are the source's own label matchers (besides the name).
	Matchers []*labels.Matcher
	// Buckets are the source's default bucket upper bounds; nil when the
	// catalog does not know them.
	Buckets []float64
}

// HistogramSources returns the sources of a histogram signal, in order of
// preference, each as a family.
func (cat *Catalog) HistogramSources(signal string) ([]HistogramSource, error) {
	s, err := cat.Signal(signal)
	if err != nil {
		return nil, err
	}
	if s.Kind != KindHistogram {
		return nil, fmt.Errorf("signal %s: not a histogram", signal)
	}
	var out []HistogramSource
	for _, src := range s.Sources {
		e, err := cat.c.parse("source "+src.Exporter, src.Expr)
		if err != nil {
			return nil, err
		}
		var vs *parser.VectorSelector
		parser.Inspect(e, func(n parser.Node, _ []parser.Node) error {
			if v, ok := n.(*parser.VectorSelector); ok && vs == nil {
				vs = v
			}
			return nil
		})
		if vs == nil || !strings.HasSuffix(vs.Name, "_bucket") {
			return nil, fmt.Errorf("signal %s: source %s: %q reads no _bucket series", signal, src.Exporter, src.Expr)
		}
		hs := HistogramSource{Exporter: src.Exporter, Versions: src.Versions, Name: strings.TrimSuffix(vs.Name, "_bucket"), Buckets: slices.Clone(src.Buckets)}
		for _, m := range vs.LabelMatchers {
			if m.Name != model.MetricNameLabel {
				hs.Matchers = append(hs.Matchers, m)
			}
		}
		out = append(out, hs)
	}
	return out, nil
}

// NormalizeEngine rewrites e, an expression over engine series built
// outside the catalog (the latency objectives' rules), as the catalog's own
// pod-level sources are: follower replicas dropped, label aliases applied to
// the labels by names or e groups on, and the cluster label kept through
// every aggregation. The result has been parsed.
func (cat *Catalog) NormalizeEngine(what string, e parser.Expr, by []string) (parser.Expr, error) {
	out, err := cat.c.normalize(what, e.String(), LevelPod, nil, by)
	if err != nil {
		return nil, err
	}
	keepCluster(out, cat.c.cluster)
	if _, err := cat.c.parse(what, out.String()); err != nil {
		return nil, err
	}
	return out, nil
}
