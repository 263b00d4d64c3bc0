package diagnose

import (
	"math"
	"strings"
	"time"

	"github.com/servescope/servescope/internal/analyze/health"
)

// Window is the span a snapshot covers: steps at Start, Start+Step, … End.
type Window struct {
	Start time.Time     `json:"start"`
	End   time.Time     `json:"end"`
	Step  time.Duration `json:"step"`
}

// Steps is the number of steps in the window.
func (w Window) Steps() int {
	if w.Step <= 0 || w.End.Before(w.Start) {
		return 0
	}
	return int(w.End.Sub(w.Start)/w.Step) + 1
}

// At is the time of step i.
func (w Window) At(i int) time.Time { return w.Start.Add(time.Duration(i) * w.Step) }

// Track is one signal of one subject, a value per window step; NaN where
// the signal had no value.
type Track []float64

func newTrack(n int) Track {
	t := make(Track, n)
	for i := range t {
		t[i] = math.NaN()
	}
	return t
}

// stats summarises a track over [from, to).
type stats struct {
	n              int // steps with a value
	mean, min, max float64
	last           float64
}

func (t Track) stats(from, to int) stats {
	s := stats{min: math.Inf(1), max: math.Inf(-1), last: math.NaN()}
	var sum float64
	for i := max(from, 0); i < min(to, len(t)); i++ {
		v := t[i]
		if math.IsNaN(v) {
			continue
		}
		s.n++
		sum += v
		s.min, s.max, s.last = min(s.min, v), max(s.max, v), v
	}
	if s.n == 0 {
		return stats{mean: math.NaN(), min: math.NaN(), max: math.NaN(), last: math.NaN()}
	}
	s.mean = sum / float64(s.n)
	return s
}

// at returns t[i], NaN when out of range or t is nil.
func (t Track) at(i int) float64 {
	if i < 0 || i >= len(t) {
		return math.NaN()
	}
	return t[i]
}

// head returns the first n steps (fewer if the track is shorter).
func (t Track) head(n int) Track { return t[:min(n, len(t))] }

// slice returns the steps [from, to) as a new track.
func (t Track) slice(from, to int) Track {
	if t == nil {
		return nil
	}
	return append(Track(nil), t[min(from, len(t)):min(to, len(t))]...)
}

// Pod is one engine pod's signals over the window. Engine tracks are per
// pod (data-parallel ranks already aggregated by the catalog).
type Pod struct {
	// Cluster is the cluster label's value; empty without it.
	Cluster   string `json:"cluster,omitempty"`
	Namespace string `json:"namespace"`
	Pod       string `json:"pod"`
	Instance  string `json:"instance"`
	Model     string `json:"model"`
	// ModelFrom says where Model came from when the engine reports no
	// model label: "deployment" (the pod name without its ReplicaSet and
	// pod hashes); empty when the engine reported it.
	ModelFrom string `json:"model_from,omitempty"`
	// Engine is the exporter whose metrics the pod matched in the catalog
	// (vllm, sglang, tgi, llamacpp); empty when none did.
	Engine string `json:"engine,omitempty"`

	Running        Track `json:"-"`
	Waiting        Track `json:"-"`
	KVUsage        Track `json:"-"`
	Preemptions    Track `json:"-"`
	TTFTp95        Track `json:"-"`
	SpecAcceptance Track `json:"-"`
	PromptTPS      Track `json:"-"`
	GenerationTPS  Track `json:"-"`
	// IterationTokens is the mean tokens per engine step, where the engine
	// exports it (vLLM's iteration_tokens_total histogram).
	IterationTokens Track `json:"-"`
	// Role is the pod's serving role (pod_role): prefill, decode, or a
	// worker doing both (unified, aggregated, both); empty when unknown.
	Role string `json:"role,omitempty"`
	// Disaggregation and sleep tracks (collect_pd.go).
	Asleep             Track `json:"-"`
	KVTransferLatency  Track `json:"-"`
	KVTransferFailures Track `json:"-"`
	KVTransferWaiting  Track `json:"-"`
	// GatewayQueued is the pod's share of the requests its model's
	// inference gateways hold (collect_gateway.go); nil without a gateway.
	GatewayQueued Track `json:"-"`
	// GPUs are indexes into Snapshot.GPUs of the GPUs the pod holds.
	GPUs []int `json:"-"`
}

// Subject is the pod as a finding's subject.
func (p *Pod) Subject() Subject {
	return Subject{Level: LevelPod, Cluster: p.Cluster, Namespace: p.Namespace, Pod: p.Pod, Instance: p.Instance, Model: p.Model}
}

// podHashAlphabet is the alphabet of Kubernetes' generated name suffixes
// (ReplicaSet pod-template hashes and pod name suffixes).
const podHashAlphabet = "bcdfghjklmnpqrstvwxz2456789"

func isHash(s string, minLen, maxLen int) bool {
	if len(s) < minLen || len(s) > maxLen {
		return false
	}
	for _, r := range s {
		if !strings.ContainsRune(podHashAlphabet, r) {
			return false
		}
	}
	return true
}

// Deployment names the workload of a pod from its name: without the pod
// suffix (5 characters of Kubernetes' name alphabet) and the ReplicaSet
// hash before it (6–10), or without a StatefulSet ordinal. A name that
// does not look generated is returned as is.
func Deployment(pod string) string {
	parts := strings.Split(pod, "-")
	n := len(parts)
	switch {
	case n >= 3 && isHash(parts[n-1], 5, 5) && isHash(parts[n-2], 6, 10):
		return strings.Join(parts[:n-2], "-")
	case n >= 2 && isHash(parts[n-1], 5, 5):
		return strings.Join(parts[:n-1], "-")
	case n >= 2 && parts[n-1] != "" && strings.Trim(parts[n-1], "0123456789") == "":
		return strings.Join(parts[:n-1], "-")
	}
	return pod
}

// GPU is one GPU (or MIG slice) over the window.
type GPU struct {
	// Cluster is the cluster label's value; empty without it.
	Cluster  string `json:"cluster,omitempty"`
	Hostname string `json:"hostname"`
	UUID     string `json:"uuid"`
	MIG      string `json:"mig,omitempty"`
	// MIGProfile is the MIG slice's profile (GPU_I_PROFILE, e.g.
	// "3g.40gb"), empty on a whole GPU or when dcgm-exporter omits it.
	MIGProfile string `json:"mig_profile,omitempty"`
	ModelName  string `json:"model_name"`
	// Namespace and Pod hold the GPU; empty when unallocated.
	Namespace string `json:"namespace,omitempty"`
	Pod       string `json:"pod,omitempty"`
	// Profiling is set when busy came from the DCGM profiling counters
	// (DCGM_FI_PROF_*); otherwise it is DEV_GPU_UTIL and tensor activity is
	// unknown.
	Profiling bool `json:"profiling"`

	Busy   Track `json:"-"`
	DRAM   Track `json:"-"`
	Tensor Track `json:"-"`
	XID    Track `json:"-"`
	// Health holds the GPU's health signals (row remapping, XID count,
	// DCGM health status, last XID) for the unusable-GPU judgement.
	Health health.Tracks `json:"-"`
}

// Subject is the GPU as a finding's subject.
func (g *GPU) Subject() Subject {
	return Subject{Level: LevelGPU, Cluster: g.Cluster, Hostname: g.Hostname, UUID: g.UUID, MIG: g.MIG, Namespace: g.Namespace, Pod: g.Pod}
}

func (g *GPU) key() string { return g.Cluster + "\xff" + g.Hostname + "\xff" + g.UUID + "\xff" + g.MIG }

// Target is a scrape target that was down at some step of the window.
type Target struct {
	// Cluster is the cluster label's value; empty without it.
	Cluster  string `json:"cluster,omitempty"`
	Job      string `json:"job"`
	Instance string `json:"instance"`
	// Down is 0 at the steps where the target's up was 0, NaN elsewhere.
	Down Track `json:"-"`
}

// Snapshot is everything the detectors read: the pods, GPUs and down
// targets over a window, and the query behind each signal (for evidence).
type Snapshot struct {
	Window  Window   `json:"window"`
	Pods    []Pod    `json:"pods"`
	GPUs    []GPU    `json:"gpus"`
	Targets []Target `json:"targets,omitempty"`
	// Queues are the Kueue ClusterQueues (snapshot_kueue.go).
	Queues []Queue `json:"queues,omitempty"`
	// Gateways are the inference gateways' queues (collect_gateway.go).
	Gateways []GatewayQueue    `json:"gateways,omitempty"`
	Queries  map[string]string `json:"queries,omitempty"`
}

// Until returns the part of the snapshot from end-window to end (both
// rounded to the snapshot's steps): detectors evaluated at an earlier time
// over a shorter window, without querying again.
func (s *Snapshot) Until(end time.Time, window time.Duration) *Snapshot {
	w := s.Window
	to := min(int(end.Sub(w.Start)/w.Step)+1, w.Steps())
	from := max(0, to-int(window/w.Step)-1)
	if to <= from {
		to, from = 0, 0
	}
	out := &Snapshot{Window: Window{Start: w.At(from), End: w.At(max(to-1, from)), Step: w.Step}, Queries: s.Queries}
	for _, p := range s.Pods {
		q := p
		for _, t := range []*Track{&q.Running, &q.Waiting, &q.KVUsage, &q.Preemptions, &q.TTFTp95, &q.SpecAcceptance, &q.PromptTPS, &q.GenerationTPS, &q.IterationTokens,
			&q.Asleep, &q.KVTransferLatency, &q.KVTransferFailures, &q.KVTransferWaiting, &q.GatewayQueued} {
			*t = t.slice(from, to)
		}
		out.Pods = append(out.Pods, q)
	}
	for _, g := range s.GPUs {
		h := g
		for _, t := range []*Track{&h.Busy, &h.DRAM, &h.Tensor, &h.XID} {
			*t = t.slice(from, to)
		}
		h.Health = g.Health.Slice(from, to)
		out.GPUs = append(out.GPUs, h)
	}
	for _, d := range s.Targets {
		d.Down = d.Down.slice(from, to)
		out.Targets = append(out.Targets, d)
	}
	for _, q := range s.Queues {
		out.Queues = append(out.Queues, q.slice(from, to))
	}
	for _, g := range s.Gateways {
		g.Queued = g.Queued.slice(from, to)
		out.Gateways = append(out.Gateways, g)
	}
	return out
}
