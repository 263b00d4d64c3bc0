package diagnose

import (
	"context"
	"fmt"
	"slices"

	"github.com/prometheus/common/model"

	"github.com/servescope/servescope/internal/analyze/query"
	"github.com/servescope/servescope/internal/schema"
)

// Signal names of the queue tracks, as evidence names them.
const (
	sigQueuePending      = "queue_pending_workloads"
	sigQueueByStatus     = "queue_pending_workloads_by_status"
	sigQueueUnadmitted   = "queue_unadmitted_workloads"
	sigQueuePendingGPUs  = "queue_pending_gpus"
	sigQueueAdmitted     = "queue_admitted_workloads"
	sigQueueNominal      = "queue_nominal_quota_gpus"
	sigQueueReserved     = "queue_reserved_gpus"
	sigQueueBorrowLimit  = "queue_borrowing_limit_gpus"
	sigQueueLendLimit    = "queue_lending_limit_gpus"
	sigQueueCohort       = "queue_cohort"
	sigQueueTeam         = "queue_team"
	sigQueueWaitP50      = "queue_admission_wait_seconds:p50"
	sigQueueWaitP95      = "queue_admission_wait_seconds:p95"
	sigQueueUntilReady95 = "queue_admitted_until_ready_seconds:p95"
)

// Kueue's unadmitted-workload labels the detectors read (apis/kueue/v1beta2
// workload_types.go): the QuotaReserved condition's reason when a workload
// waits for quota, and the pending status Kueue gives a workload that
// cannot be admitted as things stand.
const (
	causeWaitingForQuota = "WaitingForQuota"
	statusInadmissible   = "inadmissible"
)

// queueSignals are the plain signals of a queue snapshot.
var queueSignals = []string{sigQueuePending, sigQueueByStatus, sigQueueUnadmitted, sigQueuePendingGPUs, sigQueueAdmitted,
	sigQueueNominal, sigQueueReserved, sigQueueBorrowLimit, sigQueueLendLimit, sigQueueCohort, sigQueueTeam}

// prepareQueues resolves the queue signals' queries.
func (d *Diagnoser) prepareQueues(cat *schema.Catalog, recorded bool) error {
	for _, name := range queueSignals {
		q, err := cat.Select(name, recorded)
		if err != nil {
			return fmt.Errorf("diagnose: signal %s: %w", name, err)
		}
		d.queries[name] = q
	}
	for _, x := range []struct {
		key, signal string
		q           float64
	}{
		{sigQueueWaitP50, "queue_admission_wait_seconds", 0.5},
		{sigQueueWaitP95, "queue_admission_wait_seconds", 0.95},
		{sigQueueUntilReady95, "queue_admitted_until_ready_seconds", 0.95},
	} {
		if recorded {
			d.queries[x.key] = schema.QuantileName(x.signal, x.q)
			continue
		}
		q, err := cat.Quantile(x.signal, x.q)
		if err != nil {
			return fmt.Errorf("diagnose: %s: %w", x.key, err)
		}
		d.queries[x.key] = q
	}
	return nil
}

// snapshotQueues reads every ClusterQueue's tracks into s.Queues.
func (d *Diagnoser) snapshotQueues(ctx context.Context, s *Snapshot, rng query.Range) error {
	n := s.Window.Steps()
	queues := map[string]*Queue{}
	queue := func(m model.Metric) *Queue {
		k := string(m[d.cluster]) + "\xff" + string(m["cluster_queue"])
		q := queues[k]
		if q == nil {
			q = &Queue{Cluster: string(m[d.cluster]), ClusterQueue: string(m["cluster_queue"]), Flavors: map[string]*QueueFlavor{}, Unadmitted: map[string]Track{}}
			queues[k] = q
		}
		return q
	}
	into := func(t *Track, ss *model.SampleStream) {
		if *t == nil {
			*t = newTrack(n)
		}
		fill(*t, s.Window, ss.Values, true)
	}
	flavor := func(q *Queue, fl string) *QueueFlavor {
		f := q.Flavors[fl]
		if f == nil {
			f = &QueueFlavor{}
			q.Flavors[fl] = f
		}
		return f
	}
	for _, name := range append(slices.Clone(queueSignals), sigQueueWaitP50, sigQueueWaitP95, sigQueueUntilReady95) {
		qs := d.queries[name]
		s.Queries[name] = qs
		m, err := d.rangeQuery(ctx, qs, rng, name)
		if err != nil {
			return err
		}
		for _, ss := range m {
			if ss.Metric["cluster_queue"] == "" {
				continue
			}
			q := queue(ss.Metric)
			fl := string(ss.Metric["flavor"])
			switch name {
			case sigQueuePending:
				into(&q.Pending, ss)
			case sigQueueByStatus:
				if ss.Metric["status"] == statusInadmissible {
					into(&q.Inadmissible, ss)
				}
			case sigQueueUnadmitted:
				key := string(ss.Metric["reason"]) + "/" + string(ss.Metric["underlying_cause"])
				t := q.Unadmitted[key]
				into(&t, ss)
				q.Unadmitted[key] = t
				if ss.Metric["underlying_cause"] == causeWaitingForQuota {
					into(&q.WaitingForQuota, ss)
				}
			case sigQueuePendingGPUs:
				into(&q.PendingGPUs, ss)
			case sigQueueAdmitted:
				into(&q.Admitted, ss)
			case sigQueueNominal:
				into(&flavor(q, fl).Nominal, ss)
			case sigQueueReserved:
				into(&flavor(q, fl).Reserved, ss)
			case sigQueueBorrowLimit:
				into(&flavor(q, fl).BorrowingLimit, ss)
			case sigQueueLendLimit:
				into(&flavor(q, fl).LendingLimit, ss)
			case sigQueueCohort:
				q.Cohort = string(ss.Metric["root_cohort"])
				q.CohortReported = true
			case sigQueueTeam:
				if t := string(ss.Metric["team"]); t != "" && !slices.Contains(q.Teams, t) {
					q.Teams = append(q.Teams, t)
				}
			case sigQueueWaitP50:
				into(&q.WaitP50, ss)
			case sigQueueWaitP95:
				into(&q.WaitP95, ss)
			case sigQueueUntilReady95:
				into(&q.UntilReadyP95, ss)
			}
		}
	}
	keys := make([]string, 0, len(queues))
	for k := range queues {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		q := queues[k]
		slices.Sort(q.Teams)
		s.Queues = append(s.Queues, *q)
	}
	return nil
}
