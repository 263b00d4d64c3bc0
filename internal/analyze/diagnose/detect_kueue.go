package diagnose

import (
	"fmt"
	"math"
	"strings"
	"time"
)

// Queue findings are per Kueue ClusterQueue, not per pod: a workload that
// waits for quota has no pod yet, and an admitted one whose pods are not
// ready runs no engine. They go to Report.Queues (each queue's primary
// state) and Report.Findings; they never change a pod's primary state,
// which stays its engine's. The scenario suite scores them over
// queue-minutes beside the pod-minutes (simcheck).

// queueView is one queue's window with the helpers its detectors share.
type queueView struct {
	q        *Queue
	s        *Snapshot
	th       Thresholds
	n, from  int
	step     time.Duration
	start    time.Time
	caveats  []string
	conf     float64
	waitSrc  string
	waitStep func(i int) bool
}

// idleQuota is nominal quota unused on one queue and flavor.
type idleQuota struct {
	queue, flavor string
	gpus          float64
	own           bool // the waiting queue's own quota on another flavor
}

func newQueueView(s *Snapshot, q *Queue, th Thresholds) *queueView {
	n := s.Window.Steps()
	v := &queueView{q: q, s: s, th: th, n: n, step: s.Window.Step, start: s.Window.Start, conf: 0.9}
	v.from = max(0, n-stepsIn(th.Sustain, s.Window.Step))
	// What waits for quota: Kueue's unadmitted workloads waiting for quota
	// (0.19+), else its inadmissible pending workloads, else any pending.
	switch {
	case q.WaitingForQuota != nil || (len(q.Unadmitted) > 0):
		v.waitSrc = sigQueueUnadmitted
		v.waitStep = func(i int) bool { return q.WaitingForQuota.at(i) > 0 }
	case q.Inadmissible != nil:
		v.waitSrc = sigQueueByStatus
		v.waitStep = func(i int) bool { return q.Inadmissible.at(i) > 0 }
	default:
		v.waitSrc = sigQueuePending
		v.waitStep = func(i int) bool { return q.Pending.at(i) > 0 }
	}
	if !q.CohortReported {
		v.caveats = append(v.caveats, "kueue_cluster_queue_info is not reported by this Kueue version (before 0.18): the queue's cohort peers are unknown, only its own flavors are compared")
		v.conf *= 0.8
	}
	return v
}

// share is the share of the sustain period's steps meeting cond, and the
// start of the trailing run that meets it.
func (v *queueView) share(cond func(i int) bool) (float64, time.Time) {
	hits := 0
	for i := v.from; i < v.n; i++ {
		if cond(i) {
			hits++
		}
	}
	j := v.n
	for j > v.from && cond(j-1) {
		j--
	}
	return float64(hits) / float64(max(1, v.n-v.from)), v.start.Add(time.Duration(j) * v.step)
}

// saturated says whether the queue's reserved GPUs reach QueueSaturated of
// its nominal quota on some flavor at step i.
func (v *queueView) saturated(i int) bool {
	for _, f := range v.q.Flavors {
		if nom := f.Nominal.at(i); nom > 0 && f.Reserved.at(i) >= v.th.QueueSaturated*nom {
			return true
		}
	}
	return false
}

// nominalReported says whether any flavor's nominal quota was reported.
func (v *queueView) nominalReported() bool {
	for _, f := range v.q.Flavors {
		if f.Nominal.stats(v.from, v.n).n > 0 {
			return true
		}
	}
	return false
}

// idleElsewhere is the largest nominal quota (at least StrandedIdleGPUs)
// unused at step i where the queue's waiting workloads cannot go: another
// queue of its cohort (within that queue's lending limit), or the queue's
// own quota on a flavor other than the one it has used up.
func (v *queueView) idleElsewhere(i int) (idleQuota, bool) {
	best := idleQuota{}
	ownSaturated := v.saturated(i)
	for qi := range v.s.Queues {
		o := &v.s.Queues[qi]
		own := o.ClusterQueue == v.q.ClusterQueue && o.Cluster == v.q.Cluster
		if !own && (o.Cluster != v.q.Cluster || v.q.Cohort == "" || o.Cohort != v.q.Cohort) {
			continue
		}
		if own && !ownSaturated {
			continue // its own idle quota would admit its work
		}
		for _, fl := range o.flavorNames() {
			f := o.Flavors[fl]
			nom, res := f.Nominal.at(i), f.Reserved.at(i)
			if !reported(nom) {
				continue
			}
			if !reported(res) {
				res = 0
			}
			if own && res >= v.th.QueueSaturated*nom {
				continue
			}
			idle := nom - res
			if lend := f.LendingLimit.at(i); !own && reported(lend) && lend < idle {
				idle = lend
			}
			if idle >= v.th.StrandedIdleGPUs && idle > best.gpus {
				best = idleQuota{queue: o.ClusterQueue, flavor: fl, gpus: idle, own: own}
			}
		}
	}
	return best, best.gpus > 0
}

// queueFindings diagnoses every queue: its findings (in precedence order)
// and its primary state.
func queueFindings(s *Snapshot, th Thresholds) ([]Finding, map[string]State) {
	var out []Finding
	primary := map[string]State{}
	for i := range s.Queues {
		q := &s.Queues[i]
		v := newQueueView(s, q, th)
		var fs []Finding
		for _, det := range []func(*queueView) *Finding{detectStrandedQuota, detectQuotaStarved, detectAdmittedNotRunning} {
			if f := det(v); f != nil {
				fs = append(fs, *f)
			}
		}
		st := StateHealthy
		if len(fs) > 0 {
			st = fs[0].State
		}
		primary[q.Cluster+"\xff"+q.ClusterQueue] = st
		out = append(out, fs...)
	}
	return out, primary
}

func (v *queueView) finding(state State, sev Severity, since time.Time, gpus float64, summary, action string, ev ...Evidence) *Finding {
	return &Finding{Subject: v.q.Subject(), State: state, Severity: sev, Confidence: round(v.conf), Since: since,
		Summary: summary, Action: action, Evidence: ev, Caveats: append([]string(nil), v.caveats...), queueGPUs: int(math.Ceil(gpus))}
}

func (v *queueView) ev(signal, stat string, t Track) Evidence {
	st := t.stats(v.from, v.n)
	val := map[string]float64{"mean": st.mean, "max": st.max, "last": st.last}[stat]
	return evidence(signal, stat, val, v.s.Queries[signal])
}

// detectStrandedQuota: workloads wait for quota while quota that could
// hold them idles where they cannot go, over the sustain period.
func detectStrandedQuota(v *queueView) *Finding {
	var last idleQuota
	share, since := v.share(func(i int) bool {
		if !v.waitStep(i) {
			return false
		}
		iq, ok := v.idleElsewhere(i)
		if ok {
			last = iq
		}
		return ok
	})
	if share < v.th.SustainShare || last.gpus == 0 {
		return nil
	}
	q := v.q
	where := fmt.Sprintf("ClusterQueue %s", last.queue)
	if last.own {
		where = "its own quota"
	}
	summary := fmt.Sprintf("Workloads of ClusterQueue %s wait for quota (%s) while %.3g GPUs of %s on flavor %s idle in cohort %q.",
		q.ClusterQueue, v.waitSrc, last.gpus, where, last.flavor, q.Cohort)
	var action string
	_, hasFlavor := q.Flavors[last.flavor]
	qf := q.Flavors[last.flavor]
	switch {
	case last.own || !hasFlavor:
		action = fmt.Sprintf("Flavor fungibility: the waiting workloads cannot use flavor %s. Add %s to %s's resource group (with flavorFungibility whenCanBorrow: TryNextFlavor) or let its workloads tolerate %s nodes.", last.flavor, last.flavor, q.ClusterQueue, last.flavor)
	case qf != nil && reported(qf.BorrowingLimit.stats(v.from, v.n).last) && qf.Reserved.stats(v.from, v.n).last-qf.Nominal.stats(v.from, v.n).last >= qf.BorrowingLimit.stats(v.from, v.n).last:
		action = fmt.Sprintf("Raise %s's borrowingLimit on flavor %s (now %.3g GPUs): it has reached it while %s lends nothing it could use.", q.ClusterQueue, last.flavor, qf.BorrowingLimit.stats(v.from, v.n).last, last.queue)
	default:
		action = fmt.Sprintf("Let %s borrow %s's idle %s quota: check %s's lendingLimit and %s's borrowingLimit on %s, or the cohort membership of both queues.", q.ClusterQueue, last.queue, last.flavor, last.queue, q.ClusterQueue, last.flavor)
	}
	ev := []Evidence{
		v.ev(sigQueuePendingGPUs, "last", q.PendingGPUs),
		v.ev(v.waitSrc, "last", v.waitTrack()),
		evidence("idle_quota_gpus:"+last.queue+"/"+last.flavor, "last", last.gpus, v.s.Queries[sigQueueNominal]),
	}
	return v.finding(StateStrandedQuota, SeverityWarning, since, last.gpus, summary, action, ev...)
}

// waitTrack is the track behind waitStep.
func (v *queueView) waitTrack() Track {
	switch v.waitSrc {
	case sigQueueUnadmitted:
		return v.q.WaitingForQuota
	case sigQueueByStatus:
		return v.q.Inadmissible
	}
	return v.q.Pending
}

// detectQuotaStarved: the queue's nominal quota is used up, workloads wait
// for it, and admission takes longer than QuotaStarvedWait at p95 (or
// nothing was admitted over the whole sustain period).
func detectQuotaStarved(v *queueView) *Finding {
	if !v.nominalReported() {
		return nil // cannot tell saturation without the quota (enableClusterQueueResources)
	}
	share, since := v.share(func(i int) bool { return v.waitStep(i) && v.saturated(i) })
	if share < v.th.SustainShare {
		return nil
	}
	// The wait now: the p95 of the admissions of the last 5 minutes (the
	// rate window). With none, work that waited at every step of the
	// sustain period, nothing admitted, has waited that long.
	p95 := v.q.WaitP95.at(v.n - 1)
	limit := v.th.QuotaStarvedWait.Seconds()
	switch {
	case reported(p95) && p95 < limit:
		return nil
	case !reported(p95) && share < 1:
		return nil
	}
	q := v.q
	wait := "no workload was admitted over the last " + v.th.Sustain.String()
	if reported(p95) {
		wait = fmt.Sprintf("admission wait p95 is %s", (time.Duration(p95) * time.Second).Round(time.Second))
	}
	var nominal float64
	var fls []string
	for _, fl := range q.flavorNames() {
		f := q.Flavors[fl]
		if nm := f.Nominal.stats(v.from, v.n).last; reported(nm) {
			nominal += nm
			fls = append(fls, fl)
		}
	}
	summary := fmt.Sprintf("ClusterQueue %s is quota starved: its nominal quota (%.3g GPUs on %s) is used up and workloads wait; %s.",
		q.ClusterQueue, nominal, strings.Join(fls, ", "), wait)
	action := fmt.Sprintf("Raise %s's nominal quota, or put it in a cohort with lendable quota and a borrowingLimit; otherwise the wait is the quota working as set.", q.ClusterQueue)
	if q.Cohort != "" {
		action = fmt.Sprintf("Raise %s's nominal quota or its borrowingLimit in cohort %q; its cohort has no idle quota to lend now.", q.ClusterQueue, q.Cohort)
	}
	ev := []Evidence{evidence(sigQueueWaitP95, "last", p95, v.s.Queries[sigQueueWaitP95]), v.ev(v.waitSrc, "last", v.waitTrack()), v.ev(sigQueuePendingGPUs, "last", q.PendingGPUs)}
	for _, fl := range fls {
		f := q.Flavors[fl]
		ev = append(ev, v.ev(sigQueueReserved, "mean", f.Reserved), v.ev(sigQueueNominal, "last", f.Nominal))
	}
	return v.finding(StateQuotaStarved, SeverityWarning, since, nominal, summary, action, ev...)
}

// detectAdmittedNotRunning: admitted workloads take longer than
// AdmittedReadyWait (p95) from admission to ready pods, holding quota and
// GPUs that run nothing meanwhile.
func detectAdmittedNotRunning(v *queueView) *Finding {
	// The largest p95 over the sustain period (each over its 5-minute
	// rate window): readiness is observed once per workload, and slow
	// startups come seldom. None says nothing.
	p95 := v.q.UntilReadyP95.stats(v.from, v.n).max
	if !reported(p95) || p95 < v.th.AdmittedReadyWait.Seconds() {
		return nil
	}
	if adm := v.q.Admitted.stats(v.from, v.n).last; reported(adm) && adm == 0 {
		return nil
	}
	_, since := v.share(func(i int) bool { return v.q.UntilReadyP95.at(i) >= v.th.AdmittedReadyWait.Seconds() })
	var held float64
	for _, f := range v.q.Flavors {
		if r := f.Reserved.stats(v.from, v.n).mean; reported(r) {
			held += r
		}
	}
	summary := fmt.Sprintf("Workloads admitted by ClusterQueue %s take %s (p95) from admission to ready pods: they hold quota and GPUs that run nothing meanwhile.",
		v.q.ClusterQueue, (time.Duration(p95) * time.Second).Round(time.Second))
	action := "Find what delays the pods: image pulls (pre-pull or cache the images), node provisioning (autoscaler, capacity), or volumes; set waitForPodsReady's timeout so a stuck workload is requeued and frees its quota."
	ev := []Evidence{evidence(sigQueueUntilReady95, "max", p95, v.s.Queries[sigQueueUntilReady95]), v.ev(sigQueueAdmitted, "last", v.q.Admitted)}
	return v.finding(StateAdmittedNotRunning, SeverityWarning, since, held, summary, action, ev...)
}
