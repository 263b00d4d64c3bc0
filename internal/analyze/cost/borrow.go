package cost

import (
	"math"
)

// Borrowing between the ClusterQueues of a cohort: at each point a queue
// whose reserved GPUs (kueue_cluster_queue_resource_reservation) exceed its
// nominal quota borrows the excess; the cohort's other queues lend it, each
// its share of the cohort's unused nominal quota on that flavor. Borrowed
// hours are charged to the borrower's team at the flavor's price, lent
// hours credited to the lender's; both need enableClusterQueueResources
// (without it they are 0 and QuotaIdle is not reported).

// cohortKey is one cohort's flavor.
type cohortKey struct{ cohort, flavor string }

// cqPoint is one ClusterQueue's nominal quota and reservation on one flavor.
type cqPoint struct {
	cq, cohort, flavor, resource string
	nominal, reserved            []float64
}

// borrowing adds each row's borrowed, lent and idle-quota GPU-points.
func (st *state) borrowing() {
	if st.by == ByNamespace || len(st.d.reserve) == 0 {
		return
	}
	type key struct{ cq, flavor string }
	qs := map[key]*cqPoint{}
	var order []key
	for _, s := range st.d.quota {
		k := key{string(s.m["cluster_queue"]), string(s.m["flavor"])}
		if qs[k] == nil {
			qs[k] = &cqPoint{cq: k.cq, cohort: string(s.m["cohort"]), flavor: k.flavor, resource: string(s.m["resource"])}
			order = append(order, k)
		}
		qs[k].nominal = s.v
	}
	for _, s := range st.d.reserve {
		if p := qs[key{string(s.m["cluster_queue"]), string(s.m["flavor"])}]; p != nil {
			p.reserved = s.v
		}
	}
	n := st.g.n
	borrowed := map[cohortKey][]float64{}
	unused := map[cohortKey][]float64{}
	for _, k := range order {
		p := qs[k]
		if p.cohort == "" || p.reserved == nil {
			continue
		}
		ck := cohortKey{p.cohort, p.flavor}
		if borrowed[ck] == nil {
			borrowed[ck], unused[ck] = make([]float64, n), make([]float64, n)
		}
		for i := range n {
			nom, res := p.nominal[i], p.reserved[i]
			if math.IsNaN(nom) || math.IsNaN(res) {
				continue
			}
			borrowed[ck][i] += max(0, res-nom)
			unused[ck][i] += max(0, nom-res)
		}
	}
	for _, k := range order {
		p := qs[k]
		if p.reserved == nil {
			continue
		}
		b := bucket{flavor: p.flavor, model: st.flavorModel[p.flavor]}
		w := migWeight(p.resource)
		r := st.row(attrs{team: st.queueTeam(p.cq), queue: p.cq, model: b.model})
		r.hasQuotaUse = true
		ck := cohortKey{p.cohort, p.flavor}
		for i := range n {
			nom, res := p.nominal[i], p.reserved[i]
			if math.IsNaN(nom) || math.IsNaN(res) {
				continue
			}
			wt := w * st.g.weight(i)
			idle := max(0, nom-res)
			if p.cohort != "" {
				r.borrowed[b] += max(0, res-nom) * wt
				if u := unused[ck][i]; u > 0 && idle > 0 {
					lent := borrowed[ck][i] * idle / u
					r.lent[b] += lent * wt
					if !st.c.opts.LentQuotaIsIdle {
						idle -= lent
					}
				}
			}
			r.quotaIdle[b] += max(0, idle) * wt
		}
	}
}
