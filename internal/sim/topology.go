package sim

import (
	"fmt"
	"math"
	"strings"
)

const (
	phaseRunning   = "Running"
	phaseSucceeded = "Succeeded"
	xidWindow      = 600.0 // seconds an XID keeps its GPU's pod down
	podLinger      = 300.0 // seconds a finished job pod stays (kube-state-metrics keeps reporting it)
)

// node is one Kubernetes node with its GPUs (or MIG instances).
type node struct {
	index        int
	name, ip     string
	flavor       string
	fp           *flavorPlan
	units        []*gpu
	exporterDown bool
	exporterPod  string
}

// gpu is one allocatable GPU unit: a whole card, or one MIG instance.
type gpu struct {
	node     *node
	index    int // physical GPU index on the node (dcgm "gpu")
	migID    int // GPU_I_ID, -1 for a whole card
	uuid     string
	pci      string
	spec     gpuSpec
	pod      *pod
	act      activity
	temp     float64
	energyMJ float64 // true energy since the start
	// counterBaseMJ is energyMJ when dcgm-exporter last (re)started: the
	// rendered energy counter is energyMJ − counterBaseMJ, so an exporter
	// restart resets it to zero.
	counterBaseMJ float64
	power         float64
	xid           int
	xidAt         float64
	health        gpuHealth
}

// team is a tenant: namespace, LocalQueue and ClusterQueue.
type team struct {
	spec    Team
	name    string
	ns      string
	cq, lq  string
	nominal map[string]int
	borrow  map[string]int
	usage   map[string]int // admitted units per flavor
	minute  teamMinute
	kq      *queueCounters // ClusterQueue counters
	lqc     *queueCounters // LocalQueue counters
	// qticks counts the queue's states over the current minute; qtruth
	// holds its closed minutes (kueue_truth.go).
	qticks map[State]int
	qtruth []QueueMinute
	// longWaitAt is when the queue last admitted a workload that had
	// waited at least truthWaitSeconds (-Inf: never).
	longWaitAt float64
	// slowReadyAt is when a workload of the queue last became ready after
	// a slow startup; waitingSince when its work began to wait without a
	// break (+Inf: none waits).
	slowReadyAt, waitingSince float64
}

// deployment is a serving deployment.
type deployment struct {
	spec      Deployment
	team      *team
	cfg       *engineConfig
	replicas  int
	workloads []*workload
	rs        string // ReplicaSet hash
	offered   float64
	dropped   float64
	minOffer  float64
	// Disaggregation: a prefill deployment's finished prefills (outbox),
	// handed to the decode deployment whose src it is; rr spreads them.
	outbox []handoff
	src    *deployment
	rr     int
}

// jobStream submits batch jobs.
type jobStream struct {
	js          JobSpec
	gpus, burst int // sized to the fleet (plan.jobs)
	team        *team
	next        float64
	seq         int
}

// workload is a Kueue Workload: one serving replica or one batch job.
type workload struct {
	name      string
	team      *team
	flavor    string
	units     int
	priority  int
	created   float64
	admitted  bool
	borrowing bool
	// admittedAt is when the workload was last admitted; ready says its
	// pods are ready (after the job's startup).
	admittedAt float64
	ready      bool
	dep        *deployment
	job        *jobStream
	runLeft    float64
	pod        *pod
	finished   bool
}

// pod is a running (or lingering finished) pod holding GPU units.
type pod struct {
	name, ns, uid, ip string
	team              *team
	node              *node
	units             []*gpu
	wl                *workload
	dep               *deployment
	job               *jobStream
	engines           []*engine
	phase             string
	created           float64
	ended             float64
	container         string
	relabel           *team // the team a relabel event put in the pod's team label
	asleep            bool  // a sleep event put its engines to sleep (sleep mode)
}

// labelTeam is the team the pod's team label names: its workload's team
// unless a relabel event changed the label (the namespace and the Kueue
// queue stay the workload's).
//
//go:norace
func (p *pod) labelTeam() *team {
	if p.relabel != nil {
		return p.relabel
	}
	return p.team
}

// stalled reports whether one of the pod's GPUs hit an XID recently or
// has failed.
//
//go:norace
func (p *pod) stalled(t float64) bool {
	for _, g := range p.units {
		if g.xid != 0 && t-g.xidAt < xidWindow {
			return true
		}
	}
	return p.unusable(t)
}

// build lays out nodes, GPUs, teams, deployments and job streams.
func (c *Cluster) build() error {
	for _, np := range c.sc.Nodes {
		fp := c.plan.flavors[np.Flavor]
		for i := 0; i < fp.nodes; i++ {
			n := &node{index: len(c.nodes), flavor: np.Flavor, fp: fp}
			n.name = fmt.Sprintf("gpu-%s-%03d", np.Flavor, i)
			n.ip = fmt.Sprintf("10.0.%d.%d", n.index/250, n.index%250+10)
			n.exporterPod = "nvidia-dcgm-exporter-" + c.token(5)
			for g := 0; g < np.GPUsPerNode; g++ {
				uuid := c.uuid("GPU-")
				pci := fmt.Sprintf("00000000:%02X:00.0", 0x18+g*0x11)
				for m := 0; m < fp.perGPU; m++ {
					u := &gpu{node: n, index: g, migID: -1, uuid: uuid, pci: pci, spec: fp.spec, temp: 30}
					if np.MIG != "" {
						u.migID = m + 1
					}
					n.units = append(n.units, u)
				}
			}
			c.nodes = append(c.nodes, n)
			c.nodeIdx[n.name] = n
		}
	}
	for _, t := range c.sc.Teams {
		tm := &team{spec: t, name: t.Name, ns: t.Namespace, cq: t.Name, lq: t.Name + "-queue",
			nominal: c.plan.nominal[t.Name], borrow: c.plan.borrow[t.Name], usage: map[string]int{},
			kq: newQueueCounters(), lqc: newQueueCounters(), longWaitAt: math.Inf(-1), slowReadyAt: math.Inf(-1), waitingSince: math.Inf(1)}
		c.teams = append(c.teams, tm)
	}
	for i, d := range c.sc.Deployments {
		m, err := lookupModel(d.Model)
		if err != nil {
			return fmt.Errorf("deployment %q: %w", d.Name, err)
		}
		fp := c.plan.flavors[d.Flavor]
		cfg := &engineConfig{kind: d.Engine, model: m, gpu: fp.spec, tp: d.TP, maxNumSeqs: d.MaxNumSeqs,
			maxBatched: d.MaxNumBatchedTokens, cpuOverhead: d.CPUOverhead.D().Seconds(), spec: d.SpecDecode,
			load: d.Load, memUtil: d.GPUMemoryUtilization, role: d.Role, kv: d.KVTransfer}
		cfg.blocks = int(kvCapacityTokens(fp.spec, m, d.TP, d.GPUMemoryUtilization)) / blockTokens
		dep := &deployment{spec: d, team: c.team(d.Team), cfg: cfg, replicas: c.plan.replicas[i], rs: c.token(10)}
		if d.Gateway != nil {
			cfg.gw = newGateway(*d.Gateway, dep.team.name, gatewayPodName(d.Name, d.Gateway.Kind, c.token(10), c.token(5)),
				fmt.Sprintf("10.96.1.%d", 10+len(c.deps)), c.unix(c.now))
		}
		for r := 0; r < dep.replicas; r++ {
			w := &workload{team: dep.team, flavor: d.Flavor, units: d.TP * d.DP, priority: d.Priority, dep: dep}
			c.addWorkload(w)
			dep.workloads = append(dep.workloads, w)
		}
		c.deps = append(c.deps, dep)
	}
	c.linkPD()
	for i, j := range c.sc.Jobs {
		js := &jobStream{js: j, gpus: c.plan.jobs[i].gpus, burst: c.plan.jobs[i].burst, team: c.team(j.Team)}
		js.next = c.rng.ExpFloat64() * j.Every.D().Seconds() / 4 // the first comes early
		c.jobs = append(c.jobs, js)
	}
	return nil
}

func (c *Cluster) team(name string) *team {
	for _, t := range c.teams {
		if t.name == name {
			return t
		}
	}
	return nil
}

// addWorkload registers a pending workload.
func (c *Cluster) addWorkload(w *workload) {
	w.created = c.now
	kind := "pod"
	if w.job != nil {
		kind = "job"
	}
	w.name = fmt.Sprintf("%s-%s-%s", kind, c.token(8), c.token(5))
	c.workloads = append(c.workloads, w)
}

// token returns n characters of the Kubernetes name-suffix alphabet.
func (c *Cluster) token(n int) string {
	const alphabet = "bcdfghjklmnpqrstvwxz2456789"
	var b strings.Builder
	for range n {
		b.WriteByte(alphabet[c.rng.IntN(len(alphabet))])
	}
	return b.String()
}

// uuid returns a deterministic RFC 4122-shaped identifier.
func (c *Cluster) uuid(prefix string) string {
	a, b := c.rng.Uint64(), c.rng.Uint64()
	return fmt.Sprintf("%s%08x-%04x-%04x-%04x-%012x", prefix, a>>32, (a>>16)&0xffff, a&0xffff, b>>48, b&0xffffffffffff)
}

// startPod places an admitted workload on a node of its flavor with enough
// free units and starts its pod (and engines). It reports false when no
// node has room.
func (c *Cluster) startPod(w *workload) bool {
	for _, n := range c.nodes {
		if n.flavor != w.flavor {
			continue
		}
		var free []*gpu
		for _, g := range n.units {
			if g.pod == nil && !g.health.failed {
				free = append(free, g)
			}
		}
		if len(free) < w.units {
			continue
		}
		p := &pod{ns: w.team.ns, team: w.team, node: n, units: free[:w.units], wl: w, dep: w.dep, job: w.job,
			phase: phaseRunning, created: c.now, uid: c.uuid("")}
		c.serial++
		p.ip = fmt.Sprintf("10.%d.%d.%d", 64+n.index/250, n.index%250, c.serial%250+2)
		if w.dep != nil {
			p.name = fmt.Sprintf("%s-%s-%s", w.dep.spec.Name, w.dep.rs, c.token(5))
			p.container = containerName(w.dep.spec.Engine)
			for e := 0; e < w.dep.spec.DP; e++ {
				p.engines = append(p.engines, newEngine(w.dep.cfg, c.buckets, e, c.rng.Uint64(), c.unix(c.now)))
			}
		} else {
			w.job.seq++
			p.name = fmt.Sprintf("%s-%d-%s", w.job.js.Name, w.job.seq, c.token(5))
			p.container = "trainer"
		}
		for _, g := range p.units {
			g.pod = p
		}
		w.pod = p
		c.pods = append(c.pods, p)
		if p.dep != nil {
			c.podIdx[p.ns+"/"+p.name] = p
		}
		return true
	}
	return false
}

func containerName(engine string) string {
	switch engine {
	case EngineSGLang:
		return "sglang"
	case EngineLlamaCpp:
		return "llama-server"
	}
	return "vllm"
}

// stopPod releases a pod's GPUs; evicted serving pods vanish at once,
// finished job pods linger as Succeeded.
func (c *Cluster) stopPod(p *pod, t float64, finished bool) {
	for _, g := range p.units {
		g.pod = nil
		g.act = activity{}
	}
	p.wl.pod = nil
	p.ended = t
	delete(c.podIdx, p.ns+"/"+p.name)
	if finished {
		p.phase = phaseSucceeded
		return
	}
	c.removePod(p)
}

func (c *Cluster) removePod(p *pod) {
	for i, q := range c.pods {
		if q == p {
			c.pods = append(c.pods[:i], c.pods[i+1:]...)
			return
		}
	}
}

// reapPods deletes finished pods after they lingered.
//
//go:norace
func (c *Cluster) reapPods(t float64) {
	kept := c.pods[:0]
	for _, p := range c.pods {
		if p.phase == phaseSucceeded && t-p.ended > podLinger {
			continue
		}
		kept = append(kept, p)
	}
	clear(c.pods[len(kept):])
	c.pods = kept
}

// jobArrivals submits batch jobs whose time has come.
//
//go:norace
func (c *Cluster) jobArrivals(t, dt float64) {
	for _, j := range c.jobs {
		for j.next <= t+dt {
			for range j.burst {
				w := &workload{team: j.team, flavor: j.js.Flavor, units: j.gpus, priority: j.js.Priority, job: j, runLeft: j.js.Runtime.D().Seconds()}
				c.addWorkload(w)
			}
			j.next += c.rng.ExpFloat64() * j.js.Every.D().Seconds()
		}
	}
}

// applyEvents fires the scenario events due by t.
func (c *Cluster) applyEvents(t float64) {
	for c.nextEvent < len(c.plan.events) {
		ev := c.plan.events[c.nextEvent]
		if ev.At.D().Seconds() > t {
			return
		}
		c.nextEvent++
		if ev.Kind == EventRelabel {
			c.relabel(ev.Event)
			continue
		}
		if ev.Kind == EventSleep || ev.Kind == EventWake {
			c.sleep(ev.Event)
			continue
		}
		for k := 0; k < ev.nodes; k++ {
			idx := ev.node + k
			if idx >= len(c.nodes) {
				break
			}
			n := c.nodes[idx]
			switch ev.Kind {
			case EventExporterDown:
				n.exporterDown = true
			case EventExporterUp:
				n.exporterDown = false
				for _, g := range n.units {
					g.counterBaseMJ = g.energyMJ
				}
			case EventXID:
				for _, g := range n.units {
					if g.index == ev.GPU%len(n.units) {
						g.xid, g.xidAt = ev.XID, t
					}
				}
			case EventGPUFailure:
				for _, g := range n.units {
					if g.index == ev.GPU%len(n.units) {
						g.fail(ev.XID, t)
					}
				}
			}
			c.logger.Info("event", "kind", ev.Kind, "node", n.name)
		}
	}
}

// relabel sets the team label of the selected running pods, oldest first,
// as kubectl label --overwrite would on each pod.
func (c *Cluster) relabel(ev Event) {
	to := c.team(ev.Value)
	n := 0
	for _, p := range c.pods {
		if ev.Pods > 0 && n == ev.Pods {
			return
		}
		switch {
		case p.phase != phaseRunning:
			continue
		case ev.Deployment != "" && (p.dep == nil || p.dep.spec.Name != ev.Deployment):
			continue
		case ev.Job != "" && (p.job == nil || p.job.js.Name != ev.Job):
			continue
		}
		c.logger.Info("event", "kind", ev.Kind, "pod", p.ns+"/"+p.name, "label", ev.Label, "from", p.labelTeam().name, "to", to.name)
		p.relabel = to
		n++
	}
	if n == 0 {
		c.logger.Warn("relabel event matched no running pod", "deployment", ev.Deployment, "job", ev.Job)
	}
}

// physics updates power, energy and temperature from the tick's activity;
// approach is 1 - exp(-dt/60), the share of the way to the target
// temperature covered in dt.
//
//go:norace
func (g *gpu) physics(dt, approach float64) {
	a := g.act
	g.power = g.spec.idlePowerW + (g.spec.powerW-g.spec.idlePowerW)*(0.25*a.busy+0.45*a.tensor+0.3*a.dram)
	g.energyMJ += g.power * dt * 1000
	target := 28 + 52*g.power/g.spec.powerW
	g.temp += (target - g.temp) * approach
}

// fbUsedMiB is the framebuffer in use: vLLM preallocates
// gpu_memory_utilization of the card whatever the load.
//
//go:norace
func (g *gpu) fbUsedMiB() float64 {
	switch {
	case g.pod == nil || g.pod.phase != phaseRunning:
		return 0
	case g.pod.dep != nil:
		return math.Round(g.spec.memoryMiB*g.pod.dep.cfg.memUtil + 480)
	default:
		return math.Round(g.spec.memoryMiB * 0.72)
	}
}

// accountTeams integrates the true reserved, allocated and used GPU-hours
// per team and for the fleet. A MIG slice counts as its profile's share of
// the card (a 3g.40gb slice of an A100 is 3/7, as the price book charges).
// Reserved hours are the team's ClusterQueue quota; a pod's hours go to the
// team its team label names at the time (its workload's, unless relabelled).
//
//go:norace
func (c *Cluster) accountTeams(dt float64) {
	h := dt / 3600
	c.fleet.GPUHours += float64(c.gpus) * h
	for _, n := range c.nodes {
		for _, g := range n.units {
			c.fleet.EnergyKWh += g.power * dt / joulesPerKWh
			if g.pod == nil || g.pod.phase != phaseRunning {
				c.fleet.IdleEnergyKWh += g.power * dt / joulesPerKWh
			}
		}
	}
	for _, t := range c.teams {
		for fl, n := range t.nominal {
			t.minute.reserved += float64(n) * c.plan.flavors[fl].weight * h
		}
	}
	for _, p := range c.pods {
		if p.phase != phaseRunning {
			continue
		}
		for _, g := range p.units {
			share := g.node.fp.weight
			t := p.labelTeam()
			t.minute.energyJ += g.power * dt
			t.minute.alloc += share * h
			t.minute.used += share * g.act.busy * h
			c.fleet.AllocatedGPUHours += share * h
			c.fleet.UsedGPUHours += share * g.act.busy * h
		}
	}
}
