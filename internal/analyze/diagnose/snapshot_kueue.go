package diagnose

import (
	"maps"
	"slices"
)

// Queue is one Kueue ClusterQueue over the window: what waits, what is
// admitted, its quota per flavor and how long admission and readiness
// take. A track is nil where this Kueue version or configuration does not
// report the signal (not reported, never 0).
type Queue struct {
	Cluster      string `json:"cluster,omitempty"`
	ClusterQueue string `json:"cluster_queue"`
	// Cohort is the queue's root cohort; CohortReported says Kueue told it
	// (kueue_cluster_queue_info, 0.18+).
	Cohort         string `json:"cohort,omitempty"`
	CohortReported bool   `json:"cohort_reported"`
	// Teams are the teams whose pods the queue admits (topology).
	Teams []string `json:"teams,omitempty"`

	Pending         Track `json:"-"`
	Inadmissible    Track `json:"-"`
	WaitingForQuota Track `json:"-"`
	PendingGPUs     Track `json:"-"`
	Admitted        Track `json:"-"`
	WaitP50         Track `json:"-"`
	WaitP95         Track `json:"-"`
	UntilReadyP95   Track `json:"-"`
	// Unadmitted is keyed "reason/underlying_cause".
	Unadmitted map[string]Track `json:"-"`
	// Flavors holds the quota tracks per ResourceFlavor.
	Flavors map[string]*QueueFlavor `json:"-"`
}

// QueueFlavor is a queue's quota on one flavor, in GPU-equivalents.
type QueueFlavor struct {
	Nominal, Reserved, BorrowingLimit, LendingLimit Track
}

// Subject is the queue as a finding's subject.
func (q *Queue) Subject() Subject {
	return Subject{Level: LevelQueue, Cluster: q.Cluster, ClusterQueue: q.ClusterQueue}
}

// flavorNames lists the queue's flavors, sorted.
func (q *Queue) flavorNames() []string { return slices.Sorted(maps.Keys(q.Flavors)) }

// slice returns the queue with every track cut to [from, to).
func (q Queue) slice(from, to int) Queue {
	for _, t := range []*Track{&q.Pending, &q.Inadmissible, &q.WaitingForQuota, &q.PendingGPUs, &q.Admitted, &q.WaitP50, &q.WaitP95, &q.UntilReadyP95} {
		*t = t.slice(from, to)
	}
	un := map[string]Track{}
	for k, t := range q.Unadmitted {
		un[k] = t.slice(from, to)
	}
	q.Unadmitted = un
	fls := map[string]*QueueFlavor{}
	for k, f := range q.Flavors {
		fls[k] = &QueueFlavor{Nominal: f.Nominal.slice(from, to), Reserved: f.Reserved.slice(from, to),
			BorrowingLimit: f.BorrowingLimit.slice(from, to), LendingLimit: f.LendingLimit.slice(from, to)}
	}
	q.Flavors = fls
	return q
}
