package sim

import (
	"errors"
	"fmt"
	"io"
	"strings"
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

// createdName is prometheus_client's _created family: counters drop their
// _total suffix first.
func createdName(s famSpec) string {
	if s.typ == counterT {
		return strings.TrimSuffix(s.name, "_total") + "_created"
	}
	return s.name + "_created"
}

// renderer holds the family tables, built once per cluster (one per kind
// of target, so that the builders a big kube-state-metrics render grows are
// not reused for small ones), and the server's renders of the current
// simulated time.
type renderer struct {
	vllm, vllmV0, sglang, llamacpp *famTable
	vllmPD, sglangPD               *famTable // disaggregated workers (render_pd.go)
	dcgm, kueue, ksm               *famTable
	roles                          bool // kube_pod_labels carries llm-d's role label
	epp, dynamoFE                  *famTable
	dcgmFields                     []dcgmField
	dcgmKeys                       [][4]*famDesc // per field: idle, idle MIG, allocated, allocated MIG
	cache                          renderCache
}

// newRenderer builds the family tables of a cluster's targets.
func newRenderer(x Exporter, roles bool) *renderer {
	r := &renderer{
		vllm:       newFamTable(vllmFamilies()),
		vllmV0:     newFamTable(vllmV0Families()),
		sglang:     newFamTable(sglangFamilies()),
		llamacpp:   newFamTable(llamacppFamilies()),
		dcgm:       newFamTable(dcgmFamilies(x)),
		kueue:      newFamTable(kueueFamilies()),
		ksm:        newFamTable(ksmFamilies()),
		epp:        newFamTable(eppFamilies()),
		dynamoFE:   newFamTable(dynamoFrontendFamilies()),
		dcgmFields: dcgmFields(),
		roles:      roles,
	}
	if roles {
		r.vllmPD = newFamTable(append(vllmFamilies(), nixlFamilies()...))
		r.sglangPD = newFamTable(append(sglangFamilies(), sglangPDFamilies()...))
		r.ksm = newFamTable(ksmPDFamilies())
	}
	for _, f := range r.dcgmFields {
		var keys [4]*famDesc
		for i, k := range []string{dcgmKey(f.name, false, false), dcgmKey(f.name, false, true), dcgmKey(f.name, true, false), dcgmKey(f.name, true, true)} {
			keys[i] = r.dcgm.descs[k]
		}
		r.dcgmKeys = append(r.dcgmKeys, keys)
	}
	return r
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
	return append(ts, c.gatewayTargets()...)
}

// TextContentType is the exposition content type Render writes.
const TextContentType = "text/plain; version=0.0.4; charset=utf-8"

// Render writes the target's exposition in the text format 0.0.4.
func (c *Cluster) Render(w io.Writer, path string) error {
	b, err := c.RenderBytes(path)
	if err != nil {
		return err
	}
	if _, err := w.Write(b); err != nil {
		return fmt.Errorf("write %q: %w", path, err)
	}
	return nil
}

// RenderBytes renders the target's exposition afresh into a byte slice
// the caller owns.
func (c *Cluster) RenderBytes(path string) ([]byte, error) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.renderLocked(path)
}

// scrape is what the server serves: the target's exposition at the current
// simulated time, rendered at most once per simulated time (two scrapes
// within one tick share it). The slice is shared: callers must not modify
// it.
func (c *Cluster) scrape(path string) ([]byte, error) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	if b, ok := c.rend.cache.get(path, c.now); ok {
		return b, nil
	}
	b, err := c.renderLocked(path)
	if err != nil {
		return nil, err
	}
	c.rend.cache.put(path, c.now, b)
	return b, nil
}

// renderLocked renders the target at path; the caller holds c.mu.
func (c *Cluster) renderLocked(path string) ([]byte, error) {
	tc, err := c.targetCollector(path)
	if err != nil {
		return nil, err
	}
	b := tc.tab.builder()
	defer tc.tab.release(b)
	tc.collect(emitter{b})
	out, err := b.encode()
	if err != nil {
		return nil, fmt.Errorf("render %q: %w", path, err)
	}
	return out, nil
}

// targetCollector is how one target is rendered: its family table and the
// function that emits its metrics.
type targetCollector struct {
	tab     *famTable
	collect func(emitter)
}

// targetCollector resolves a target path; the caller holds c.mu.
func (c *Cluster) targetCollector(path string) (targetCollector, error) {
	r := c.rend
	parts := strings.Split(strings.Trim(path, "/"), "/")
	switch {
	case path == "/targets/kueue/metrics":
		return targetCollector{r.kueue, func(em emitter) { c.collectKueue(em, "leader") }}, nil
	case path == "/targets/kueue-follower/metrics" && c.sc.Kueue.Follower:
		return targetCollector{r.kueue, func(em emitter) { c.collectKueue(em, "follower") }}, nil
	case path == "/targets/ksm/metrics":
		return targetCollector{r.ksm, c.collectKSM}, nil
	case len(parts) == 4 && parts[0] == "targets" && parts[1] == "gateway" && parts[3] == "metrics":
		tc, ok := c.gatewayCollector(parts[2])
		if !ok {
			return targetCollector{}, fmt.Errorf("target %q: %w", path, ErrNoTarget)
		}
		return tc, nil
	case len(parts) == 4 && parts[0] == "targets" && parts[1] == "dcgm" && parts[3] == "metrics":
		n := c.nodeIdx[parts[2]]
		if n == nil {
			return targetCollector{}, fmt.Errorf("target %q: %w", path, ErrNoTarget)
		}
		if n.exporterDown {
			return targetCollector{}, fmt.Errorf("target %q: dcgm-exporter on %s: %w", path, n.name, ErrTargetDown)
		}
		return targetCollector{r.dcgm, func(em emitter) { c.collectDCGM(em, n) }}, nil
	case len(parts) == 4 && parts[0] == "targets" && parts[3] == "metrics":
		p := c.podIdx[parts[1]+"/"+parts[2]]
		if p == nil {
			return targetCollector{}, fmt.Errorf("target %q: %w", path, ErrNoTarget)
		}
		return targetCollector{c.engineTable(p), func(em emitter) { c.collectEngine(em, p) }}, nil
	}
	return targetCollector{}, fmt.Errorf("target %q: %w", path, ErrNoTarget)
}
