package diagnose

import (
	"encoding/json"
	"math"
	"slices"
)

// QueueStatus is one ClusterQueue's view over the window: its primary
// state, how long admission takes, what waits and why, and its quota per
// flavor with what idles beside it in the cohort and what was borrowed and
// lent. Every surface (dashboard, report, `top`, /api/v1/queues) shows
// these numbers; Reading values the Kueue version does not report are
// "not reported", never 0.
type QueueStatus struct {
	Subject Subject  `json:"subject"`
	Primary State    `json:"primary"`
	Cohort  string   `json:"cohort,omitempty"`
	Teams   []string `json:"teams,omitempty"`
	// Admission wait p50 and p95 (seconds), latest in the window.
	WaitP50 Reading `json:"admission_wait_p50_seconds"`
	WaitP95 Reading `json:"admission_wait_p95_seconds"`
	// AdmittedUntilReadyP95 (seconds, waitForPodsReady), latest.
	AdmittedUntilReadyP95 Reading `json:"admitted_until_ready_p95_seconds"`
	Pending               Reading `json:"pending_workloads"`
	Inadmissible          Reading `json:"inadmissible_workloads"`
	// PendingGPUs are asked for and not admitted (Kueue 0.18+).
	PendingGPUs Reading `json:"pending_gpus"`
	// Unadmitted counts workloads by "reason/underlying_cause" (Kueue
	// 0.19+); nil when not reported.
	Unadmitted map[string]float64 `json:"unadmitted,omitempty"`
	// UnadmittedReported says whether Kueue reports the reasons at all.
	UnadmittedReported bool                `json:"unadmitted_reported"`
	Flavors            []QueueFlavorStatus `json:"flavors,omitempty"`
	// BorrowedGPUHours and LentGPUHours over the window, all flavors.
	BorrowedGPUHours float64 `json:"borrowed_gpu_hours"`
	LentGPUHours     float64 `json:"lent_gpu_hours"`
}

// QueueFlavorStatus is a queue's quota on one flavor (GPU-equivalents):
// latest nominal and reserved, its idle quota, the idle quota of the other
// queues of its cohort on the same flavor, and the GPU-hours it borrowed
// from and lent to the cohort over the window.
type QueueFlavorStatus struct {
	Flavor           string  `json:"flavor"`
	Nominal          Reading `json:"nominal_gpus"`
	Reserved         Reading `json:"reserved_gpus"`
	Idle             Reading `json:"idle_gpus"`
	CohortIdle       Reading `json:"cohort_idle_gpus"`
	BorrowedGPUHours float64 `json:"borrowed_gpu_hours"`
	LentGPUHours     float64 `json:"lent_gpu_hours"`
}

// Reading is a value that may be not reported (JSON null, never 0).
type Reading struct {
	Value    float64
	Reported bool
}

func reading(x float64) Reading {
	if math.IsNaN(x) || math.IsInf(x, 0) {
		return Reading{}
	}
	return Reading{Value: round(x), Reported: true}
}

// MarshalJSON writes a not-reported reading as null.
func (r Reading) MarshalJSON() ([]byte, error) {
	if !r.Reported {
		return []byte("null"), nil
	}
	return json.Marshal(r.Value)
}

// UnmarshalJSON reads null as not reported.
func (r *Reading) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		*r = Reading{}
		return nil
	}
	r.Reported = true
	return json.Unmarshal(b, &r.Value)
}

// Text renders the reading with format f, or "not reported".
func (r Reading) Text(f func(float64) string) string {
	if !r.Reported {
		return "not reported"
	}
	return f(r.Value)
}

// queueStatuses computes every queue's view from the snapshot.
func queueStatuses(s *Snapshot, primary map[string]State) []QueueStatus {
	n := s.Window.Steps()
	h := s.Window.Step.Hours()
	// Per cohort and flavor at each step: what borrowers took above their
	// nominal quota, and what lenders left unused. A lender's share of the
	// borrowing is its share of the unused quota.
	type cf struct{ cluster, cohort, flavor string }
	borrowed := map[cf][]float64{}
	unused := map[cf][]float64{}
	for qi := range s.Queues {
		q := &s.Queues[qi]
		if q.Cohort == "" {
			continue
		}
		for fl, f := range q.Flavors {
			k := cf{q.Cluster, q.Cohort, fl}
			if borrowed[k] == nil {
				borrowed[k], unused[k] = make([]float64, n), make([]float64, n)
			}
			for i := range n {
				nom, res := f.Nominal.at(i), f.Reserved.at(i)
				if !reported(nom) || !reported(res) {
					continue
				}
				borrowed[k][i] += max(0, res-nom)
				unused[k][i] += max(0, nom-res)
			}
		}
	}
	var out []QueueStatus
	for qi := range s.Queues {
		q := &s.Queues[qi]
		last := func(t Track) Reading { return reading(t.stats(0, n).last) }
		st := QueueStatus{Subject: q.Subject(), Primary: primary[q.Cluster+"\xff"+q.ClusterQueue], Cohort: q.Cohort, Teams: q.Teams,
			WaitP50: last(q.WaitP50), WaitP95: last(q.WaitP95), AdmittedUntilReadyP95: last(q.UntilReadyP95),
			Pending: last(q.Pending), Inadmissible: last(q.Inadmissible), PendingGPUs: last(q.PendingGPUs),
			UnadmittedReported: len(q.Unadmitted) > 0}
		if st.UnadmittedReported {
			st.Unadmitted = map[string]float64{}
			for k, t := range q.Unadmitted {
				if x := t.stats(0, n).last; reported(x) && x > 0 {
					st.Unadmitted[k] = x
				}
			}
		}
		for _, fl := range q.flavorNames() {
			f := q.Flavors[fl]
			fs := QueueFlavorStatus{Flavor: fl, Nominal: last(f.Nominal), Reserved: last(f.Reserved)}
			if fs.Nominal.Reported && fs.Reserved.Reported {
				fs.Idle = reading(max(0, fs.Nominal.Value-fs.Reserved.Value))
			}
			if q.Cohort != "" {
				fs.CohortIdle = reading(cohortIdle(s, q, fl, n-1))
				k := cf{q.Cluster, q.Cohort, fl}
				// Each step stands for the interval to the next: the
				// window's n-1 intervals.
				for i := range n - 1 {
					nom, res := f.Nominal.at(i), f.Reserved.at(i)
					if !reported(nom) || !reported(res) {
						continue
					}
					fs.BorrowedGPUHours += max(0, res-nom) * h
					if u := unused[k][i]; u > 0 {
						fs.LentGPUHours += borrowed[k][i] * max(0, nom-res) / u * h
					}
				}
			}
			fs.BorrowedGPUHours, fs.LentGPUHours = round(fs.BorrowedGPUHours), round(fs.LentGPUHours)
			st.BorrowedGPUHours += fs.BorrowedGPUHours
			st.LentGPUHours += fs.LentGPUHours
			st.Flavors = append(st.Flavors, fs)
		}
		st.BorrowedGPUHours, st.LentGPUHours = round(st.BorrowedGPUHours), round(st.LentGPUHours)
		out = append(out, st)
	}
	slices.SortFunc(out, func(a, b QueueStatus) int {
		if c := cmpString(a.Subject.Cluster, b.Subject.Cluster); c != 0 {
			return c
		}
		return cmpString(a.Subject.ClusterQueue, b.Subject.ClusterQueue)
	})
	return out
}

// cohortIdle is the nominal quota the other queues of q's cohort leave
// unused on flavor fl at step i (NaN when none reports it).
func cohortIdle(s *Snapshot, q *Queue, fl string, i int) float64 {
	idle, any := 0.0, false
	for oi := range s.Queues {
		o := &s.Queues[oi]
		if o.Cluster != q.Cluster || o.Cohort != q.Cohort || o.ClusterQueue == q.ClusterQueue {
			continue
		}
		f := o.Flavors[fl]
		if f == nil {
			continue
		}
		nom, res := f.Nominal.at(i), f.Reserved.at(i)
		if !reported(nom) || !reported(res) {
			continue
		}
		idle += max(0, nom-res)
		any = true
	}
	if !any {
		return math.NaN()
	}
	return idle
}
