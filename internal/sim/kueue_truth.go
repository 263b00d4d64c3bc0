package sim

import (
	"math"
	"time"
)

// Queue states: what really holds a ClusterQueue's work back, minute by
// minute (Truth.Queues). They are judged from the simulator's own state,
// never from its metrics.
const (
	// StateStrandedQuota: work has waited for quota for 4 minutes without
	// a break while quota idles
	// elsewhere in the cohort (another queue, or another flavor) that they
	// cannot use (borrowing or lending limit, flavor).
	StateStrandedQuota State = "stranded_quota"
	// StateQuotaStarved: workloads wait for the queue's used-up nominal
	// quota and admission takes at least 320 s: one has waited that long,
	// or one admitted in the last 320 s had.
	StateQuotaStarved State = "quota_starved"
	// StateAdmittedNotRunning: admitted workloads hold quota and GPUs while
	// their pods take at least 320 s to become ready (one is starting, or
	// one became ready so in the last 10 minutes).
	StateAdmittedNotRunning State = "admitted_not_running"
)

// QueueMinute is one ClusterQueue's true state for one minute: the state
// that held at most of its ticks.
type QueueMinute struct {
	Time  time.Time `json:"t"`
	State State     `json:"state"`
}

// QueueTruth is what held one ClusterQueue's work back.
type QueueTruth struct {
	ClusterQueue string        `json:"cluster_queue"`
	Team         string        `json:"team"`
	Cohort       string        `json:"cohort,omitempty"`
	Minutes      []QueueMinute `json:"minutes"`
}

// queueStates lists the queue states in order of precedence.
func queueStates() []State {
	return []State{StateStrandedQuota, StateQuotaStarved, StateAdmittedNotRunning, StateHealthy}
}

// queueStateNow judges a queue at the current tick.
func (c *Cluster) queueStateNow(t *team) State {
	stranded, starved, slow, pending := false, false, false, false
	for _, w := range c.workloads {
		if w.team != t || w.finished {
			continue
		}
		if w.admitted {
			slow = slow || (!w.ready && w.startup() >= truthStartupSeconds)
			continue
		}
		pending = true
		if c.idleElsewhere(t, w) {
			stranded = true
		}
		if t.usage[w.flavor]+w.units > t.nominal[w.flavor] &&
			(c.now-w.created >= truthWaitSeconds || c.now-t.longWaitAt <= truthWaitSeconds) {
			starved = true
		}
	}
	// Work has waited for quota without a break since waitingSince.
	switch {
	case !pending:
		t.waitingSince = math.Inf(1)
	case math.IsInf(t.waitingSince, 1):
		t.waitingSince = c.now
	}
	slow = slow || c.now-t.slowReadyAt <= truthSlowRecentSeconds
	switch {
	case stranded && c.now-t.waitingSince >= truthStrandedSeconds:
		return StateStrandedQuota
	case starved:
		return StateQuotaStarved
	case slow:
		return StateAdmittedNotRunning
	}
	return StateHealthy
}

// idleElsewhere says whether quota that could hold w idles where w cannot
// use it: another queue of its cohort, or another flavor of its own queue
// or cohort, has at least w's units of nominal quota unused.
func (c *Cluster) idleElsewhere(t *team, w *workload) bool {
	for _, o := range c.teams {
		if o != t && (t.spec.Cohort == "" || o.spec.Cohort != t.spec.Cohort) {
			continue
		}
		for fl, n := range o.nominal {
			if o == t && fl == w.flavor {
				continue
			}
			if n-o.usage[fl] >= w.units {
				return true
			}
		}
	}
	return false
}

// observeQueues counts each queue's state at this tick.
func (c *Cluster) observeQueues() {
	for _, t := range c.teams {
		if t.qticks == nil {
			t.qticks = map[State]int{}
		}
		t.qticks[c.queueStateNow(t)]++
	}
}

// closeQueueMinutes records each queue's state for the minute at ts.
func (c *Cluster) closeQueueMinutes(ts time.Time) {
	for _, t := range c.teams {
		best, n := StateHealthy, 0
		for _, s := range queueStates() {
			if t.qticks[s] > n {
				best, n = s, t.qticks[s]
			}
		}
		clear(t.qticks)
		t.qtruth = trim(append(t.qtruth, QueueMinute{Time: ts, State: best}), c.truth.keep)
	}
}

// queueTruth copies the queues' minutes from since on.
func (c *Cluster) queueTruth(since time.Time) []QueueTruth {
	out := []QueueTruth{}
	for _, t := range c.teams {
		out = append(out, QueueTruth{ClusterQueue: t.cq, Team: t.name, Cohort: t.spec.Cohort,
			Minutes: since1(t.qtruth, since, func(m QueueMinute) time.Time { return m.Time })})
	}
	return out
}
