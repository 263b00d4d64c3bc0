package sim

import (
	"math"
	"sort"
	"time"
)

// State is a pod's true diagnosis state for one minute.
type State string

// The diagnosis states, in the order classify tests them.
const (
	StateExporterDown    State = "exporter_down"
	StateUnusableGPU     State = "unusable_gpu"
	StateXID             State = "xid"
	StateEngineAsleep    State = "engine_asleep"
	StateIdle            State = "idle"
	StateKVSaturated     State = "kv_saturated"
	StateKVTransferBound State = "kv_transfer_bound"
	StatePDImbalance     State = "pd_imbalance"
	StatePoorSpecDecode  State = "poor_spec_decode"
	StateHostBound       State = "host_bound"
	// StateGatewayBacklog: the deployment's gateway holds requests (in
	// this pod's share, at least one on average) while the engines are
	// busy: demand no engine has seen.
	StateGatewayBacklog State = "gateway_backlog"
	StateBacklog        State = "backlog"
	StateTTFTRegression State = "ttft_regression"
	StateMemoryBound    State = "memory_bound"
	StateHealthy        State = "healthy"
)

// PodMinute is one serving pod's truth for one minute (averages over it).
type PodMinute struct {
	Time           time.Time `json:"t"`
	State          State     `json:"state"`
	Busy           float64   `json:"engine_active"`
	Tensor         float64   `json:"tensor_active"`
	DRAM           float64   `json:"dram_active"`
	KVUsage        float64   `json:"kv_usage"`
	KVMax          float64   `json:"kv_max"`
	Running        float64   `json:"running"`
	Waiting        float64   `json:"waiting"`
	Preemptions    float64   `json:"preemptions"`
	TTFT           float64   `json:"ttft_seconds"`
	SpecAcceptance float64   `json:"spec_acceptance,omitempty"`
	// Disaggregation and sleep mode (truth_pd.go): the pod's role, the
	// requests waiting for KV, the mean transfer time, failed transfers
	// per second, and whether its engines sleep.
	Role             string  `json:"role,omitempty"`
	TransferWaiting  float64 `json:"transfer_waiting,omitempty"`
	TransferLatency  float64 `json:"transfer_latency_seconds,omitempty"`
	TransferFailures float64 `json:"transfer_failures_per_second,omitempty"`
	Asleep           bool    `json:"asleep,omitempty"`
	// GatewayQueued is the pod's share of its gateway's queue (the queue
	// over the engines the gateway dispatches to, × the pod's engines).
	GatewayQueued float64 `json:"gateway_queued,omitempty"`
}

// PodTruth is what one serving pod really did.
type PodTruth struct {
	Namespace  string      `json:"namespace"`
	Pod        string      `json:"pod"`
	Team       string      `json:"team"` // the team label's latest value
	Deployment string      `json:"deployment"`
	Model      string      `json:"model_name"`
	Engine     string      `json:"engine_kind"`
	Node       string      `json:"node"`
	GPUs       []string    `json:"gpus"`
	Minutes    []PodMinute `json:"minutes"`
}

// TeamMinute is a team's true GPU-hours in one minute.
type TeamMinute struct {
	Time              time.Time `json:"t"`
	AllocatedGPUHours float64   `json:"allocated_gpu_hours"`
	UsedGPUHours      float64   `json:"used_gpu_hours"`
	EnergyKWh         float64   `json:"energy_kwh"`
}

// TeamTruth is a team's true GPU-hours since the start, and per minute.
// Reserved is its nominal Kueue quota over time, allocated the GPUs its
// running pods held, used the engine-active share of those (MIG slices
// count as their share of a card). A pod's hours belong to the team its
// team label names at the time: a relabelled pod's go to the old team
// before the relabel and to the new one after.
type TeamTruth struct {
	Team              string  `json:"team"`
	Namespace         string  `json:"namespace"`
	ReservedGPUHours  float64 `json:"reserved_gpu_hours"`
	AllocatedGPUHours float64 `json:"allocated_gpu_hours"`
	UsedGPUHours      float64 `json:"used_gpu_hours"`
	// EnergyKWh is the energy of the GPUs (and MIG slices) its running
	// pods held, while they held them.
	EnergyKWh float64      `json:"energy_kwh"`
	Minutes   []TeamMinute `json:"minutes"`
}

// FleetTruth is the whole fleet's GPU-hours since the start: capacity,
// allocated to pods, used, and idle (capacity minus allocated).
type FleetTruth struct {
	GPUHours          float64 `json:"gpu_hours"`
	AllocatedGPUHours float64 `json:"allocated_gpu_hours"`
	UsedGPUHours      float64 `json:"used_gpu_hours"`
	IdleGPUHours      float64 `json:"idle_gpu_hours"`
	// EnergyKWh is every GPU's energy; IdleEnergyKWh that of GPUs no
	// running pod held.
	EnergyKWh     float64 `json:"energy_kwh"`
	IdleEnergyKWh float64 `json:"idle_energy_kwh"`
}

// GPUTruth is one GPU's (or MIG instance's) true energy since the start.
type GPUTruth struct {
	Node      string  `json:"node"`
	UUID      string  `json:"uuid"`
	MIGID     int     `json:"mig_id"` // GPU_I_ID, -1 for a whole card
	EnergyKWh float64 `json:"energy_kwh"`
}

// DemandMinute is a deployment's true demand in one minute.
type DemandMinute struct {
	Time            time.Time `json:"t"`
	OfferedRPS      float64   `json:"offered_rps"`
	ReplicasDesired int       `json:"replicas_desired"`
	ReplicasRunning int       `json:"replicas_running"`
	// ReplicasNeeded is the replicas that would serve the offered load at
	// 80% of a replica's analytic capacity.
	ReplicasNeeded float64 `json:"replicas_needed"`
}

// DeploymentTruth is a deployment's true demand per minute.
type DeploymentTruth struct {
	Deployment string         `json:"deployment"`
	Team       string         `json:"team"`
	Namespace  string         `json:"namespace"`
	Model      string         `json:"model_name"`
	Capacity   float64        `json:"capacity_rps_per_replica"`
	Minutes    []DemandMinute `json:"minutes"`
}

// Truth is the ground truth of a cluster up to Now.
type Truth struct {
	Scenario    string            `json:"scenario"`
	Seed        uint64            `json:"seed"`
	GPUs        int               `json:"gpus"`
	Start       time.Time         `json:"start"`
	Now         time.Time         `json:"now"`
	Fleet       FleetTruth        `json:"fleet"`
	GPUEnergy   []GPUTruth        `json:"gpu_energy"`
	Pods        []PodTruth        `json:"pods"`
	Teams       []TeamTruth       `json:"teams"`
	Deployments []DeploymentTruth `json:"deployments"`
	// Models are the served models' GPU-hours and tokens per GPU model.
	Models []ModelTruth `json:"models"`
	// GPUFailures are the GPUs broken by gpu_failure events, each unusable
	// from its Since on.
	GPUFailures []GPUFailureTruth `json:"gpu_failures,omitempty"`
	// Queues is each ClusterQueue's state per minute.
	Queues []QueueTruth `json:"queues"`
}

// teamMinute accumulates a team's current minute.
type teamMinute struct{ reserved, alloc, used, energyJ float64 }

// joulesPerKWh converts joules to kWh.
const joulesPerKWh = 3.6e6

// podRecord is the truth kept for one pod plus its classifier memory.
type podRecord struct {
	PodTruth
	backlogStreak int
	gatewayStreak int
	baselineTTFT  float64
	baselineN     int
}

// truthLog keeps the truth with a bounded per-minute history.
type truthLog struct {
	keep    int
	pods    map[string]*podRecord
	order   []string
	teams   map[string]*TeamTruth
	demands map[string]*DeploymentTruth
}

func newTruthLog(keepMinutes int) *truthLog {
	return &truthLog{keep: max(1, keepMinutes), pods: map[string]*podRecord{}, teams: map[string]*TeamTruth{}, demands: map[string]*DeploymentTruth{}}
}

//go:norace
func trim[T any](s []T, keep int) []T {
	if len(s) > keep {
		return append(s[:0], s[len(s)-keep:]...)
	}
	return s
}

// closeMinute classifies every serving pod's last minute, closes the teams'
// GPU-hours and the deployments' demand.
//
//go:norace
func (c *Cluster) closeMinute() {
	ts := c.at(math.Floor(c.now/60)*60 - 60)
	minutes := map[*pod]PodMinute{}
	for _, p := range c.pods {
		if p.dep != nil && p.phase == phaseRunning {
			minutes[p] = c.podMinute(p, ts)
		}
	}
	imbalanced := pdImbalanced(minutes)
	for _, p := range c.pods {
		if p.dep == nil || p.phase != phaseRunning {
			continue
		}
		key := p.ns + "/" + p.name
		rec := c.truth.pods[key]
		if rec == nil {
			rec = &podRecord{PodTruth: PodTruth{Namespace: p.ns, Pod: p.name, Team: p.team.name, Deployment: p.dep.spec.Name,
				Model: p.dep.cfg.model.servedName, Engine: p.dep.spec.Engine, Node: p.node.name}}
			for _, g := range p.units {
				rec.GPUs = append(rec.GPUs, g.uuid)
			}
			c.truth.pods[key] = rec
			c.truth.order = append(c.truth.order, key)
		}
		rec.Team = p.labelTeam().name
		m := minutes[p]
		m.State = rec.classify(m, p, c.now, imbalanced[p])
		rec.Minutes = trim(append(rec.Minutes, m), c.truth.keep)
	}
	for _, t := range c.teams {
		tt := c.truth.teams[t.name]
		if tt == nil {
			tt = &TeamTruth{Team: t.name, Namespace: t.ns}
			c.truth.teams[t.name] = tt
		}
		tt.ReservedGPUHours += t.minute.reserved
		tt.AllocatedGPUHours += t.minute.alloc
		tt.UsedGPUHours += t.minute.used
		tt.EnergyKWh += t.minute.energyJ / joulesPerKWh
		tt.Minutes = trim(append(tt.Minutes, TeamMinute{Time: ts, AllocatedGPUHours: t.minute.alloc, UsedGPUHours: t.minute.used,
			EnergyKWh: t.minute.energyJ / joulesPerKWh}), c.truth.keep)
		t.minute = teamMinute{}
	}
	for _, d := range c.deps {
		dt := c.truth.demands[d.spec.Name]
		if dt == nil {
			dt = &DeploymentTruth{Deployment: d.spec.Name, Team: d.team.name, Namespace: d.team.ns, Model: d.cfg.model.servedName, Capacity: d.capacity()}
			c.truth.demands[d.spec.Name] = dt
		}
		running := 0
		for _, w := range d.workloads {
			if w.pod != nil {
				running++
			}
		}
		rps := (d.offered - d.minOffer) / 60
		d.minOffer = d.offered
		dt.Minutes = trim(append(dt.Minutes, DemandMinute{Time: ts, OfferedRPS: rps, ReplicasDesired: d.replicas,
			ReplicasRunning: running, ReplicasNeeded: rps / (0.8 * dt.Capacity)}), c.truth.keep)
	}
	c.closeQueueMinutes(ts)
	// Forget pods whose last minute left the retention window.
	cutoff := ts.Add(-time.Duration(c.truth.keep) * time.Minute)
	kept := c.truth.order[:0]
	for _, k := range c.truth.order {
		r := c.truth.pods[k]
		if len(r.Minutes) == 0 || r.Minutes[len(r.Minutes)-1].Time.Before(cutoff) {
			delete(c.truth.pods, k)
			continue
		}
		kept = append(kept, k)
	}
	c.truth.order = kept
}

// podMinute averages the pod's engines over the minute and resets them.
//
//go:norace
func (c *Cluster) podMinute(p *pod, ts time.Time) PodMinute {
	m := PodMinute{Time: ts}
	var drafts, accepted, ttftN, ttftSum float64
	m.Role, m.Asleep = p.dep.spec.Role, p.asleep
	var xferN, xferSecs float64
	for _, e := range p.engines {
		a := &e.minute
		if a.seconds > 0 {
			m.TransferWaiting += a.transferWaiting / a.seconds
		}
		xferN += a.xferN
		xferSecs += a.xferSeconds
		m.TransferFailures += a.xferFailed / 60
		if a.seconds > 0 {
			m.Busy += a.busy / a.seconds
			m.Tensor += a.tensor / a.seconds
			m.DRAM += a.dram / a.seconds
			m.KVUsage += a.kvSum / a.seconds
			m.Running += a.running / a.seconds
			m.Waiting += a.waiting / a.seconds
			m.GatewayQueued += a.gwHeld / a.seconds
		}
		m.KVMax = max(m.KVMax, a.kvMax)
		m.Preemptions += a.preemptions
		drafts += a.drafts
		accepted += a.accepted
		ttftN += a.ttftN
		ttftSum += a.ttftSum
		e.minute = minuteAgg{}
	}
	n := float64(len(p.engines))
	m.Busy /= n
	m.Tensor /= n
	m.DRAM /= n
	m.KVUsage /= n
	if ttftN > 0 {
		m.TTFT = ttftSum / ttftN
	}
	if xferN > 0 {
		m.TransferLatency = xferSecs / xferN
	}
	if drafts > 0 {
		m.SpecAcceptance = accepted / drafts
	}
	return m
}

// classify decides the pod's state for a minute. The thresholds follow the
// signatures in gpu-physics.md; the order puts the most specific cause first.
//
//go:norace
func (r *podRecord) classify(m PodMinute, p *pod, now float64, imbalanced bool) State {
	maxSeqs := float64(p.dep.cfg.maxNumSeqs * len(p.engines))
	if m.Waiting >= 1 && m.Busy >= 0.5 {
		r.backlogStreak++
	} else {
		r.backlogStreak = 0
	}
	if m.GatewayQueued >= 1 && m.Busy >= 0.5 {
		r.gatewayStreak++
	} else {
		r.gatewayStreak = 0
	}
	state := StateHealthy
	switch {
	case p.node.exporterDown:
		state = StateExporterDown
	case p.unusable(now - 30): // failed by the middle of the minute
		state = StateUnusableGPU
	case p.stalled(now - 60):
		state = StateXID
	case m.Asleep:
		state = StateEngineAsleep
	case m.Running+m.Waiting < 0.05 && m.Busy < 0.05:
		state = StateIdle
	case m.KVMax >= 0.9 && m.Preemptions > 0:
		state = StateKVSaturated
	case transferBound(m):
		state = StateKVTransferBound
	case imbalanced:
		state = StatePDImbalance
	case p.dep.cfg.spec != nil && m.SpecAcceptance > 0 && m.SpecAcceptance < 0.5:
		state = StatePoorSpecDecode
	case m.Busy < 0.5 && m.Running >= 1:
		state = StateHostBound
	case r.gatewayStreak >= 5:
		state = StateGatewayBacklog
	case r.backlogStreak >= 5:
		state = StateBacklog
	case r.baselineN >= 5 && m.TTFT > 2*r.baselineTTFT && m.TTFT > r.baselineTTFT+0.25:
		state = StateTTFTRegression
	case m.Busy >= 0.5 && m.Tensor < 0.3 && m.Running < 0.25*maxSeqs && m.Waiting < 1:
		state = StateMemoryBound
	}
	if m.TTFT > 0 && (state == StateHealthy || state == StateMemoryBound) {
		r.baselineN++
		r.baselineTTFT += (m.TTFT - r.baselineTTFT) / float64(min(r.baselineN, 30))
	}
	return state
}

// capacity is a replica's analytic request capacity (req/s) at a full
// batch: decode and prefill throughput from the roofline, in series.
//
//go:norace
func (d *deployment) capacity() float64 {
	cfg := d.cfg
	l := cfg.load
	ctxPer := l.PromptTokens.Mean + l.OutputTokens.Mean/2
	b := min(float64(cfg.maxNumSeqs), float64(cfg.blocks*blockTokens)/ctxPer)
	b = max(1, b)
	e := &engine{cfg: cfg}
	_, _, kern := e.roofline(int(b), int(b*ctxPer), 0)
	tokPerStep := 1 + acceptedPerDraft(cfg.spec)
	decodeRPS := b * tokPerStep / (kern + cfg.cpuOverhead) / l.OutputTokens.Mean
	prefillRPS := cfg.gpu.flops * achievedShare * float64(cfg.tp) / (2 * cfg.model.params * l.PromptTokens.Mean)
	return float64(d.spec.DP) / (1/decodeRPS + 1/prefillRPS)
}

// Truth returns a copy of the ground truth so far (as far back as the
// retention keeps it).
func (c *Cluster) Truth() Truth { return c.TruthSince(time.Time{}) }

// TruthSince returns a copy of the ground truth with the per-minute records
// from since on; pods with no minute since then are left out.
func (c *Cluster) TruthSince(since time.Time) Truth {
	c.mu.RLock()
	defer c.mu.RUnlock()
	out := Truth{Scenario: c.sc.Name, Seed: c.seed, GPUs: c.gpus, Start: c.start, Now: c.at(c.now),
		Fleet: c.fleet, Pods: []PodTruth{}, Teams: []TeamTruth{}, Deployments: []DeploymentTruth{}}
	out.Fleet.IdleGPUHours = out.Fleet.GPUHours - out.Fleet.AllocatedGPUHours
	out.GPUFailures = c.gpuFailures()
	for _, n := range c.nodes {
		for _, g := range n.units {
			out.GPUEnergy = append(out.GPUEnergy, GPUTruth{Node: n.name, UUID: g.uuid, MIGID: g.migID, EnergyKWh: g.energyMJ / 1000 / joulesPerKWh})
		}
	}
	for _, k := range c.truth.order {
		r := c.truth.pods[k]
		pt := r.PodTruth
		pt.GPUs = append([]string(nil), pt.GPUs...)
		pt.Minutes = since1(pt.Minutes, since, func(m PodMinute) time.Time { return m.Time })
		if len(pt.Minutes) > 0 {
			out.Pods = append(out.Pods, pt)
		}
	}
	for _, t := range c.teams {
		if tt := c.truth.teams[t.name]; tt != nil {
			cp := *tt
			cp.Minutes = since1(tt.Minutes, since, func(m TeamMinute) time.Time { return m.Time })
			out.Teams = append(out.Teams, cp)
		}
	}
	for _, d := range c.deps {
		if dt := c.truth.demands[d.spec.Name]; dt != nil {
			cp := *dt
			cp.Minutes = since1(dt.Minutes, since, func(m DemandMinute) time.Time { return m.Time })
			out.Deployments = append(out.Deployments, cp)
		}
	}
	out.Models = c.modelTruths()
	out.Queues = c.queueTruth(since)
	sort.SliceStable(out.Pods, func(i, j int) bool {
		return out.Pods[i].Namespace+"/"+out.Pods[i].Pod < out.Pods[j].Namespace+"/"+out.Pods[j].Pod
	})
	return out
}

// StateCounts tallies the pod-minutes per state, for tests and summaries.
func (t Truth) StateCounts() map[State]int {
	m := map[State]int{}
	for _, p := range t.Pods {
		for _, mm := range p.Minutes {
			m[mm.State]++
		}
	}
	return m
}

// since1 copies the records at or after since.
func since1[T any](in []T, since time.Time, at func(T) time.Time) []T {
	i := sort.Search(len(in), func(i int) bool { return !at(in[i]).Before(since) })
	return append([]T{}, in[i:]...)
}
