package diagnose

import (
	stdcmp "cmp"
	"slices"
	"strings"
	"time"
)

// State is what a detector concluded about a subject.
type State string

// The states, in order of precedence: a pod's primary finding is the first
// of these that holds (the most specific cause first).
const (
	StateMissingLayer State = "missing_layer"
	// StateUnusableGPU: a GPU failed for good (detect_health.go).
	StateUnusableGPU State = "unusable_gpu"
	StateXID         State = "xid"
	// StateEngineAsleep is an engine in sleep mode holding its GPUs: idle
	// capacity, named apart from idle because waking it is the remedy.
	StateEngineAsleep State = "engine_asleep"
	StateIdle         State = "idle"
	StateKVSaturated  State = "kv_saturated"
	// StateKVTransferBound is a disaggregated worker waiting on KV
	// transfers (slow, failing or expiring), not on compute.
	StateKVTransferBound State = "kv_transfer_bound"
	// StatePDImbalance is a prefill or decode pool queueing while the
	// other role's pool of the model idles: the ratio is wrong.
	StatePDImbalance    State = "pd_imbalance"
	StatePoorSpecDecode State = "poor_spec_decode"
	StateHostBound      State = "host_bound"
	// StateGatewayBacklog: requests wait in an inference gateway's queue
	// (no engine has seen them) while the engines are busy.
	StateGatewayBacklog State = "gateway_backlog"
	StateBacklog        State = "backlog"
	StateTTFTRegression State = "ttft_regression"
	StateMemoryBound    State = "memory_bound"
	// Queue states (detect_kueue.go): what holds a ClusterQueue's work back.
	StateStrandedQuota      State = "stranded_quota"
	StateQuotaStarved       State = "quota_starved"
	StateAdmittedNotRunning State = "admitted_not_running"
	// StateConsolidate is a model-level state: GPUs could be freed.
	StateConsolidate State = "consolidate"
	StateHealthy     State = "healthy"
)

// States lists the states in order of precedence.
func States() []State {
	return []State{StateMissingLayer, StateUnusableGPU, StateXID, StateEngineAsleep, StateIdle, StateKVSaturated, StateKVTransferBound, StatePDImbalance, StatePoorSpecDecode,
		StateHostBound, StateGatewayBacklog, StateBacklog, StateTTFTRegression, StateMemoryBound, StateSLOBurn,
		StateStrandedQuota, StateQuotaStarved, StateAdmittedNotRunning, StateConsolidate, StateHealthy}
}

func (s State) rank() int {
	if i := slices.Index(States(), s); i >= 0 {
		return i
	}
	return len(States())
}

// Severity says how urgent a finding is.
type Severity string

// Severities, from least to most urgent.
const (
	SeverityInfo     Severity = "info"
	SeverityWarning  Severity = "warning"
	SeverityCritical Severity = "critical"
)

// Level is the kind of subject a finding is about.
type Level string

// Subject levels.
const (
	LevelPod   Level = "pod"
	LevelGPU   Level = "gpu"
	LevelModel Level = "model"
	LevelFleet Level = "fleet"
	// LevelQueue is a Kueue ClusterQueue.
	LevelQueue Level = "queue"
)

// Subject identifies what a finding is about; only the fields of its level
// are set.
type Subject struct {
	Level Level `json:"level"`
	// Cluster is the value of the cluster label (many clusters sending to
	// one backend); empty for series without it.
	Cluster   string `json:"cluster,omitempty"`
	Namespace string `json:"namespace,omitempty"`
	Pod       string `json:"pod,omitempty"`
	Instance  string `json:"instance,omitempty"`
	Model     string `json:"model,omitempty"`
	// Hostname and UUID identify a GPU; MIG is its GPU_I_ID, if any.
	Hostname string `json:"hostname,omitempty"`
	UUID     string `json:"uuid,omitempty"`
	MIG      string `json:"mig,omitempty"`
	// ClusterQueue identifies a Kueue ClusterQueue.
	ClusterQueue string `json:"cluster_queue,omitempty"`
}

// String renders the subject for tables and logs.
func (s Subject) String() string {
	switch s.Level {
	case LevelPod:
		return s.Namespace + "/" + s.Pod
	case LevelGPU:
		id := s.Hostname + "/" + s.UUID
		if s.MIG != "" {
			id += "/" + s.MIG
		}
		return id
	case LevelModel:
		return s.Model
	case LevelQueue:
		return "queue/" + s.ClusterQueue
	}
	return string(s.Level)
}

// Evidence is one signal value behind a finding and the query it came from.
type Evidence struct {
	Signal string  `json:"signal"`
	Value  float64 `json:"value"`
	// Stat says how Value summarises the window: mean, max, min, last,
	// share (of steps meeting the condition), baseline, increase (of a
	// counter) or reported (an XID code seen).
	Stat  string `json:"stat"`
	Query string `json:"query,omitempty"`
	// NotReported is set when the signal had no value (Value is then
	// meaningless and written as null): absent is not zero.
	NotReported bool `json:"not_reported,omitempty"`
}

// Finding is one diagnosis: a subject, what is wrong, how sure, since when,
// the evidence and what to do.
type Finding struct {
	Subject  Subject  `json:"subject"`
	State    State    `json:"state"`
	Severity Severity `json:"severity"`
	// Confidence is in [0, 1]: lower when data is partial, when the GPU
	// profiling counters are absent or when a pod's GPUs disagree.
	Confidence float64 `json:"confidence"`
	// Since is the start of the trailing run of steps in which the
	// condition held (at most the window's start).
	Since    time.Time  `json:"since"`
	Summary  string     `json:"summary"`
	Evidence []Evidence `json:"evidence"`
	Action   string     `json:"action"`
	// Caveats say what lowered the confidence.
	Caveats []string `json:"caveats,omitempty"`
	// GPUs is how many GPUs an action would add (positive) or free
	// (negative), where the finding says.
	GPUs int `json:"gpus,omitempty"`
	// GPUHours is the GPU-hours at stake over the window: the GPUs the
	// subject holds (or the finding would add or free) × the window.
	GPUHours float64 `json:"gpu_hours_at_stake"`
	// queueGPUs are the GPUs a queue finding concerns (idle quota,
	// nominal quota, or GPUs held while not running), set by its detector.
	queueGPUs int
}

// sortFindings orders findings by impact: severity (critical first,
// healthy last), then GPU-hours at stake, then subject and precedence.
func sortFindings(fs []Finding) {
	slices.SortStableFunc(fs, func(a, b Finding) int {
		return stdcmp.Or(severityRank(a)-severityRank(b), stdcmp.Compare(b.GPUHours, a.GPUHours),
			levelRank(a.Subject.Level)-levelRank(b.Subject.Level), strings.Compare(a.Subject.String(), b.Subject.String()),
			a.State.rank()-b.State.rank())
	})
}

// severityRank is 0 for critical, 1 warning, 2 info, 3 healthy.
func severityRank(f Finding) int {
	if f.State == StateHealthy {
		return 3
	}
	switch f.Severity {
	case SeverityCritical:
		return 0
	case SeverityWarning:
		return 1
	}
	return 2
}

func levelRank(l Level) int {
	return slices.Index([]Level{LevelFleet, LevelModel, LevelQueue, LevelPod, LevelGPU}, l)
}

// stakes sets each finding's GPU-hours at stake: the GPUs its subject
// holds (a pod its GPUs, a GPU itself, a model the GPUs the finding would
// add or free, else those it holds, the fleet every GPU) × the window.
func stakes(s *Snapshot, r *Report) {
	h := s.Window.End.Sub(s.Window.Start).Hours()
	pods := map[string]int{}
	for _, p := range s.Pods {
		pods[p.Cluster+"\xff"+p.Subject().String()] = len(p.GPUs)
	}
	held := map[string]int{}
	for _, m := range r.Models {
		held[m.Cluster+"\xff"+m.Model] += m.GPUs
	}
	for i := range r.Findings {
		f := &r.Findings[i]
		var n int
		switch f.Subject.Level {
		case LevelPod:
			n = pods[f.Subject.Cluster+"\xff"+f.Subject.String()]
		case LevelGPU:
			n = 1
		case LevelModel:
			n = held[f.Subject.Cluster+"\xff"+f.Subject.Model]
			if f.GPUs != 0 {
				n = max(f.GPUs, -f.GPUs)
			}
		case LevelFleet:
			n = len(s.GPUs)
		case LevelQueue:
			n = f.queueGPUs
		}
		f.GPUHours = round(float64(n) * h)
	}
}
