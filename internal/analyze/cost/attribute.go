package cost

import (
	"fmt"
	"math"
	"slices"
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
	flavorModel          map[string]string
	podTeam, podCQ       *labelAt[podKey]
	nsTeam               *labelAt[string]
	lqCQ                 map[podKey]string         // (namespace, LocalQueue) → ClusterQueue
	cqTeamSeen           map[string]map[string]int // ClusterQueue → team → pod-points
	rows                 map[string]*acc
	covered              []bool
	podAlloc, capacities map[bucket]float64
}

// newState builds the topology: nodes, pod and namespace teams, queues.
func newState(c *Calculator, g grid, d *data, by Aggregate) *state {
	st := &state{c: c, g: g, d: d, by: by, nodes: map[string]nodeInfo{}, flavorModel: map[string]string{},
		podTeam: newLabelAt[podKey](), podCQ: newLabelAt[podKey](), nsTeam: newLabelAt[string](),
		lqCQ: map[podKey]string{}, cqTeamSeen: map[string]map[string]int{}, rows: map[string]*acc{},
		covered: make([]bool, g.n), podAlloc: map[bucket]float64{}, capacities: map[bucket]float64{}}
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
		if lq := string(s.m[model.LabelName(c.q.lqLabel)]); lq != "" && cq != "" {
			st.lqCQ[podKey{k.ns, lq}] = cq
		}
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
type podView struct{ team, nsTeam, cq []string }

func (st *state) view(k podKey) podView {
	return podView{team: st.podTeam.vals[k], nsTeam: st.nsTeam.vals[k.ns], cq: st.podCQ.vals[k]}
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
		cnt := counted[k]
		if cnt == nil {
			cnt = make([]bool, st.g.n)
			counted[k] = cnt
		}
		var (
			cur       *acc
			curA      attrs
			pod, used float64
		)
		flush := func() {
			if cur != nil {
				cur.pod[b] += pod
				cur.used[b] += used
				st.podAlloc[b] += pod
			}
			pod, used = 0, 0
		}
		for i, v := range s.v {
			if math.IsNaN(v) || v == 0 || math.IsNaN(run[i]) {
				continue
			}
			st.covered[i] = true
			a := attrs{team: st.resolve(pv, i), ns: k.ns, queue: nearest(pv.cq, i), model: ni.model}
			if cur == nil || a != curA {
				flush()
				cur, curA = st.row(a), a
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

// capacityPoints adds the nodes' allocatable GPUs.
func (st *state) capacityPoints() {
	for _, s := range st.d.alloc {
		ni := st.nodes[string(s.m["node"])]
		b := bucket{flavor: ni.flavor, model: ni.model}
		w := migWeight(string(s.m["resource"]))
		for i, v := range s.v {
			if !math.IsNaN(v) {
				st.covered[i] = true
				st.capacities[b] += v * w * st.g.weight(i)
			}
		}
	}
}

// kueue adds Kueue usage, LocalQueue metrics when present, else
// ClusterQueue ones, and returns the allocation source.
func (st *state) kueue() string {
	switch {
	case len(st.d.lq) > 0:
		for _, s := range st.d.lq {
			ns, lq, fl := first(s.m, nsLabels()), string(s.m["name"]), string(s.m["flavor"])
			cq := st.lqCQ[podKey{ns, lq}]
			w := migWeight(string(s.m["resource"]))
			b := bucket{flavor: fl, model: st.flavorModel[fl]}
			for i, v := range s.v {
				if math.IsNaN(v) {
					continue
				}
				team := st.nsTeam.at(ns, i)
				if team == "" && cq != "" {
					team = st.queueTeam(cq)
				}
				r := st.row(attrs{team: team, ns: ns, queue: cq, model: b.model})
				r.hasKueue = true
				r.kueue[b] += v * w * st.g.weight(i)
			}
		}
		return "kueue-local-queue"
	case len(st.d.cq) > 0 && st.by != ByNamespace:
		for _, s := range st.d.cq {
			cq, fl := string(s.m["cluster_queue"]), string(s.m["flavor"])
			st.addQueue(cq, bucket{flavor: fl, model: st.flavorModel[fl]}, migWeight(string(s.m["resource"])), s.v, true)
		}
		return "kueue-cluster-queue"
	}
	return "pod-requests"
}

// reserved adds the ClusterQueues' nominal quotas (not by namespace:
// quotas belong to ClusterQueues).
func (st *state) reserved() {
	if st.by == ByNamespace {
		return
	}
	for _, s := range st.d.quota {
		cq, fl := string(s.m["cluster_queue"]), string(s.m["flavor"])
		st.addQueue(cq, bucket{flavor: fl, model: st.flavorModel[fl]}, migWeight(string(s.m["resource"])), s.v, false)
	}
}

// addQueue adds a ClusterQueue series as usage or as quota.
func (st *state) addQueue(cq string, b bucket, w float64, vals []float64, usage bool) {
	r := st.row(attrs{team: st.queueTeam(cq), queue: cq, model: b.model})
	m := r.reserved
	if usage {
		r.hasKueue = true
		m = r.kueue
	}
	for i, v := range vals {
		if !math.IsNaN(v) {
			m[b] += v * w * st.g.weight(i)
		}
	}
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
	}
	conv(st.capacities)
	conv(st.podAlloc)
	idle := map[bucket]float64{}
	for b, cp := range st.capacities {
		idle[b] = math.Max(0, cp-st.podAlloc[b])
	}
	return idle
}
