package sim

import (
	"math"
	"strings"
)

// kueueFamilies are Kueue's metrics (gpu-kueue-cost.md §2.2); every one
// carries replica_role.
func kueueFamilies() []famSpec {
	rr := "replica_role"
	g := func(n, h string, l ...string) famSpec {
		return famSpec{name: n, help: h, typ: gaugeT, labels: append(l, rr)}
	}
	ct := func(n, h string, l ...string) famSpec {
		return famSpec{name: n, help: h, typ: counterT, labels: append(l, rr)}
	}
	hs := func(n, h string, l ...string) famSpec {
		return famSpec{name: n, help: h, typ: histT, labels: append(l, rr)}
	}
	res := []string{"cohort", "cluster_queue", "flavor", "resource"}
	lq := []string{"name", "namespace"}
	with := func(base []string, l ...string) []string { return append(append([]string{}, base...), l...) }
	return append([]famSpec{
		ct("kueue_admission_attempts_total", "The total number of attempts to admit workloads.", "result"),
		g("kueue_build_info", "Kueue build information.", "git_version", "git_commit", "build_date", "go_version", "compiler", "platform"),
		g("kueue_pending_workloads", "The number of pending workloads, per 'cluster_queue' and 'status'.", "cluster_queue", "status"),
		g("kueue_reserving_active_workloads", "The number of Workloads that are reserving quota, per 'cluster_queue'", "cluster_queue"),
		g("kueue_admitted_active_workloads", "The number of admitted Workloads that are active (unsuspended and not finished), per 'cluster_queue'", "cluster_queue"),
		g("kueue_finished_workloads", "The number of finished workloads, per 'cluster_queue'", "cluster_queue"),
		ct("kueue_quota_reserved_workloads_total", "The total number of quota reserved workloads per 'cluster_queue'", "cluster_queue", "priority_class"),
		ct("kueue_admitted_workloads_total", "The total number of admitted workloads per 'cluster_queue'", "cluster_queue", "priority_class"),
		ct("kueue_finished_workloads_total", "The total number of finished workloads per 'cluster_queue'", "cluster_queue", "priority_class"),
		hs("kueue_admission_wait_time_seconds", "The time between a workload was created or requeued until admission, per 'cluster_queue'", "cluster_queue", "priority_class"),
		ct("kueue_evicted_workloads_total", "The number of evicted workloads per 'cluster_queue'", "cluster_queue", "reason", "underlying_cause", "priority_class"),
		ct("kueue_preempted_workloads_total", "The number of preempted workloads per 'preempting_cluster_queue'", "preempting_cluster_queue", "reason"),
		g("kueue_cluster_queue_status", "Reports 'cluster_queue' with its 'status' (with possible values 'pending', 'active' or 'terminated').", "cluster_queue", "status"),
		g("kueue_cluster_queue_info", "Reports 'cluster_queue' and its parent and root cohorts.", "cluster_queue", "parent_cohort", "root_cohort"),
		g("kueue_cluster_queue_resource_reservation", "Reports the cluster_queue's total resource reservation within all the flavors", res...),
		g("kueue_cluster_queue_resource_usage", "Reports the cluster_queue's total resource usage within all the flavors", res...),
		g("kueue_cluster_queue_nominal_quota", "Reports the cluster_queue's resource nominal quota within all the flavors", res...),
		g("kueue_cluster_queue_borrowing_limit", "Reports the cluster_queue's resource borrowing limit within all the flavors", res...),
		g("kueue_cluster_queue_lending_limit", "Reports the cluster_queue's resource lending limit within all the flavors", res...),
		g("kueue_local_queue_pending_workloads", "The number of pending workloads, per 'local_queue' and 'status'.", with(lq, "status")...),
		g("kueue_local_queue_reserving_active_workloads", "The number of Workloads that are reserving quota, per 'localQueue'", lq...),
		g("kueue_local_queue_admitted_active_workloads", "The number of admitted Workloads that are active (unsuspended and not finished), per 'localQueue'", lq...),
		ct("kueue_local_queue_quota_reserved_workloads_total", "The total number of quota reserved workloads per 'local_queue'", with(lq, "priority_class")...),
		ct("kueue_local_queue_admitted_workloads_total", "The total number of admitted workloads per 'local_queue'", with(lq, "priority_class")...),
		ct("kueue_local_queue_finished_workloads_total", "The total number of finished workloads per 'local_queue'", with(lq, "priority_class")...),
		ct("kueue_local_queue_evicted_workloads_total", "The number of evicted workloads per 'local_queue'", with(lq, "reason", "underlying_cause", "priority_class")...),
		hs("kueue_local_queue_admission_wait_time_seconds", "The time between a workload was created or requeued until admission, per 'local_queue'", with(lq, "priority_class")...),
		g("kueue_local_queue_status", "Reports 'localQueue' with its 'active' status (with possible values 'True', 'False', or 'Unknown').", with(lq, "active")...),
		g("kueue_local_queue_resource_reservation", "Reports the localQueue's total resource reservation within all the flavors", with(lq, "flavor", "resource")...),
		g("kueue_local_queue_resource_usage", "Reports the localQueue's total resource usage within all the flavors", with(lq, "flavor", "resource")...),
	}, admissionFamilies()...)
}

// collectKueue renders the Kueue controller; a follower replica exports
// the gauges only, labelled replica_role="follower".
func (c *Cluster) collectKueue(em emitter, role string) {
	leader := role == "leader"
	em.gauge("kueue_build_info", 1, c.sc.Kueue.Version, "4b1e3f2a9c7d", "2026-07-30T09:12:44Z", "go1.25.4", "gc", "linux/amd64", role)
	if leader {
		em.counter("kueue_admission_attempts_total", c.kueue.attemptsSuccess, "success", role)
		em.counter("kueue_admission_attempts_total", c.kueue.attemptsInadmissible, "inadmissible", role)
	}
	c.collectCohorts(em, role)
	for _, t := range c.teams {
		st := c.queueStats(t)
		cq := t.cq
		em.gauge("kueue_pending_workloads", float64(st.pendingActive), cq, "active", role)
		em.gauge("kueue_pending_workloads", float64(st.pendingInadmissible), cq, "inadmissible", role)
		em.gauge("kueue_reserving_active_workloads", float64(st.admittedActive), cq, role)
		em.gauge("kueue_admitted_active_workloads", float64(st.admittedActive), cq, role)
		em.gauge("kueue_finished_workloads", float64(c.lingering(t)), cq, role)
		for _, s := range []string{"pending", "active", "terminating"} {
			em.gauge("kueue_cluster_queue_status", b2f(s == "active"), cq, s, role)
		}
		if c.kueueAtLeast(kueueMinorResourcePending) {
			em.gauge("kueue_cluster_queue_info", 1, cq, t.spec.Cohort, t.spec.Cohort, role)
		}
		c.collectAdmission(em, t, role)
		if leader {
			c.kueueCounters(em, t, role)
		}
		if c.sc.Kueue.ClusterQueueResources {
			for _, fl := range sortedKeys(t.nominal) {
				r := c.plan.flavors[fl].resource
				u := float64(t.usage[fl])
				em.gauge("kueue_cluster_queue_resource_reservation", u, t.spec.Cohort, cq, fl, r, role)
				em.gauge("kueue_cluster_queue_resource_usage", u, t.spec.Cohort, cq, fl, r, role)
				em.gauge("kueue_cluster_queue_nominal_quota", float64(t.nominal[fl]), t.spec.Cohort, cq, fl, r, role)
				bl := math.Inf(1) // Kueue reports an unset limit as +Inf
				if lim, ok := t.spec.BorrowingLimit[fl]; ok {
					bl = math.Round(lim * float64(c.plan.flavors[fl].units))
				}
				em.gauge("kueue_cluster_queue_borrowing_limit", bl, t.spec.Cohort, cq, fl, r, role)
				em.gauge("kueue_cluster_queue_lending_limit", c.lendingLimit(t, fl), t.spec.Cohort, cq, fl, r, role)
			}
		}
		if !c.sc.Kueue.LocalQueueMetrics {
			continue
		}
		lq, ns := t.lq, t.ns
		em.gauge("kueue_local_queue_pending_workloads", float64(st.pendingActive), lq, ns, "active", role)
		em.gauge("kueue_local_queue_pending_workloads", float64(st.pendingInadmissible), lq, ns, "inadmissible", role)
		em.gauge("kueue_local_queue_reserving_active_workloads", float64(st.admittedActive), lq, ns, role)
		em.gauge("kueue_local_queue_admitted_active_workloads", float64(st.admittedActive), lq, ns, role)
		for _, a := range []string{"True", "False", "Unknown"} {
			em.gauge("kueue_local_queue_status", b2f(a == "True"), lq, ns, a, role)
		}
		for _, fl := range sortedKeys(t.nominal) {
			r := c.plan.flavors[fl].resource
			em.gauge("kueue_local_queue_resource_reservation", float64(t.usage[fl]), lq, ns, fl, r, role)
			em.gauge("kueue_local_queue_resource_usage", float64(t.usage[fl]), lq, ns, fl, r, role)
		}
	}
}

// kueueCounters renders a queue's counters and wait-time histograms.
func (c *Cluster) kueueCounters(em emitter, t *team, role string) {
	cq, lq, ns := t.cq, t.lq, t.ns
	lqOn := c.sc.Kueue.LocalQueueMetrics
	for _, pc := range priorityClasses(t) {
		em.counter("kueue_quota_reserved_workloads_total", t.kq.quotaReserved[pc], cq, pc, role)
		em.counter("kueue_admitted_workloads_total", t.kq.admitted[pc], cq, pc, role)
		em.counter("kueue_finished_workloads_total", t.kq.finished[pc], cq, pc, role)
		em.counter("kueue_evicted_workloads_total", t.kq.evicted[pc], cq, reasonPreempted, "", pc, role)
		if h := t.kq.wait[pc]; h != nil {
			em.hist("kueue_admission_wait_time_seconds", h, cq, pc, role)
		}
		if lqOn {
			em.counter("kueue_local_queue_quota_reserved_workloads_total", t.lqc.quotaReserved[pc], lq, ns, pc, role)
			em.counter("kueue_local_queue_admitted_workloads_total", t.lqc.admitted[pc], lq, ns, pc, role)
			em.counter("kueue_local_queue_finished_workloads_total", t.lqc.finished[pc], lq, ns, pc, role)
			em.counter("kueue_local_queue_evicted_workloads_total", t.lqc.evicted[pc], lq, ns, reasonPreempted, "", pc, role)
			if h := t.lqc.wait[pc]; h != nil {
				em.hist("kueue_local_queue_admission_wait_time_seconds", h, lq, ns, pc, role)
			}
		}
	}
	em.counter("kueue_preempted_workloads_total", t.kq.preempted, cq, reasonInCohortReclamation, role)
}

// priorityClasses lists the classes a queue has seen, sorted.
func priorityClasses(t *team) []string {
	seen := map[string]bool{}
	for _, m := range []map[string]float64{t.kq.admitted, t.kq.evicted, t.kq.finished} {
		for k := range m {
			seen[k] = true
		}
	}
	return sortedKeys(seen)
}

// lingering counts a team's finished job pods that still exist.
func (c *Cluster) lingering(t *team) int {
	n := 0
	for _, p := range c.pods {
		if p.team == t && p.phase == phaseSucceeded {
			n++
		}
	}
	return n
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// sanitizeResource is kube-state-metrics' spelling of a resource name.
func sanitizeResource(r string) string {
	return strings.NewReplacer(".", "_", "/", "_", "-", "_").Replace(r)
}
