package sim

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
)

// defaultKueueVersion is the Kueue release a scenario renders unless it
// names another.
const defaultKueueVersion = "v0.19.2"

// Kueue metric families by the release that added them (kubernetes-sigs/kueue
// pkg/metrics/metrics.go at each tag).
const (
	kueueMinorCohortSubtree   = 17 // kueue_cohort_subtree_quota
	kueueMinorResourcePending = 18 // kueue_cluster_queue_resource_pending, kueue_cluster_queue_info
	kueueMinorUnadmitted      = 19 // kueue_unadmitted_workloads, kueue_local_queue_unadmitted_workloads
	kueueMinMinor             = 14 // priority_class on the counters and histograms
)

// Kueue's reasons for an unadmitted workload (apis/kueue/v1beta2
// workload_types.go): the Admitted condition's reason and the
// QuotaReserved condition's underlying cause.
const (
	reasonNoReservation    = "NoReservation"
	causeWaitingForQuota   = "WaitingForQuota"
	causeNoMatchingFlavor  = "NoMatchingFlavor"
	causePendingEvaluation = "PendingEvaluation"
	// Queue truth: an admission wait or a startup of 320 s (the Kueue
	// histogram bucket bound nearest 5 minutes) is long; a workload that
	// waited 4 minutes for quota while quota idled elsewhere is stranded.
	truthWaitSeconds     = 320
	truthStartupSeconds  = 320
	truthStrandedSeconds = 240
	// A slow startup that ended in the last 10 minutes still marks the
	// queue as slow to run what it admits.
	truthSlowRecentSeconds = 600
)

// kueueMinor parses "v0.19.2" to 19.
func kueueMinor(v string) (int, error) {
	parts := strings.Split(strings.TrimPrefix(v, "v"), ".")
	if len(parts) < 2 || parts[0] != "0" {
		return 0, fmt.Errorf("kueue version %q is not v0.<minor>[.<patch>]", v)
	}
	m, err := strconv.Atoi(parts[1])
	if err != nil {
		return 0, fmt.Errorf("kueue version %q: minor: %w", v, err)
	}
	return m, nil
}

func (s *Scenario) validateKueue() ([]any, string) {
	m, err := kueueMinor(s.Kueue.Version)
	if err != nil {
		return []any{"kueue", "version"}, err.Error()
	}
	if m < kueueMinMinor {
		return []any{"kueue", "version"}, fmt.Sprintf("kueue version %s is older than v0.%d, the oldest simulated", s.Kueue.Version, kueueMinMinor)
	}
	for i, j := range s.Jobs {
		if j.Startup < 0 {
			return []any{"jobs", i, "startup"}, fmt.Sprintf("job %q: startup %s is negative", j.Name, j.Startup.D())
		}
	}
	return nil, ""
}

// kueueAtLeast reports whether the scenario's Kueue has minor release m.
//
//go:norace
func (c *Cluster) kueueAtLeast(m int) bool {
	v, err := kueueMinor(c.sc.Kueue.Version)
	return err == nil && v >= m
}

// fitsQuota says whether a pending workload could be admitted by quota
// alone (within nominal quota, or by borrowing within the limit), as the
// admission cycle judges it without preemption.
//
//go:norace
func (c *Cluster) fitsQuota(w *workload) bool {
	t, fl := w.team, w.flavor
	free := c.cohortFree(t, fl)
	if free < w.units {
		return false
	}
	if t.usage[fl]+w.units <= t.nominal[fl] {
		return true
	}
	return t.spec.Cohort != "" && t.usage[fl]+w.units-t.nominal[fl] <= t.borrow[fl]
}

// startup is how long w's pods take from admission to ready.
//
//go:norace
func (w *workload) startup() float64 {
	if w.job == nil {
		return 0
	}
	return w.job.js.Startup.D().Seconds()
}

// readyIfStarted marks an admitted workload ready once its startup has
// passed, observing the wait-for-pods-ready histograms, and reports
// whether it is ready.
//
//go:norace
func (c *Cluster) readyIfStarted(w *workload) bool {
	if w.ready {
		return true
	}
	if !w.admitted || c.now-w.admittedAt < w.startup()-1e-9 {
		return false
	}
	w.ready = true
	if w.startup() >= truthStartupSeconds {
		w.team.slowReadyAt = c.now
	}
	pc := priorityClass(w.priority)
	for _, q := range []*queueCounters{w.team.kq, w.team.lqc} {
		observe(q.readyWait, pc, c.buckets.kueueWait, c.now-w.created)
		observe(q.untilReady, pc, c.buckets.kueueWait, c.now-w.admittedAt)
	}
	return true
}

//go:norace
func observe(m map[string]*hist, pc string, buckets []float64, v float64) {
	h := m[pc]
	if h == nil {
		nh := newHist(buckets)
		h = &nh
		m[pc] = h
	}
	h.observeN(v, 1)
}

// unadmittedKey is one (reason, underlying_cause) of Kueue's unadmitted
// workloads gauge.
type unadmittedKey struct{ reason, cause string }

// unadmitted counts a queue's pending workloads by reason and cause, and
// the units they ask for by resource.
func (c *Cluster) unadmitted(t *team) (map[unadmittedKey]int, map[string]int) {
	by, pending := map[unadmittedKey]int{}, map[string]int{}
	for _, w := range c.workloads {
		if w.team != t || w.admitted || w.finished {
			continue
		}
		cause := causeWaitingForQuota
		switch {
		case t.nominal[w.flavor] == 0 && t.spec.Cohort == "":
			cause = causeNoMatchingFlavor
		case c.fitsQuota(w):
			cause = causePendingEvaluation
		}
		by[unadmittedKey{reasonNoReservation, cause}]++
		pending[c.plan.flavors[w.flavor].resource] += w.units
	}
	return by, pending
}

// admissionFamilies are the families of Kueue's admission story that not
// every release or configuration has.
func admissionFamilies() []famSpec {
	rr := "replica_role"
	g := func(n, h string, l ...string) famSpec {
		return famSpec{name: n, help: h, typ: gaugeT, labels: append(l, rr)}
	}
	hs := func(n, h string, l ...string) famSpec {
		return famSpec{name: n, help: h, typ: histT, labels: append(l, rr)}
	}
	return []famSpec{
		g("kueue_cluster_queue_resource_pending", "Reports the cluster_queue's total pending resource requests. Unlike resource_reservation, pending workloads have not yet been assigned to flavors.", "cluster_queue", "resource"),
		g("kueue_unadmitted_workloads", "The number of unadmitted workloads, per 'cluster_queue', 'reason', and 'underlying_cause'. This metric is only emitted when UnadmittedWorkloadsObservability feature gate is enabled.", "cluster_queue", "reason", "underlying_cause"),
		g("kueue_local_queue_unadmitted_workloads", "The number of unadmitted workloads, per 'name', 'namespace', 'cluster_queue', 'reason', and 'underlying_cause'. This metric is only emitted when UnadmittedWorkloadsObservability feature gate is enabled.", "name", "namespace", "cluster_queue", "reason", "underlying_cause"),
		g("kueue_cohort_subtree_quota", "Reports the cohort's nominal quota aggregated within the cohort's subtree. The values are reported per resource and flavor", "cohort", "flavor", "resource"),
		hs("kueue_ready_wait_time_seconds", "The time between a workload was created or requeued until ready, per 'cluster_queue'", "cluster_queue", "priority_class"),
		hs("kueue_admitted_until_ready_wait_time_seconds", "The time between a workload was admitted until ready, per 'cluster_queue'", "cluster_queue", "priority_class"),
		hs("kueue_local_queue_ready_wait_time_seconds", "The time between a workload was created or requeued until ready, per 'local_queue'", "name", "namespace", "priority_class"),
		hs("kueue_local_queue_admitted_until_ready_wait_time_seconds", "The time between a workload was admitted until ready, per 'local_queue'", "name", "namespace", "priority_class"),
	}
}

// collectAdmission renders one queue's admission families that exist in
// the scenario's Kueue release and configuration.
func (c *Cluster) collectAdmission(em emitter, t *team, role string) {
	cq, lq, ns := t.cq, t.lq, t.ns
	by, pending := c.unadmitted(t)
	if c.kueueAtLeast(kueueMinorResourcePending) {
		for _, fl := range sortedKeys(t.nominal) {
			r := c.plan.flavors[fl].resource
			if _, ok := pending[r]; !ok {
				pending[r] = 0
			}
		}
		for _, r := range sortedKeys(pending) {
			em.gauge("kueue_cluster_queue_resource_pending", float64(pending[r]), cq, r, role)
		}
	}
	if c.kueueAtLeast(kueueMinorUnadmitted) {
		for _, k := range sortedUnadmitted(by) {
			em.gauge("kueue_unadmitted_workloads", float64(by[k]), cq, k.reason, k.cause, role)
			if c.sc.Kueue.LocalQueueMetrics {
				em.gauge("kueue_local_queue_unadmitted_workloads", float64(by[k]), lq, ns, cq, k.reason, k.cause, role)
			}
		}
	}
	if !c.sc.Kueue.WaitForPodsReady || role != "leader" {
		return
	}
	for _, pc := range priorityClasses(t) {
		if h := t.kq.readyWait[pc]; h != nil {
			em.hist("kueue_ready_wait_time_seconds", h, cq, pc, role)
			em.hist("kueue_admitted_until_ready_wait_time_seconds", t.kq.untilReady[pc], cq, pc, role)
		}
		if h := t.lqc.readyWait[pc]; h != nil && c.sc.Kueue.LocalQueueMetrics {
			em.hist("kueue_local_queue_ready_wait_time_seconds", h, lq, ns, pc, role)
			em.hist("kueue_local_queue_admitted_until_ready_wait_time_seconds", t.lqc.untilReady[pc], lq, ns, pc, role)
		}
	}
}

// collectCohorts renders each cohort's subtree quota (flat cohorts: the
// sum of its queues' nominal quota).
func (c *Cluster) collectCohorts(em emitter, role string) {
	if !c.kueueAtLeast(kueueMinorCohortSubtree) {
		return
	}
	quota := map[string]map[string]int{}
	for _, t := range c.teams {
		if t.spec.Cohort == "" {
			continue
		}
		if quota[t.spec.Cohort] == nil {
			quota[t.spec.Cohort] = map[string]int{}
		}
		for fl, n := range t.nominal {
			quota[t.spec.Cohort][fl] += n
		}
	}
	for _, co := range sortedKeys(quota) {
		for _, fl := range sortedKeys(quota[co]) {
			em.gauge("kueue_cohort_subtree_quota", float64(quota[co][fl]), co, fl, c.plan.flavors[fl].resource, role)
		}
	}
}

// lendingLimit is a queue's lending limit on a flavor in units (+Inf when
// unset, as Kueue reports it).
func (c *Cluster) lendingLimit(t *team, fl string) float64 {
	if lim, ok := t.spec.LendingLimit[fl]; ok {
		return math.Round(lim * float64(c.plan.flavors[fl].units))
	}
	return math.Inf(1)
}

func sortedUnadmitted(m map[unadmittedKey]int) []unadmittedKey {
	ks := make([]unadmittedKey, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	slices.SortFunc(ks, func(a, b unadmittedKey) int {
		return cmp.Or(cmp.Compare(a.reason, b.reason), cmp.Compare(a.cause, b.cause))
	})
	return ks
}
