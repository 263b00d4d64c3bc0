package sim

import (
	"cmp"
	"math"
	"slices"
)

// Kueue eviction and preemption reasons (pkg/metrics/metrics.go).
const (
	reasonPreempted           = "Preempted"
	reasonInCohortReclamation = "InCohortReclamation"
)

// kueueState holds the controller-wide Kueue counters.
type kueueState struct {
	attemptsSuccess, attemptsInadmissible float64
}

// queueCounters are the cumulative counters of one ClusterQueue or LocalQueue.
type queueCounters struct {
	admitted, quotaReserved, finished map[string]float64 // by priority class
	evicted                           map[string]float64 // by priority class (reason Preempted)
	preempted                         float64            // as preempting_cluster_queue, InCohortReclamation
	wait                              map[string]*hist   // admission wait time by priority class
	// readyWait (creation to ready) and untilReady (admission to ready)
	// by priority class, with waitForPodsReady.
	readyWait, untilReady map[string]*hist
}

func newQueueCounters() *queueCounters {
	return &queueCounters{admitted: map[string]float64{}, quotaReserved: map[string]float64{}, finished: map[string]float64{},
		evicted: map[string]float64{}, wait: map[string]*hist{}, readyWait: map[string]*hist{}, untilReady: map[string]*hist{}}
}

// priorityClass names the WorkloadPriorityClass of a priority value.
func priorityClass(p int) string {
	switch {
	case p >= 1000:
		return "critical"
	case p >= 100:
		return "serving"
	}
	return "batch"
}

// cohortFree is the unused capacity of t's cohort on flavor fl (t's own
// nominal quota left when it has no cohort).
//
//go:norace
func (c *Cluster) cohortFree(t *team, fl string) int {
	if t.spec.Cohort == "" {
		return t.nominal[fl] - t.usage[fl]
	}
	free := 0
	for _, o := range c.teams {
		if o.spec.Cohort != t.spec.Cohort {
			continue
		}
		f := o.nominal[fl] - o.usage[fl]
		if o != t {
			f = int(math.Min(float64(f), c.lendingLimit(o, fl)))
		}
		free += f
	}
	return free
}

// admitAll runs one admission cycle: pending workloads in priority then
// creation order are admitted within nominal quota, or by borrowing unused
// cohort quota up to the borrowing limit, or (with preemption on) by
// reclaiming nominal quota that other queues in the cohort borrowed.
//
//go:norace
func (c *Cluster) admitAll() {
	var pending []*workload
	for _, w := range c.workloads {
		if !w.admitted && !w.finished {
			pending = append(pending, w)
		}
	}
	slices.SortStableFunc(pending, func(a, b *workload) int {
		if a.priority != b.priority {
			return cmp.Compare(b.priority, a.priority)
		}
		return cmp.Compare(a.created, b.created)
	})
	for _, w := range pending {
		if c.tryAdmit(w) {
			c.kueue.attemptsSuccess++
		} else {
			c.kueue.attemptsInadmissible++
		}
	}
	c.compactWorkloads()
}

//go:norace
func (c *Cluster) tryAdmit(w *workload) bool {
	t, fl := w.team, w.flavor
	within := t.usage[fl]+w.units <= t.nominal[fl]
	free := c.cohortFree(t, fl)
	borrowing := false
	switch {
	case within && free >= w.units:
	case !within && t.spec.Cohort != "" && t.usage[fl]+w.units-t.nominal[fl] <= t.borrow[fl] && free >= w.units:
		borrowing = true
	case within && c.sc.Kueue.Preemption && t.spec.Cohort != "":
		if !c.reclaim(w, w.units-free) {
			return false
		}
	default:
		return false
	}
	if !c.startPod(w) {
		return false
	}
	w.admitted, w.borrowing = true, borrowing
	w.admittedAt, w.ready = c.now, false
	if c.now-w.created >= truthWaitSeconds {
		t.longWaitAt = c.now
	}
	t.usage[fl] += w.units
	pc := priorityClass(w.priority)
	for _, q := range []*queueCounters{t.kq, t.lqc} {
		q.admitted[pc]++
		q.quotaReserved[pc]++
		h := q.wait[pc]
		if h == nil {
			nh := newHist(c.buckets.kueueWait)
			h = &nh
			q.wait[pc] = h
		}
		h.observeN(c.now-w.created, 1)
	}
	c.readyIfStarted(w)
	return true
}

// reclaim evicts workloads of other queues in w's cohort that borrow on
// w's flavor, lowest priority and newest first, until need units are free.
// It evicts nothing and reports false when that cannot free enough.
//
//go:norace
func (c *Cluster) reclaim(w *workload, need int) bool {
	var victims []*workload
	for _, v := range c.workloads {
		if v.admitted && v.flavor == w.flavor && v.team != w.team && v.team.spec.Cohort == w.team.spec.Cohort &&
			v.team.usage[v.flavor] > v.team.nominal[v.flavor] && v.priority <= w.priority {
			victims = append(victims, v)
		}
	}
	slices.SortStableFunc(victims, func(a, b *workload) int {
		if a.priority != b.priority {
			return cmp.Compare(a.priority, b.priority)
		}
		return cmp.Compare(b.created, a.created)
	})
	// Only a queue's borrowed units can be reclaimed.
	freed := 0
	var chosen []*workload
	borrowed := map[*team]int{}
	for _, v := range victims {
		if freed >= need {
			break
		}
		if _, ok := borrowed[v.team]; !ok {
			borrowed[v.team] = v.team.usage[v.flavor] - v.team.nominal[v.flavor]
		}
		if borrowed[v.team] <= 0 {
			continue
		}
		borrowed[v.team] -= v.units
		freed += v.units
		chosen = append(chosen, v)
	}
	if freed < need {
		return false
	}
	for _, v := range chosen {
		c.evict(v)
		w.team.kq.preempted++
	}
	return true
}

// evict takes a workload's quota back and requeues it.
func (c *Cluster) evict(w *workload) {
	w.admitted, w.borrowing = false, false
	w.team.usage[w.flavor] -= w.units
	pc := priorityClass(w.priority)
	w.team.kq.evicted[pc]++
	w.team.lqc.evicted[pc]++
	if w.pod != nil {
		c.stopPod(w.pod, c.now, false)
	}
	w.created = c.now
	c.logger.Debug("workload preempted", "workload", w.name, "queue", w.team.cq)
}

// finishJob completes a batch job at t.
func (c *Cluster) finishJob(w *workload, t float64) {
	w.finished, w.admitted = true, false
	w.team.usage[w.flavor] -= w.units
	pc := priorityClass(w.priority)
	w.team.kq.finished[pc]++
	w.team.lqc.finished[pc]++
	if w.pod != nil {
		c.stopPod(w.pod, t, true)
	}
}

// compactWorkloads forgets finished workloads.
//
//go:norace
func (c *Cluster) compactWorkloads() {
	kept := c.workloads[:0]
	for _, w := range c.workloads {
		if !w.finished {
			kept = append(kept, w)
		}
	}
	clear(c.workloads[len(kept):])
	c.workloads = kept
}

// queueStats are the gauges of one queue at the current time.
type queueStats struct {
	pendingActive, pendingInadmissible, admittedActive int
	usage                                              map[string]int
}

//go:norace
func (c *Cluster) queueStats(t *team) queueStats {
	s := queueStats{usage: t.usage}
	for _, w := range c.workloads {
		if w.team != t || w.finished {
			continue
		}
		if w.admitted {
			s.admittedActive++
		} else if c.fitsQuota(w) {
			s.pendingActive++
		} else {
			s.pendingInadmissible++
		}
	}
	return s
}
