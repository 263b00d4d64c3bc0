package cost

import (
	"fmt"
	"math"
	"slices"
	"sort"
	"time"

	"github.com/prometheus/common/model"
)

// state is one set's attribution in progress. Everything is accumulated
// in GPU-points (GPUs × evaluation points, a short last point weighted by
// its share of a step) and turned into hours once, by toHours: one point
// is one step of time.
type state struct {
	c     *Calculator
	g     grid
	d     *data
	by    Aggregate
	nodes map[string]nodeInfo
	// flavorModel maps a Kueue flavor to the GPU model of its nodes.
	flavorModel    map[string]string
	podTeam, podCQ *labelAt[podKey]
	podLQ          *labelAt[podKey]
	nsTeam         *labelAt[string]
	// lqShares and cqShares, built only when that kind of Kueue usage is
	// charged, hold the Running pods' requests per queue, flavor and team
	// at each point: what a queue's usage is split by.
	lqShares, cqShares   shares
	lqCQ                 map[podKey]string         // (namespace, LocalQueue) → ClusterQueue
	cqTeamSeen           map[string]map[string]int // ClusterQueue → team → pod-points
	rows                 map[string]*acc
	covered              []bool
	podAlloc, capacities map[bucket]float64
	// physical is the physical GPUs at each point (capacityPoints).
	physical []physicalAt
	// idleEnergyJ is the energy of GPUs no pod held; gpuEnergy and
	// podEnergy the energy per GPU (hostname, uuid, GPU_I_ID) and pod.
	idleEnergyJ float64
	gpuEnergy   map[[3]string]*GPUEnergy
	podEnergy   []PodEnergy
	// podHours is each pod's GPU-points and used GPU-points per team and
	// bucket, podGPU its GPU model: what its tokens cost (tokens.go).
	podHours map[podTeam]*[2]float64
	podGPU   map[podKey]string
}

// newState builds the topology: nodes, pod and namespace teams, queues.
func newState(c *Calculator, g grid, d *data, by Aggregate) *state {
	st := &state{c: c, g: g, d: d, by: by, nodes: map[string]nodeInfo{}, flavorModel: map[string]string{},
		podTeam: newLabelAt[podKey](), podCQ: newLabelAt[podKey](), podLQ: newLabelAt[podKey](), nsTeam: newLabelAt[string](),
		lqCQ: map[podKey]string{}, cqTeamSeen: map[string]map[string]int{}, rows: map[string]*acc{},
		covered: make([]bool, g.n), podAlloc: map[bucket]float64{}, capacities: map[bucket]float64{},
		gpuEnergy: map[[3]string]*GPUEnergy{}, podHours: map[podTeam]*[2]float64{}, podGPU: map[podKey]string{}}
	for _, s := range d.nodes {
		ni := nodeInfo{model: string(s.m["label_nvidia_com_gpu_product"]), flavor: string(s.m["label_kueue_flavor"])}
		st.nodes[string(s.m["node"])] = ni
		if ni.flavor != "" && ni.model != "" {
			st.flavorModel[ni.flavor] = ni.model
		}
	}
	for _, s := range d.podLabels {
		k := podOf(s.m)
		cq := string(s.m[model.LabelName(c.q.queueLabel)])
		st.podTeam.add(g.n, k, string(s.m[model.LabelName(c.q.teamLabel)]), s)
		st.podCQ.add(g.n, k, cq, s)
		lq := string(s.m[model.LabelName(c.q.lqLabel)])
		st.podLQ.add(g.n, k, lq, s)
		if lq != "" && cq != "" {
			st.lqCQ[podKey{k.ns, lq}] = cq
		}
	}
	switch {
	case len(d.lq) > 0:
		st.lqShares = shares{}
	case len(d.cq) > 0 && by != ByNamespace:
		st.cqShares = shares{}
	}
	for _, s := range d.nsTeam {
		st.nsTeam.add(g.n, string(s.m["namespace"]), string(s.m["team"]), s)
	}
	// Queue → team fallback: the teams of the pods each queue ran.
	for _, s := range d.podLabels {
		pv := st.view(podOf(s.m))
		for i, v := range s.v {
			if math.IsNaN(v) {
				continue
			}
			if cq := valueAt(pv.cq, i); cq != "" {
				if t := st.resolve(pv, i); t != "" {
					if st.cqTeamSeen[cq] == nil {
						st.cqTeamSeen[cq] = map[string]int{}
					}
					st.cqTeamSeen[cq][t]++
				}
			}
		}
	}
	return st
}

// podView is one pod's label values per point, looked up once per pod.
type podView struct{ team, nsTeam, cq, lq []string }

func (st *state) view(k podKey) podView {
	return podView{team: st.podTeam.vals[k], nsTeam: st.nsTeam.vals[k.ns], cq: st.podCQ.vals[k], lq: st.podLQ.vals[k]}
}

// resolve is a pod's team at point i: its pod label, else its namespace's
// label, else its ClusterQueue's team from config; "" when none says.
func (st *state) resolve(v podView, i int) string {
	if t := valueAt(v.team, i); t != "" {
		return t
	}
	if t := valueAt(v.nsTeam, i); t != "" {
		return t
	}
	return st.c.opts.QueueTeams[nearest(v.cq, i)]
}

// queueTeam is a ClusterQueue's team: config first, then the team most of
// its pods belonged to.
func (st *state) queueTeam(cq string) string {
	if t, ok := st.c.opts.QueueTeams[cq]; ok {
		return t
	}
	return mostCommon(st.cqTeamSeen[cq])
}

// row returns the accumulator of an allocation key.
func (st *state) row(a attrs) *acc {
	k := a.key(st.by)
	r := st.rows[k]
	if r == nil {
		r = newAcc()
		st.rows[k] = r
	}
	return r
}

// pods adds the GPU requests of Running pods and their GPUs' busy ratios.
// A pod's points are summed per run of equal attributes and added to the
// allocation once per run: map lookups per point would cost more than the
// rest of the attribution over a 30-day window.
func (st *state) pods() {
	type gpu struct {
		v []float64
		w float64
	}
	busy := map[podKey][]gpu{}
	for _, s := range st.d.busy {
		k := podOf(s.m)
		if st.c.unpod.MatchString(k.pod) {
			continue
		}
		busy[k] = append(busy[k], gpu{s.v, migWeight(string(s.m["GPU_I_PROFILE"]))})
	}
	type uidKey struct {
		podKey
		uid string
	}
	running := map[uidKey][]float64{}
	for _, s := range st.d.running {
		running[uidKey{podOf(s.m), string(s.m["uid"])}] = s.v
	}
	counted := map[podKey][]bool{}
	for _, s := range st.d.requests {
		k := podOf(s.m)
		run := running[uidKey{k, string(s.m["uid"])}]
		if run == nil {
			continue // never Running in the window: Pending, Succeeded or Failed
		}
		ni := st.nodes[string(s.m["node"])]
		b := bucket{flavor: ni.flavor, model: ni.model}
		w := migWeight(string(s.m["resource"]))
		gpus, pv := busy[k], st.view(k)
		if ni.model != "" {
			st.podGPU[k] = ni.model
		}
		cnt := counted[k]
		if cnt == nil {
			cnt = make([]bool, st.g.n)
			counted[k] = cnt
		}
		var (
			cur       *acc
			curA      attrs
			curLQ     string
			pod, used float64
			// the totals and this pod's team's slots of its queues' shares
			lqTot, lqTeam, cqTot, cqTeam []float64
		)
		flush := func() {
			if cur != nil {
				cur.pod[b] += pod
				cur.used[b] += used
				st.podAlloc[b] += pod
				st.addPodHours(podTeam{k, curA.team, b}, pod, used)
			}
			pod, used = 0, 0
		}
		for i, v := range s.v {
			if math.IsNaN(v) || v == 0 || math.IsNaN(run[i]) {
				continue
			}
			st.covered[i] = true
			a := attrs{team: st.resolve(pv, i), ns: k.ns, queue: nearest(pv.cq, i), model: ni.model}
			var lq string
			if st.lqShares != nil {
				lq = nearest(pv.lq, i)
			}
			if cur == nil || a != curA || lq != curLQ {
				flush()
				cur, curA, curLQ = st.row(a), a, lq
				if st.lqShares != nil {
					lqTot, lqTeam = st.lqShares.slots(st.g.n, shareKey{k.ns, lq, ni.flavor}, a.team)
				}
				if st.cqShares != nil && a.queue != "" {
					cqTot, cqTeam = st.cqShares.slots(st.g.n, shareKey{"", a.queue, ni.flavor}, a.team)
				} else {
					cqTot, cqTeam = nil, nil
				}
			}
			if lqTot != nil {
				lqTot[i] += v * w
				lqTeam[i] += v * w
			}
			if cqTot != nil {
				cqTot[i] += v * w
				cqTeam[i] += v * w
			}
			wt := st.g.weight(i)
			pod += v * w * wt
			if cnt[i] {
				continue // the pod's GPUs are already counted at this point
			}
			cnt[i] = true
			for _, g := range gpus {
				if bv := g.v[i]; !math.IsNaN(bv) {
					used += bv * g.w * wt
				}
			}
		}
		flush()
	}
}

// capacityPoints adds the nodes' allocatable GPUs, in GPU-equivalents:
// whole GPUs plus MIG slices at their profile's share of a card. A node
// whose cards are only partly sliced (two 3g slices are 6/7 of a card) is
// counted at its physical cards, as dcgm-exporter reports them, so the
// unsliced remainder is allocatable capacity nobody can request: idle.
// It also counts, per point, the physical GPUs and MIG slices.
func (st *state) capacityPoints() {
	type nodeCap struct {
		equiv, whole, slices, mig []float64
		has                       []bool
	}
	n := st.g.n
	per := map[string]*nodeCap{}
	var names []string
	for _, s := range st.d.alloc {
		node := string(s.m["node"])
		nc := per[node]
		if nc == nil {
			nc = &nodeCap{equiv: make([]float64, n), whole: make([]float64, n), slices: make([]float64, n), mig: make([]float64, n), has: make([]bool, n)}
			per[node] = nc
			names = append(names, node)
		}
		w := migWeight(string(s.m["resource"]))
		for i, v := range s.v {
			if math.IsNaN(v) {
				continue
			}
			nc.has[i] = true
			nc.equiv[i] += v * w
			if w == 1 {
				nc.whole[i] += v
			} else {
				nc.slices[i] += v
				nc.mig[i] += v * w
			}
		}
	}
	cards := map[string][]float64{}
	for _, s := range st.d.cards {
		cards[string(s.m["hostname"])] = s.v
	}
	sort.Strings(names)
	st.physical = make([]physicalAt, n)
	for _, node := range names {
		nc := per[node]
		ni := st.nodes[node]
		b := bucket{flavor: ni.flavor, model: ni.model}
		c := cards[node]
		for i := range n {
			if !nc.has[i] {
				continue
			}
			st.covered[i] = true
			// Physical cards: as dcgm-exporter counts them, else whole
			// GPUs plus the cards the MIG slices fill at least.
			phys := nc.whole[i] + math.Ceil(nc.mig[i]-1e-9)
			if c != nil && !math.IsNaN(c[i]) {
				phys = math.Max(c[i], nc.whole[i])
			}
			capacity := nc.equiv[i]
			migCards := 0.0
			if nc.slices[i] > 0 {
				capacity = math.Max(capacity, phys)
				migCards = phys - nc.whole[i]
			}
			st.capacities[b] += capacity * st.g.weight(i)
			p := &st.physical[i]
			p.add(ni.model, phys, migCards, nc.slices[i], nc.equiv[i])
		}
	}
}

// physicalAt is the fleet's physical GPUs at one point, in total and per
// GPU model.
type physicalAt struct {
	total   ModelGPUs
	byModel map[string]*ModelGPUs
}

func (p *physicalAt) add(model string, phys, migCards, slices, equiv float64) {
	if p.byModel == nil {
		p.byModel = map[string]*ModelGPUs{}
	}
	m := p.byModel[model]
	if m == nil {
		m = &ModelGPUs{Model: model}
		p.byModel[model] = m
	}
	for _, x := range []*ModelGPUs{&p.total, m} {
		x.PhysicalGPUs += int(math.Round(phys))
		x.MIGGPUs += int(math.Round(migCards))
		x.MIGSlices += int(math.Round(slices))
		x.GPUEquivalents += equiv
	}
}

// kueue adds Kueue usage, LocalQueue metrics when present, else
// ClusterQueue ones, and returns the allocation source. At each point a
// queue's usage is split among the teams of its Running GPU pods in
// proportion to their (MIG-weighted) requests, so it follows a relabelled
// pod; with no such pod visible it goes to the queue's own team: a
// LocalQueue's namespace label, else its ClusterQueue's.
func (st *state) kueue() string {
	switch {
	case st.lqShares != nil:
		for _, s := range st.d.lq {
			ns, lq, fl := first(s.m, nsLabels()), string(s.m["name"]), string(s.m["flavor"])
			cq := st.lqCQ[podKey{ns, lq}]
			b := bucket{flavor: fl, model: st.flavorModel[fl]}
			// Pods labelled with the queue and on its flavor's nodes, else
			// pods of the namespace whose queue or flavor is not known.
			tiers := st.lqShares.tiers([]shareKey{{ns, lq, fl}}, []shareKey{{ns, lq, ""}, {ns, "", fl}, {ns, "", ""}})
			st.spread(attrs{ns: ns, queue: cq, model: b.model}, b, migWeight(string(s.m["resource"])), s.v, tiers, func(i int) string {
				if t := st.nsTeam.at(ns, i); t != "" || cq == "" {
					return t
				}
				return st.queueTeam(cq)
			})
		}
		return "kueue-local-queue"
	case st.cqShares != nil:
		for _, s := range st.d.cq {
			cq, fl := string(s.m["cluster_queue"]), string(s.m["flavor"])
			b := bucket{flavor: fl, model: st.flavorModel[fl]}
			tiers := st.cqShares.tiers([]shareKey{{"", cq, fl}}, []shareKey{{"", cq, ""}})
			team := st.queueTeam(cq)
			st.spread(attrs{queue: cq, model: b.model}, b, migWeight(string(s.m["resource"])), s.v, tiers, func(int) string { return team })
		}
		return "kueue-cluster-queue"
	}
	return "pod-requests"
}

// spread adds one Kueue usage series as charged hours of the teams its
// shares name at each point (the first tier with Running pods), else of
// fallback's team. Hours are summed per team and added to the rows once.
func (st *state) spread(base attrs, b bucket, w float64, vals []float64, tiers [][]*share, fallback func(int) string) {
	hours := map[string]float64{}
	for i, v := range vals {
		if math.IsNaN(v) {
			continue
		}
		x := v * w * st.g.weight(i)
		if !split(hours, tiers, i, x) {
			hours[fallback(i)] += x
		}
	}
	teams := make([]string, 0, len(hours))
	for t := range hours {
		teams = append(teams, t)
	}
	sort.Strings(teams)
	for _, t := range teams {
		base.team = t
		r := st.row(base)
		r.hasKueue = true
		r.kueue[b] += hours[t]
	}
}

// split shares x among the teams of the first tier whose pods hold GPUs at
// point i, in proportion to them, and reports whether one did.
func split(hours map[string]float64, tiers [][]*share, i int, x float64) bool {
	for _, tier := range tiers {
		tot := 0.0
		for _, sh := range tier {
			tot += sh.total[i]
		}
		if tot <= 0 {
			continue
		}
		for _, sh := range tier {
			for j, t := range sh.teams {
				if y := sh.vals[j][i]; y > 0 {
					hours[t] += x * y / tot
				}
			}
		}
		return true
	}
	return false
}

// reserved adds the ClusterQueues' nominal quotas (not by namespace:
// quotas belong to ClusterQueues), to the queue's team.
func (st *state) reserved() {
	if st.by == ByNamespace {
		return
	}
	for _, s := range st.d.quota {
		cq, fl := string(s.m["cluster_queue"]), string(s.m["flavor"])
		b := bucket{flavor: fl, model: st.flavorModel[fl]}
		w := migWeight(string(s.m["resource"]))
		r := st.row(attrs{team: st.queueTeam(cq), queue: cq, model: b.model})
		for i, v := range s.v {
			if !math.IsNaN(v) {
				r.reserved[b] += v * w * st.g.weight(i)
			}
		}
	}
}

// shareKey names the pods a queue's usage is split among: namespace (empty
// for a ClusterQueue), queue and flavor, "" where a pod's is not known.
type shareKey struct{ ns, queue, flavor string }

// share is, per point, the weighted GPU requests of the Running pods of
// one shareKey, in total and per team ("" for unattributed).
type share struct {
	total []float64
	teams []string
	vals  [][]float64
}

type shares map[shareKey]*share

// slots returns k's totals and team's values, creating them.
func (m shares) slots(n int, k shareKey, team string) (total, vals []float64) {
	sh := m[k]
	if sh == nil {
		sh = &share{total: make([]float64, n)}
		m[k] = sh
	}
	j := slices.Index(sh.teams, team)
	if j < 0 {
		j = len(sh.teams)
		sh.teams = append(sh.teams, team)
		sh.vals = append(sh.vals, make([]float64, n))
	}
	return sh.total, sh.vals[j]
}

// tiers looks up each tier's shares, dropping absent and repeated ones.
func (m shares) tiers(keys ...[]shareKey) [][]*share {
	var out [][]*share
	seen := map[*share]bool{}
	for _, ks := range keys {
		var tier []*share
		for _, k := range ks {
			if sh := m[k]; sh != nil && !seen[sh] {
				seen[sh] = true
				tier = append(tier, sh)
			}
		}
		if len(tier) > 0 {
			out = append(out, tier)
		}
	}
	return out
}

// coverage sets the span that had data, with a warning when it is shorter
// than the window, and reports whether there was any.
func (st *state) coverage(set *Set) bool {
	firstI, last := slices.Index(st.covered, true), -1
	for i := len(st.covered) - 1; i >= 0; i-- {
		if st.covered[i] {
			last = i
			break
		}
	}
	if firstI < 0 {
		return false
	}
	set.CoveredStart = st.g.at(firstI)
	if firstI == st.g.head {
		set.CoveredStart = set.CoveredStart.Add(-time.Duration(st.g.extra * float64(st.g.step)))
	}
	set.CoveredEnd = st.g.at(last + 1)
	if set.CoveredEnd.After(st.g.end) {
		set.CoveredEnd = st.g.end
	}
	if firstI > 0 || last < st.g.n-1 {
		set.Warnings = append(set.Warnings, fmt.Sprintf("data covers only %s to %s of the window", set.CoveredStart.Format(time.RFC3339), set.CoveredEnd.Format(time.RFC3339)))
	}
	return true
}

// toHours turns GPU-points into GPU-hours and returns the idle hours per
// bucket (allocatable minus the Running pods' requests).
func (st *state) toHours() map[bucket]float64 {
	conv := func(m map[bucket]float64) {
		for b, v := range m {
			m[b] = v * st.g.step.Seconds() / 3600
		}
	}
	for _, r := range st.rows {
		conv(r.reserved)
		conv(r.pod)
		conv(r.kueue)
		conv(r.used)
		conv(r.borrowed)
		conv(r.lent)
		conv(r.quotaIdle)
	}
	conv(st.capacities)
	conv(st.podAlloc)
	idle := map[bucket]float64{}
	for b, cp := range st.capacities {
		idle[b] = math.Max(0, cp-st.podAlloc[b])
	}
	return idle
}

// addPodHours adds a run of one pod's GPU-points and used GPU-points.
func (st *state) addPodHours(k podTeam, pod, used float64) {
	h := st.podHours[k]
	if h == nil {
		h = &[2]float64{}
		st.podHours[k] = h
	}
	h[0] += pod
	h[1] += used
}
