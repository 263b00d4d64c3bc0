package sim

import (
	"fmt"
	"math"
	"slices"
	"time"
)

// maxRate bounds a replica's offered load, so that a typo cannot make the
// simulator queue billions of requests.
const maxRate = 10_000

// plan is a scenario sized to a number of GPUs.
type plan struct {
	flavors  map[string]*flavorPlan
	gpus     int                       // physical GPUs: every pool holds whole nodes, at least one
	replicas []int                     // per deployment
	jobs     []jobPlan                 // per job stream
	events   []eventPlan               // per event
	nominal  map[string]map[string]int // team → flavor → units
	borrow   map[string]map[string]int // team → flavor → units (may borrow)
}

type flavorPlan struct {
	pool     NodePool
	spec     gpuSpec // per allocatable unit (a MIG slice on MIG pools)
	card     gpuSpec // the physical card
	nodes    int
	gpus     int     // physical GPUs
	perGPU   int     // units per physical GPU (MIG instances, else 1)
	weight   float64 // share of a card one unit is: 1, or the MIG profile's compute slices over the card's (3g on A100: 3/7)
	units    int     // allocatable units
	resource string
}

// jobPlan is a job stream sized to the fleet.
type jobPlan struct{ gpus, burst int }

// eventPlan is an event with its node range sized to the fleet.
type eventPlan struct {
	Event
	node, nodes int
}

// sizeEvent scales an exporter event's node range by scale, the fleet's
// node count over its count in the scenario as written, so that the same
// share of the nodes loses its exporter at any size (at least one node).
// An XID stays on the GPU it names.
func sizeEvent(e Event, scale float64) eventPlan {
	if (e.Kind != EventExporterDown && e.Kind != EventExporterUp) || scale == 1 {
		return eventPlan{Event: e, node: e.Node, nodes: e.Nodes}
	}
	return eventPlan{Event: e, node: int(float64(e.Node) * scale), nodes: max(1, int(math.Round(float64(e.Nodes)*scale)))}
}

// sizeJob scales a job stream by scale, its flavor's size over its size in
// the scenario as written: a burst asks for the same share of the flavor
// at any size, as more jobs on a larger fleet and as smaller jobs on a
// smaller one (sized to divide a node's perNode units, so that they pack
// onto nodes as the written ones do; down to one unit each, then fewer).
func sizeJob(j JobSpec, scale float64, perNode int) jobPlan {
	demand := float64(j.Burst*j.GPUs) * scale
	gpus := j.GPUs
	if scale < 1 {
		want := max(1, int(math.Round(float64(j.GPUs)*scale)))
		gpus = 1
		for d := want; d > 1; d-- {
			if perNode%d == 0 {
				gpus = d
				break
			}
		}
	}
	return jobPlan{gpus: gpus, burst: max(1, int(math.Round(demand/float64(gpus))))}
}

// poolNodes is how many nodes a pool has in a fleet of total GPUs.
func poolNodes(np NodePool, total int) int {
	return max(1, int(math.Round(np.Share*float64(total)/float64(np.GPUsPerNode))))
}

// unitsPerNode is the allocatable count of one node.
func (f *flavorPlan) unitsPerNode() int { return f.pool.GPUsPerNode * f.perGPU }

// size turns shares into counts for a fleet of total GPUs.
func (s *Scenario) size(total int) (*plan, []any, string) {
	p := &plan{flavors: map[string]*flavorPlan{}, nominal: map[string]map[string]int{}, borrow: map[string]map[string]int{}}
	for i, np := range s.Nodes {
		card, err := lookupGPU(np.GPU)
		if err != nil {
			return nil, []any{"nodes", i, "gpu"}, err.Error()
		}
		f := &flavorPlan{pool: np, spec: card, card: card, perGPU: 1, weight: 1, resource: "nvidia.com/gpu"}
		if np.MIG != "" {
			slice, per, share, err := card.migSlice(np.MIG)
			if err != nil {
				return nil, []any{"nodes", i, "mig"}, err.Error()
			}
			f.spec, f.perGPU, f.weight, f.resource = slice, per, share, "nvidia.com/mig-"+np.MIG
		}
		f.nodes = poolNodes(np, total)
		f.gpus = f.nodes * np.GPUsPerNode
		f.units = f.gpus * f.perGPU
		p.flavors[np.Flavor] = f
		p.gpus += f.gpus
	}
	fleetNodes, writtenNodes := 0, 0
	for _, np := range s.Nodes {
		fleetNodes += poolNodes(np, total)
		writtenNodes += poolNodes(np, s.GPUs)
	}
	for _, e := range s.Events {
		p.events = append(p.events, sizeEvent(e, float64(fleetNodes)/float64(writtenNodes)))
	}
	for _, t := range s.Teams {
		p.nominal[t.Name], p.borrow[t.Name] = map[string]int{}, map[string]int{}
		for fl, q := range t.Quota {
			if f := p.flavors[fl]; f != nil {
				p.nominal[t.Name][fl] = int(math.Round(q * float64(f.units)))
			}
		}
	}
	for _, t := range s.Teams {
		for fl, f := range p.flavors {
			lendable := 0
			if t.Cohort != "" {
				for _, o := range s.Teams {
					if o.Name != t.Name && o.Cohort == t.Cohort {
						lendable += p.nominal[o.Name][fl]
					}
				}
			}
			if lim, ok := t.BorrowingLimit[fl]; ok {
				lendable = min(lendable, int(math.Round(lim*float64(f.units))))
			}
			p.borrow[t.Name][fl] = lendable
		}
	}
	for _, d := range s.Deployments {
		units := 0
		if f := p.flavors[d.Flavor]; f != nil {
			units = f.units
		}
		p.replicas = append(p.replicas, max(1, int(math.Round(d.Share*float64(units)/float64(d.TP*d.DP)))))
	}
	for _, j := range s.Jobs {
		scale, perNode := 1.0, j.GPUs
		for _, np := range s.Nodes {
			if np.Flavor == j.Flavor {
				scale = float64(poolNodes(np, total)) / float64(poolNodes(np, s.GPUs))
				perNode = p.flavors[np.Flavor].unitsPerNode()
			}
		}
		p.jobs = append(p.jobs, sizeJob(j, scale, perNode))
	}
	return p, nil, ""
}

// validate checks the scenario at its default size and returns the path of
// the offending node and the reason, or an empty reason.
func (s *Scenario) validate() ([]any, string) {
	if s.Name == "" {
		return []any{"name"}, "name is required"
	}
	if s.GPUs < 1 || s.GPUs > MaxGPUs {
		return []any{"gpus"}, fmt.Sprintf("gpus must be in 1..%d, got %d", MaxGPUs, s.GPUs)
	}
	if len(s.Nodes) == 0 {
		return []any{"nodes"}, "at least one node pool is required"
	}
	if p, r := s.validateNodes(); r != "" {
		return p, r
	}
	switch s.Exporter.HostnameLabel {
	case "Hostname", "hostname":
	default:
		return []any{"exporter", "hostname_label"}, fmt.Sprintf("hostname_label must be Hostname or hostname, got %q", s.Exporter.HostnameLabel)
	}
	if p, r := s.validateKueue(); r != "" {
		return p, r
	}
	if p, r := s.validateTeams(); r != "" {
		return p, r
	}
	if p, r := s.validateDeployments(); r != "" {
		return p, r
	}
	if p, r := s.validateJobsEvents(); r != "" {
		return p, r
	}
	pl, p, r := s.size(s.GPUs)
	if r != "" {
		return p, r
	}
	return s.checkQuotas(pl)
}

func (s *Scenario) validateNodes() ([]any, string) {
	seen := map[string]bool{}
	sum := 0.0
	for i, n := range s.Nodes {
		at := func(k string) []any { return []any{"nodes", i, k} }
		if n.Flavor == "" {
			return at("flavor"), "flavor is required"
		}
		if seen[n.Flavor] {
			return at("flavor"), fmt.Sprintf("duplicate flavor %q", n.Flavor)
		}
		seen[n.Flavor] = true
		if _, err := lookupGPU(n.GPU); err != nil {
			return at("gpu"), err.Error()
		}
		if n.Share <= 0 || n.Share > 1 || math.IsNaN(n.Share) {
			return at("share"), fmt.Sprintf("share must be in (0, 1], got %g", n.Share)
		}
		if n.GPUsPerNode < 1 || n.GPUsPerNode > 16 {
			return at("gpus_per_node"), fmt.Sprintf("gpus_per_node must be in 1..16, got %d", n.GPUsPerNode)
		}
		sum += n.Share
	}
	if sum > 1+1e-9 {
		return []any{"nodes"}, fmt.Sprintf("node pool shares add up to %g, more than 1", sum)
	}
	return nil, ""
}

func (s *Scenario) validateTeams() ([]any, string) {
	seen := map[string]bool{}
	for i, t := range s.Teams {
		if t.Name == "" {
			return []any{"teams", i}, "team name is required"
		}
		if seen[t.Name] {
			return []any{"teams", i, "name"}, fmt.Sprintf("duplicate team %q", t.Name)
		}
		seen[t.Name] = true
		for _, kind := range []string{"quota", "borrowing_limit", "lending_limit"} {
			m := map[string]map[string]float64{"quota": t.Quota, "borrowing_limit": t.BorrowingLimit, "lending_limit": t.LendingLimit}[kind]
			for _, fl := range sortedKeys(m) {
				if !s.hasFlavor(fl) {
					return []any{"teams", i, kind, fl}, fmt.Sprintf("team %q: unknown flavor %q", t.Name, fl)
				}
				if v := m[fl]; v < 0 || v > 1 || math.IsNaN(v) {
					return []any{"teams", i, kind, fl}, fmt.Sprintf("team %q: %s for %q must be a share in [0, 1], got %g", t.Name, kind, fl, v)
				}
			}
		}
	}
	return nil, ""
}

func (s *Scenario) validateDeployments() ([]any, string) {
	seen := map[string]bool{}
	for i, d := range s.Deployments {
		at := func(k ...any) []any { return append([]any{"deployments", i}, k...) }
		switch {
		case d.Name == "":
			return at(), "deployment name is required"
		case seen[d.Name]:
			return at("name"), fmt.Sprintf("duplicate deployment %q", d.Name)
		case !s.hasTeam(d.Team):
			return at("team"), fmt.Sprintf("deployment %q: unknown team %q", d.Name, d.Team)
		case !s.hasFlavor(d.Flavor):
			return at("flavor"), fmt.Sprintf("deployment %q: unknown flavor %q", d.Name, d.Flavor)
		case d.TP < 1 || d.TP > 16:
			return at("tp"), fmt.Sprintf("tp must be in 1..16, got %d", d.TP)
		case d.DP < 1 || d.DP > 16:
			return at("dp"), fmt.Sprintf("dp must be in 1..16, got %d", d.DP)
		case d.Share <= 0 || d.Share > 1 || math.IsNaN(d.Share):
			return at("share"), fmt.Sprintf("share must be in (0, 1], got %g", d.Share)
		case d.MaxNumSeqs < 1:
			return at("max_num_seqs"), fmt.Sprintf("max_num_seqs must be positive, got %d", d.MaxNumSeqs)
		case d.MaxNumBatchedTokens < d.MaxNumSeqs:
			return at("max_num_batched_tokens"), fmt.Sprintf("max_num_batched_tokens (%d) must be at least max_num_seqs (%d)", d.MaxNumBatchedTokens, d.MaxNumSeqs)
		case d.GPUMemoryUtilization <= 0 || d.GPUMemoryUtilization > 1:
			return at("gpu_memory_utilization"), fmt.Sprintf("gpu_memory_utilization must be in (0, 1], got %g", d.GPUMemoryUtilization)
		case d.CPUOverhead < 0:
			return at("cpu_overhead"), "cpu_overhead must not be negative"
		}
		seen[d.Name] = true
		switch d.Engine {
		case EngineVLLM, EngineVLLM010, EngineVLLMV0, EngineSGLang, EngineLlamaCpp:
		default:
			return at("engine"), fmt.Sprintf("unknown engine %q (vllm, vllm-0.10, vllm-v0, sglang, llamacpp)", d.Engine)
		}
		m, err := lookupModel(d.Model)
		if err != nil {
			return at("model"), err.Error()
		}
		if sd := d.SpecDecode; sd != nil {
			if sd.NumTokens < 1 || sd.NumTokens > 10 {
				return at("spec_decode", "num_tokens"), fmt.Sprintf("num_tokens must be in 1..10, got %d", sd.NumTokens)
			}
			if sd.Acceptance < 0 || sd.Acceptance > 1 || math.IsNaN(sd.Acceptance) {
				return at("spec_decode", "acceptance"), fmt.Sprintf("acceptance must be in [0, 1], got %g", sd.Acceptance)
			}
		}
		if p, r := validateLoad(d.Load, at("load")); r != "" {
			return p, r
		}
		if p, r := s.validatePD(i, d); r != "" {
			return p, r
		}
		if p, r := validateGateway(d.Gateway, at); r != "" {
			return p, r
		}
		pl, p, r := s.size(s.GPUs)
		if r != "" {
			return p, r
		}
		f := pl.flavors[d.Flavor]
		if kv := kvCapacityTokens(f.spec, m, d.TP, d.GPUMemoryUtilization); kv < 1024 {
			return at("model"), fmt.Sprintf("deployment %q: %s (%.0f GB) does not fit %d × %s at gpu_memory_utilization %g", d.Name, d.Model, m.weightBytes/1e9, d.TP, f.spec.key, d.GPUMemoryUtilization)
		}
	}
	return nil, ""
}

func validateLoad(l Load, at []any) ([]any, string) {
	in := func(k ...any) []any { return append(append([]any{}, at...), k...) }
	switch {
	case l.Rate < 0 || math.IsNaN(l.Rate):
		return in("rate"), fmt.Sprintf("rate must not be negative, got %g", l.Rate)
	case l.Rate > maxRate:
		return in("rate"), fmt.Sprintf("rate must be at most %d requests/s per replica, got %g", maxRate, l.Rate)
	case l.Diurnal < 0 || l.Diurnal > 1:
		return in("diurnal"), fmt.Sprintf("diurnal must be in [0, 1], got %g", l.Diurnal)
	case !(l.PromptTokens.Mean >= 1 && l.PromptTokens.Mean <= 1e6):
		return in("prompt_tokens", "mean"), fmt.Sprintf("prompt_tokens.mean must be in [1, 1e6], got %g", l.PromptTokens.Mean)
	case !(l.OutputTokens.Mean >= 1 && l.OutputTokens.Mean <= 1e6):
		return in("output_tokens", "mean"), fmt.Sprintf("output_tokens.mean must be in [1, 1e6], got %g", l.OutputTokens.Mean)
	case !(l.PromptTokens.Spread >= 0 && l.PromptTokens.Spread <= 3):
		return in("prompt_tokens", "spread"), fmt.Sprintf("spread must be in [0, 3], got %g", l.PromptTokens.Spread)
	case !(l.OutputTokens.Spread >= 0 && l.OutputTokens.Spread <= 3):
		return in("output_tokens", "spread"), fmt.Sprintf("spread must be in [0, 3], got %g", l.OutputTokens.Spread)
	}
	for j, b := range l.Bursts {
		if !(b.Factor >= 0 && b.Factor <= 1000) {
			return in("bursts", j, "factor"), fmt.Sprintf("burst factor must be in [0, 1000], got %g", b.Factor)
		}
		if b.For <= 0 || b.At < 0 || b.Every < 0 {
			return in("bursts", j), "burst needs at >= 0, for > 0 and every >= 0"
		}
	}
	return nil, ""
}

func (s *Scenario) validateJobsEvents() ([]any, string) {
	for i, j := range s.Jobs {
		at := func(k string) []any { return []any{"jobs", i, k} }
		switch {
		case j.Name == "":
			return []any{"jobs", i}, "job name is required"
		case !s.hasTeam(j.Team):
			return at("team"), fmt.Sprintf("job %q: unknown team %q", j.Name, j.Team)
		case !s.hasFlavor(j.Flavor):
			return at("flavor"), fmt.Sprintf("job %q: unknown flavor %q", j.Name, j.Flavor)
		case j.GPUs < 1:
			return at("gpus"), fmt.Sprintf("gpus must be positive, got %d", j.GPUs)
		case j.Every < Duration(time.Second):
			return at("every"), "every must be at least 1s"
		case j.Runtime < Duration(time.Second):
			return at("runtime"), "runtime must be at least 1s"
		case j.Burst < 1 || j.Burst > 1000:
			return at("burst"), fmt.Sprintf("burst must be in 1..1000, got %d", j.Burst)
		case j.Busy < 0 || j.Busy > 1:
			return at("busy"), fmt.Sprintf("busy must be in [0, 1], got %g", j.Busy)
		}
	}
	for i, e := range s.Events {
		at := func(k string) []any { return []any{"events", i, k} }
		switch e.Kind {
		case EventXID, EventGPUFailure, EventExporterDown, EventExporterUp:
			switch {
			case e.Deployment != "":
				return at("deployment"), fmt.Sprintf("deployment applies to relabel events, not %s", e.Kind)
			case e.Job != "":
				return at("job"), fmt.Sprintf("job applies to relabel events, not %s", e.Kind)
			case e.Pods != 0:
				return at("pods"), fmt.Sprintf("pods applies to relabel events, not %s", e.Kind)
			case e.Label != "":
				return at("label"), fmt.Sprintf("label applies to relabel events, not %s", e.Kind)
			case e.Value != "":
				return at("value"), fmt.Sprintf("value applies to relabel events, not %s", e.Kind)
			}
		case EventRelabel:
			if p, r := s.validateRelabel(e, i); r != "" {
				return p, r
			}
		case EventSleep, EventWake:
			if p, r := s.validateSleep(e, i); r != "" {
				return p, r
			}
		default:
			return at("kind"), fmt.Sprintf("unknown event kind %q (xid, gpu_failure, exporter_down, exporter_up, relabel, sleep, wake)", e.Kind)
		}
		if e.At < 0 || e.Node < 0 || e.GPU < 0 || (!podEvent(e.Kind) && e.Nodes < 1) {
			return []any{"events", i}, "event needs at >= 0, node >= 0, gpu >= 0 and nodes >= 1"
		}
		if i > 0 && e.At < s.Events[i-1].At {
			return at("at"), fmt.Sprintf("events must be in time order: %s comes after %s", e.At.D(), s.Events[i-1].At.D())
		}
	}
	return nil, ""
}

// validateRelabel checks a relabel event: one selector naming a deployment
// or job stream, the team label, a known team, and none of the node fields.
func (s *Scenario) validateRelabel(e Event, i int) ([]any, string) {
	at := func(k string) []any { return []any{"events", i, k} }
	switch {
	case e.Deployment == "" && e.Job == "":
		return []any{"events", i}, "relabel needs deployment or job"
	case e.Deployment != "" && e.Job != "":
		return at("job"), "relabel takes deployment or job, not both"
	case e.Deployment != "" && !s.hasDeployment(e.Deployment):
		return at("deployment"), fmt.Sprintf("relabel: unknown deployment %q", e.Deployment)
	case e.Job != "" && !s.hasJob(e.Job):
		return at("job"), fmt.Sprintf("relabel: unknown job %q", e.Job)
	case e.Pods < 0:
		return at("pods"), fmt.Sprintf("pods must not be negative, got %d", e.Pods)
	case e.Label != "team":
		return at("label"), fmt.Sprintf("relabel: label %q is not supported (team)", e.Label)
	case e.Value == "":
		return []any{"events", i}, "relabel needs value, the new team"
	case !s.hasTeam(e.Value):
		return at("value"), fmt.Sprintf("relabel: unknown team %q", e.Value)
	case e.Node != 0:
		return at("node"), "node applies to node events, not relabel"
	case e.Nodes != 0:
		return at("nodes"), "nodes applies to node events, not relabel"
	case e.GPU != 0:
		return at("gpu"), "gpu applies to xid events, not relabel"
	case e.XID != 0:
		return at("xid"), "xid applies to xid events, not relabel"
	}
	return nil, ""
}

// checkQuotas refuses quotas that cannot hold the workloads: each team's
// deployments and largest job on a flavor must fit its nominal quota plus
// what it may borrow in its cohort, and the deployments must fit the flavor.
func (s *Scenario) checkQuotas(pl *plan) ([]any, string) {
	need := map[string]map[string]int{}
	onFlavor := map[string]int{}
	for i, d := range s.Deployments {
		if need[d.Team] == nil {
			need[d.Team] = map[string]int{}
		}
		g := pl.replicas[i] * d.TP * d.DP
		need[d.Team][d.Flavor] += g
		onFlavor[d.Flavor] += g
		if f := pl.flavors[d.Flavor]; d.TP*d.DP > f.unitsPerNode() {
			return []any{"deployments", i, "tp"}, fmt.Sprintf("deployment %q: a replica needs %d GPUs but a %s node has %d", d.Name, d.TP*d.DP, d.Flavor, f.unitsPerNode())
		}
	}
	for _, fl := range sortedKeys(onFlavor) {
		if f := pl.flavors[fl]; onFlavor[fl] > f.units {
			return []any{"nodes"}, fmt.Sprintf("deployments need %d %s units but the flavor has %d at %d GPUs", onFlavor[fl], fl, f.units, s.GPUs)
		}
	}
	for i, t := range s.Teams {
		for _, fl := range sortedKeys(need[t.Name]) {
			capacity := pl.nominal[t.Name][fl] + pl.borrow[t.Name][fl]
			if n := need[t.Name][fl]; n > capacity {
				return []any{"teams", i, "quota", fl}, fmt.Sprintf("quota of team %q on flavor %q (%d nominal + %d borrowable) cannot hold its deployments (%d GPUs at %d GPUs)", t.Name, fl, pl.nominal[t.Name][fl], pl.borrow[t.Name][fl], n, s.GPUs)
			}
		}
	}
	for i, j := range s.Jobs {
		capacity := pl.nominal[j.Team][j.Flavor] + pl.borrow[j.Team][j.Flavor]
		gpus := pl.jobs[i].gpus
		if gpus > capacity {
			return []any{"jobs", i, "gpus"}, fmt.Sprintf("job %q needs %d GPUs but team %q can hold at most %d on %q", j.Name, gpus, j.Team, capacity, j.Flavor)
		}
		if f := pl.flavors[j.Flavor]; gpus > f.unitsPerNode() {
			return []any{"jobs", i, "gpus"}, fmt.Sprintf("job %q needs %d GPUs but a %s node has %d", j.Name, gpus, j.Flavor, f.unitsPerNode())
		}
	}
	return nil, ""
}

func (s *Scenario) hasTeam(name string) bool {
	for _, t := range s.Teams {
		if t.Name == name {
			return true
		}
	}
	return false
}

func (s *Scenario) hasDeployment(name string) bool {
	for _, d := range s.Deployments {
		if d.Name == name {
			return true
		}
	}
	return false
}

func (s *Scenario) hasJob(name string) bool {
	for _, j := range s.Jobs {
		if j.Name == name {
			return true
		}
	}
	return false
}

func (s *Scenario) hasFlavor(name string) bool {
	for _, n := range s.Nodes {
		if n.Flavor == name {
			return true
		}
	}
	return false
}

func sortedKeys[K ~string, V any](m map[K]V) []K {
	ks := make([]K, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}
