package sim

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/expfmt"
)

// Target kinds.
const (
	KindEngine = "engine"
	KindDCGM   = "dcgm"
	KindKueue  = "kueue"
	KindKSM    = "ksm"
)

// ErrTargetDown is returned when scraping a target whose exporter is down.
var ErrTargetDown = errors.New("target down")

// ErrNoTarget is returned for a path that names no current target.
var ErrNoTarget = errors.New("no such target")

// Target is one scrape target: its path on the simulator's listener, its
// job and the target labels a PodMonitor/ServiceMonitor would attach.
type Target struct {
	Path   string            `json:"path"`
	Kind   string            `json:"kind"`
	Job    string            `json:"job"`
	Labels map[string]string `json:"labels"` // instance, namespace, pod, container … (not job)
	// HonorLabels is how this job should be scraped: the dcgm-exporter
	// job follows the scenario's exporter.honor_labels, kube-state-metrics
	// is scraped with honor_labels true, the rest with false.
	HonorLabels bool `json:"honor_labels"`
	Up          bool `json:"up"`
	// Engine is the engine kind of an engine target (vllm, vllm-0.10, vllm-v0, sglang, llamacpp).
	Engine string `json:"engine,omitempty"`
}

// famType is a family's metric type in the descriptor tables.
type famType int

const (
	gaugeT famType = iota
	counterT
	histT
)

// famSpec declares one family: name (the wire name), help, type, labels.
type famSpec struct {
	name, help string
	typ        famType
	labels     []string
	created    bool   // also emit <base>_created gauges (prometheus_client)
	key        string // table key when one name has several label sets (default: name)
}

// descTable is a built table of descriptors by family name.
type descTable map[string]*prometheus.Desc

func buildDescs(specs []famSpec) descTable {
	t := descTable{}
	for _, s := range specs {
		k := s.key
		if k == "" {
			k = s.name
		}
		t[k] = prometheus.NewDesc(s.name, s.help, s.labels, nil)
		if s.created {
			t[createdName(s)] = prometheus.NewDesc(createdName(s), s.help, s.labels, nil)
		}
	}
	return t
}

// createdName is prometheus_client's _created family: counters drop their
// _total suffix first.
func createdName(s famSpec) string {
	if s.typ == counterT {
		return strings.TrimSuffix(s.name, "_total") + "_created"
	}
	return s.name + "_created"
}

// emitter sends const metrics, turning label mistakes into invalid metrics
// so that Gather reports them instead of panicking.
type emitter struct {
	ch chan<- prometheus.Metric
	d  descTable
}

func (e emitter) desc(name string) *prometheus.Desc {
	d := e.d[name]
	if d == nil {
		d = prometheus.NewInvalidDesc(fmt.Errorf("family %q is not declared", name))
	}
	return d
}

func (e emitter) send(name string, t prometheus.ValueType, v float64, lv ...string) {
	m, err := prometheus.NewConstMetric(e.desc(name), t, v, lv...)
	if err != nil {
		m = prometheus.NewInvalidMetric(e.desc(name), err)
	}
	e.ch <- m
}

func (e emitter) gauge(name string, v float64, lv ...string) {
	e.send(name, prometheus.GaugeValue, v, lv...)
}

func (e emitter) counter(name string, v float64, lv ...string) {
	e.send(name, prometheus.CounterValue, v, lv...)
}

func (e emitter) hist(name string, h *hist, lv ...string) {
	m, err := prometheus.NewConstHistogram(e.desc(name), h.count, h.sum, h.cumulative(), lv...)
	if err != nil {
		m = prometheus.NewInvalidMetric(e.desc(name), err)
	}
	e.ch <- m
}

// collectorFunc adapts a function to an unchecked prometheus.Collector.
type collectorFunc func(ch chan<- prometheus.Metric)

// Describe sends nothing: the collector is unchecked, its families vary.
func (f collectorFunc) Describe(chan<- *prometheus.Desc) {}

// Collect calls f.
func (f collectorFunc) Collect(ch chan<- prometheus.Metric) { f(ch) }

// renderer holds the descriptor tables, built once per cluster.
type renderer struct {
	once                                  sync.Once
	vllm, vllmV0, sglang, llamacpp, infra descTable
	dcgm                                  []dcgmField
	dcgmKeys                              [][4]string // per field: idle, idle MIG, allocated, allocated MIG
}

func (r *renderer) init(c *Cluster) {
	r.once.Do(func() {
		r.vllm = buildDescs(vllmFamilies())
		r.vllmV0 = buildDescs(vllmV0Families())
		r.sglang = buildDescs(sglangFamilies())
		r.llamacpp = buildDescs(llamacppFamilies())
		r.infra = buildDescs(append(append(dcgmFamilies(c.sc.Exporter), kueueFamilies()...), ksmFamilies()...))
		r.dcgm = dcgmFields()
		for _, f := range r.dcgm {
			r.dcgmKeys = append(r.dcgmKeys, [4]string{dcgmKey(f.name, false, false), dcgmKey(f.name, false, true), dcgmKey(f.name, true, false), dcgmKey(f.name, true, true)})
		}
	})
}

// Targets lists the current scrape targets in a stable order.
func (c *Cluster) Targets() []Target {
	c.mu.RLock()
	defer c.mu.RUnlock()
	var ts []Target
	for _, p := range c.pods {
		if p.dep == nil || p.phase != phaseRunning {
			continue
		}
		ts = append(ts, Target{Path: "/targets/" + p.ns + "/" + p.name + "/metrics", Kind: KindEngine, Job: containerName(p.dep.spec.Engine),
			Labels: map[string]string{"instance": p.ip + ":8000", "namespace": p.ns, "pod": p.name, "container": p.container}, Up: true, Engine: p.dep.spec.Engine})
	}
	for _, n := range c.nodes {
		ts = append(ts, Target{Path: "/targets/dcgm/" + n.name + "/metrics", Kind: KindDCGM, Job: "dcgm-exporter",
			Labels: map[string]string{"instance": n.ip + ":9400", "namespace": c.sc.Exporter.Namespace, "pod": n.exporterPod,
				"container": "nvidia-dcgm-exporter", "node": n.name},
			HonorLabels: c.sc.Exporter.HonorLabels, Up: !n.exporterDown})
	}
	ts = append(ts, Target{Path: "/targets/kueue/metrics", Kind: KindKueue, Job: "kueue",
		Labels: map[string]string{"instance": "10.96.0.20:8443", "namespace": "kueue-system", "pod": "kueue-controller-manager-6d8f7c9b5-x2xkq"}, Up: true})
	if c.sc.Kueue.Follower {
		ts = append(ts, Target{Path: "/targets/kueue-follower/metrics", Kind: KindKueue, Job: "kueue",
			Labels: map[string]string{"instance": "10.96.0.21:8443", "namespace": "kueue-system", "pod": "kueue-controller-manager-6d8f7c9b5-9lqzt"}, Up: true})
	}
	ts = append(ts, Target{Path: "/targets/ksm/metrics", Kind: KindKSM, Job: "kube-state-metrics",
		Labels: map[string]string{"instance": "10.96.0.30:8080"}, HonorLabels: true, Up: true})
	return ts
}

// Gatherer returns a registry that renders the target at path from the
// cluster's state at scrape time.
func (c *Cluster) Gatherer(path string) (prometheus.Gatherer, error) {
	c.render.init(c)
	var f collectorFunc
	parts := strings.Split(strings.Trim(path, "/"), "/")
	switch {
	case path == "/targets/kueue/metrics":
		f = func(ch chan<- prometheus.Metric) { c.collectKueue(emitter{ch, c.render.infra}, "leader") }
	case path == "/targets/kueue-follower/metrics" && c.sc.Kueue.Follower:
		f = func(ch chan<- prometheus.Metric) { c.collectKueue(emitter{ch, c.render.infra}, "follower") }
	case path == "/targets/ksm/metrics":
		f = func(ch chan<- prometheus.Metric) { c.collectKSM(emitter{ch, c.render.infra}) }
	case len(parts) == 4 && parts[0] == "targets" && parts[1] == "dcgm" && parts[3] == "metrics":
		n := c.nodeByName(parts[2])
		if n == nil {
			return nil, fmt.Errorf("target %q: %w", path, ErrNoTarget)
		}
		if c.exporterDown(n) {
			return nil, fmt.Errorf("target %q: dcgm-exporter on %s: %w", path, n.name, ErrTargetDown)
		}
		f = func(ch chan<- prometheus.Metric) { c.collectDCGM(emitter{ch, c.render.infra}, n) }
	case len(parts) == 4 && parts[0] == "targets" && parts[3] == "metrics":
		p := c.podByName(parts[1], parts[2])
		if p == nil {
			return nil, fmt.Errorf("target %q: %w", path, ErrNoTarget)
		}
		f = func(ch chan<- prometheus.Metric) { c.collectEngine(ch, p) }
	default:
		return nil, fmt.Errorf("target %q: %w", path, ErrNoTarget)
	}
	reg := prometheus.NewRegistry()
	if err := reg.Register(f); err != nil {
		return nil, fmt.Errorf("register collector for %q: %w", path, err)
	}
	return reg, nil
}

// TextContentType is the exposition content type Render writes.
const TextContentType = "text/plain; version=0.0.4; charset=utf-8"

// Render writes the target's exposition in the text format 0.0.4.
func (c *Cluster) Render(w io.Writer, path string) error {
	g, err := c.Gatherer(path)
	if err != nil {
		return err
	}
	c.mu.RLock()
	mfs, err := g.Gather()
	c.mu.RUnlock()
	if err != nil {
		return fmt.Errorf("gather %q: %w", path, err)
	}
	enc := expfmt.NewEncoder(w, expfmt.NewFormat(expfmt.TypeTextPlain))
	for _, mf := range mfs {
		if err := enc.Encode(mf); err != nil {
			return fmt.Errorf("encode %q family %s: %w", path, mf.GetName(), err)
		}
	}
	return nil
}

// RenderBytes is Render into a byte slice.
func (c *Cluster) RenderBytes(path string) ([]byte, error) {
	var b bytes.Buffer
	err := c.Render(&b, path)
	return b.Bytes(), err
}

func (c *Cluster) nodeByName(name string) *node {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.nodeIdx[name]
}

func (c *Cluster) exporterDown(n *node) bool {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return n.exporterDown
}

func (c *Cluster) podByName(ns, name string) *pod {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.podIdx[ns+"/"+name]
}
