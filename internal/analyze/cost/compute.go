package cost

import (
	"context"
	"errors"
	"fmt"
	"math"
	"runtime"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/common/model"

	"github.com/servescope/servescope/internal/analyze/query"
)

// grid is the evaluation times of one set: points t_k = start + k·step
// before end, point k standing for the interval [t_k, t_k + step), the
// last one only up to end (a window that is not a whole number of steps,
// as the first and last day of a split window often are). The value at t_k
// is the state at t_k (the latest sample at or before it, within the
// lookback, and nothing after a staleness marker), which holds until the
// next point.
type grid struct {
	start, end time.Time
	step       time.Duration
	n          int
	// tail is the last point's share of a step, in (0, 1].
	tail float64
	// head, when the data begin inside the window, is the point of the
	// first sample and extra the share of a step before it that the data
	// cover: that point's values also stand for that part of the step
	// before it (see firstPartial).
	head  int
	extra float64
}

func newGrid(start, end time.Time, step time.Duration) grid {
	d := end.Sub(start)
	n := int((d + step - 1) / step)
	return grid{start: start, end: end, step: step, n: n, tail: float64(d-time.Duration(n-1)*step) / float64(step), head: -1}
}

// weight is point k's share of a step: 1 but for a short last point and
// for the first point with data when they begin inside the window.
func (g grid) weight(k int) float64 {
	w := 1.0
	if k == g.n-1 {
		w = g.tail
	}
	if k == g.head {
		w += g.extra
	}
	return w
}

func (g grid) index(t model.Time) int {
	d := int64(t)*int64(time.Millisecond) - g.start.UnixNano()
	k := int(math.Round(float64(d) / float64(g.step)))
	if k < 0 || k >= g.n {
		return -1
	}
	return k
}

// series is one result series sampled on the grid (NaN where absent).
type series struct {
	m model.Metric
	v []float64
}

// at is the time of point k.
func (g grid) at(k int) time.Time { return g.start.Add(time.Duration(k) * g.step) }

// defaultChunk is the longest span of evaluation times one range query
// covers: a UTC day (query.DayChunk says why).
const defaultChunk = query.DayChunk

// chunks cuts the grid's points into runs [k0, k1) of query.Range.Chunks's
// ranges. chunk ≤ 0 is one run.
func (g grid) chunks(chunk time.Duration) [][2]int {
	if g.n == 0 && chunk > 0 {
		return nil
	}
	var out [][2]int
	for _, r := range (query.Range{Start: g.start, End: g.at(g.n - 1), Step: g.step}).Chunks(chunk) {
		k0 := int(r.Start.Sub(g.start) / g.step)
		out = append(out, [2]int{k0, k0 + int(r.End.Sub(r.Start)/g.step) + 1})
	}
	return out
}

// load evaluates expr at the grid's points, one range query per chunk, and
// joins each series' points across chunks.
func (g grid) load(ctx context.Context, q Querier, expr string, chunk time.Duration) ([]series, error) {
	var out []series
	byFP := map[model.Fingerprint][]int{}
	for _, c := range g.chunks(chunk) {
		res, err := q.QueryRange(ctx, expr, query.Range{Start: g.at(c[0]), End: g.at(c[1] - 1), Step: g.step})
		if err != nil {
			return nil, fmt.Errorf("cost query %q: %w", expr, err)
		}
		m, ok := res.Value.(model.Matrix)
		if !ok {
			return nil, fmt.Errorf("cost query %q: got %s, want a matrix", expr, res.Value.Type())
		}
		for _, ss := range m {
			fp := ss.Metric.Fingerprint()
			i := slices.IndexFunc(byFP[fp], func(i int) bool { return out[i].m.Equal(ss.Metric) })
			if i < 0 {
				s := series{m: ss.Metric, v: make([]float64, g.n)}
				for j := range s.v {
					s.v[j] = math.NaN()
				}
				byFP[fp] = append(byFP[fp], len(out))
				out = append(out, s)
				i = len(out) - 1
			} else {
				i = byFP[fp][i]
			}
			v := out[i].v
			for _, p := range ss.Values {
				if k := g.index(p.Timestamp); k >= 0 {
					v[k] = float64(p.Value)
				}
			}
		}
	}
	return out, nil
}

// bucket is what a GPU-hour is priced by.
type bucket struct{ flavor, model string }

func (b bucket) name() string {
	switch {
	case b.flavor != "" && b.model != "":
		return "flavor=" + b.flavor + ",model=" + b.model
	case b.flavor != "":
		return "flavor=" + b.flavor
	case b.model != "":
		return "model=" + b.model
	}
	return "unknown GPU"
}

// acc accumulates one allocation's hours per bucket.
type acc struct {
	reserved, pod, kueue, used map[bucket]float64
	hasKueue                   bool
	// borrowed, lent and quotaIdle are the cohort borrowing's GPU-points
	// (borrow.go); hasQuotaUse says the queue's reservation is reported.
	borrowed, lent, quotaIdle map[bucket]float64
	hasQuotaUse               bool
	// energyJ is the energy of the GPUs the allocation's pods held, in J.
	energyJ float64
}

func newAcc() *acc {
	return &acc{reserved: map[bucket]float64{}, pod: map[bucket]float64{}, kueue: map[bucket]float64{}, used: map[bucket]float64{},
		borrowed: map[bucket]float64{}, lent: map[bucket]float64{}, quotaIdle: map[bucket]float64{}}
}

func sum(m map[bucket]float64) float64 {
	t := 0.0
	for _, k := range sortedBuckets(m) {
		t += m[k]
	}
	return t
}

func sortedBuckets(m map[bucket]float64) []bucket {
	ks := make([]bucket, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Slice(ks, func(i, j int) bool { return ks[i].name() < ks[j].name() })
	return ks
}

// data is everything one set reads.
type data struct {
	requests, running, podLabels, nsTeam, nodes, alloc, busy, lq, cq, quota, cards []series
	// reserve is the ClusterQueues' reservation (borrow.go).
	reserve []series
	// energy is gpu_energy_joules per GPU and point (loadEnergy).
	energy *energyData
	// promptTok and genTok are the token rates per pod and model_name.
	promptTok, genTok []series
	// serving names each serving pod's models (requests_running);
	// computedTok, cachedTok and transferTok split the prompt tokens by
	// how they were served, where the engine says so.
	serving, computedTok, cachedTok, transferTok []series
}

// fetchParallel is how many of a set's queries are in flight at once:
// twice the cores, at least 8. The embedded engine evaluates GOMAXPROCS
// queries at a time and queues 16 per slot beyond them (then refuses);
// all sixteen of one set at once, beside a diagnosis and a dashboard's
// refresh, could fill that queue on two cores. A remote backend still gets
// eight at a time.
func fetchParallel() int { return max(8, 2*runtime.GOMAXPROCS(0)) }

func (c *Calculator) fetch(ctx context.Context, q Querier, g grid) (*data, error) {
	d := &data{}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	jobs := []struct {
		dst  *[]series
		expr string
	}{
		{&d.requests, c.q.requests}, {&d.running, c.q.running}, {&d.podLabels, c.q.podLabels}, {&d.nsTeam, c.q.nsTeam}, {&d.nodes, c.q.nodes},
		{&d.alloc, c.q.alloc}, {&d.busy, c.q.busy}, {&d.lq, c.q.lqUsage}, {&d.cq, c.q.cqUsage}, {&d.quota, c.q.quota},
		{&d.reserve, c.q.cqReserve},
		{&d.cards, c.q.cards}, {&d.promptTok, c.q.promptTok}, {&d.genTok, c.q.genTok},
		{&d.serving, c.q.serving},
	}
	errs := make([]error, len(jobs))
	// At most fetchParallel queries in flight (slots is never closed).
	slots := make(chan struct{}, fetchParallel())
	for i, f := range jobs {
		wg.Go(func() {
			slots <- struct{}{}
			defer func() { <-slots }()
			s, err := g.load(ctx, q, f.expr, c.chunk)
			*f.dst, errs[i] = s, err
			if err != nil {
				cancel()
			}
		})
	}
	var energyErr error
	wg.Go(func() {
		slots <- struct{}{}
		defer func() { <-slots }()
		if d.energy, energyErr = c.loadEnergy(ctx, q, g); energyErr != nil {
			cancel()
		}
	})
	wg.Wait()
	if err := errors.Join(append(errs, energyErr)...); err != nil {
		return nil, err
	}
	// How prompt tokens were served, only where some engine counts prompt
	// tokens at all; GPU_UTIL (percent, absent on MIG) only for exporters
	// without profiling metrics (the profiling field wins). Both are read
	// at once.
	var then []loadJob
	if len(d.promptTok) > 0 {
		then = append(then, loadJob{&d.computedTok, c.q.computedTok}, loadJob{&d.cachedTok, c.q.cachedTok}, loadJob{&d.transferTok, c.q.transferTok})
	}
	if len(d.busy) == 0 {
		then = append(then, loadJob{&d.busy, c.q.busyUtil})
	}
	if err := c.loadAll(ctx, q, g, then); err != nil {
		return nil, err
	}
	return d, nil
}

// loadJob is one query of fetch and where its series go.
type loadJob struct {
	dst  *[]series
	expr string
}

// loadAll loads every job's query at once; the first error (in the jobs'
// order) is returned.
func (c *Calculator) loadAll(ctx context.Context, q Querier, g grid, jobs []loadJob) error {
	errs := make([]error, len(jobs))
	var wg sync.WaitGroup
	for i, j := range jobs {
		wg.Go(func() { *j.dst, errs[i] = g.load(ctx, q, j.expr, c.chunk) })
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// podKey names a pod.
type podKey struct{ ns, pod string }

// first returns the first non-empty label of names.
func first(m model.Metric, names []string) string {
	for _, n := range names {
		if v := m[model.LabelName(n)]; v != "" {
			return string(v)
		}
	}
	return ""
}

// podOf reads a series' pod, preferring exported_* and 1.x spellings over
// the target's labels.
func podOf(m model.Metric) podKey { return podKey{first(m, nsLabels()), first(m, podLabels())} }

// labelAt is, per grid point, a label value keyed by K; where two values
// overlap at one point (a relabelled pod within the lookback), the one that
// appeared later wins.
type labelAt[K comparable] struct {
	vals  map[K][]string
	first map[K][]int
}

func newLabelAt[K comparable]() *labelAt[K] {
	return &labelAt[K]{vals: map[K][]string{}, first: map[K][]int{}}
}

func (l *labelAt[K]) add(n int, k K, val string, s series) {
	if val == "" {
		return
	}
	vs, fs := l.vals[k], l.first[k]
	if vs == nil {
		vs, fs = make([]string, n), make([]int, n)
		l.vals[k], l.first[k] = vs, fs
	}
	first := slices.IndexFunc(s.v, func(v float64) bool { return !math.IsNaN(v) })
	for i, v := range s.v {
		if math.IsNaN(v) {
			continue
		}
		if vs[i] == "" || first > fs[i] || (first == fs[i] && val > vs[i]) {
			vs[i], fs[i] = val, first
		}
	}
}

func (l *labelAt[K]) at(k K, i int) string { return valueAt(l.vals[k], i) }

// valueAt is vs[i], "" for a nil vs.
func valueAt(vs []string, i int) string {
	if vs == nil {
		return ""
	}
	return vs[i]
}

// nearest is vs[i], else the nearest non-empty value.
func nearest(vs []string, i int) string {
	if vs == nil {
		return ""
	}
	if vs[i] != "" {
		return vs[i]
	}
	for d := 1; d < len(vs); d++ {
		if i-d >= 0 && vs[i-d] != "" {
			return vs[i-d]
		}
		if i+d < len(vs) && vs[i+d] != "" {
			return vs[i+d]
		}
	}
	return ""
}

// node is a node's GPU model and Kueue flavor.
type nodeInfo struct{ model, flavor string }

// attrs are what an allocation key is built from.
type attrs struct{ team, ns, queue, model string }

func (a attrs) key(by Aggregate) string {
	var v string
	switch by {
	case ByNamespace:
		v = a.ns
	case ByQueue:
		v = a.queue
	case ByModel:
		v = a.model
	default:
		v = a.team
	}
	if v == "" {
		return Unattributed
	}
	return v
}

func (c *Calculator) computeSet(ctx context.Context, q Querier, start, end time.Time, step time.Duration, by Aggregate, shareIdle bool) (*Set, error) {
	g := newGrid(start, end, step)
	set := &Set{Start: start, End: end}
	d, err := c.fetch(ctx, q, g)
	if err != nil {
		return nil, err
	}
	if !slices.ContainsFunc(d.alloc, func(s series) bool { return slices.ContainsFunc(s.v, func(v float64) bool { return !math.IsNaN(v) }) }) {
		// No point has data: they may begin inside the last step, after
		// its point. Evaluate again from the first sample on.
		first, err := c.firstSample(ctx, q, g.at(g.n-1), end, g.step)
		if err != nil {
			return nil, err
		}
		if first.After(start) && first.Before(end) {
			set, err := c.computeSet(ctx, q, first, end, step, by, shareIdle)
			if set != nil {
				set.Start = start
			}
			return set, err
		}
	}
	if err := c.firstPartial(ctx, q, &g, d); err != nil {
		return nil, err
	}
	st := newState(c, g, d, by)
	st.pods()
	st.capacityPoints()
	source := st.kueue()
	st.reserved()
	st.borrowing()
	st.energy()
	if !st.coverage(set) {
		// Not an error: a window before the first scrape or after the
		// last is an empty set that says so.
		set.Allocations = []Allocation{}
		set.Totals.Name = "__total__"
		set.Warnings = []string{fmt.Sprintf("no GPU data from %s to %s: nothing to attribute", start.Format(time.RFC3339), end.Format(time.RFC3339))}
		return set, nil
	}
	set.AllocationSource = source
	idle := st.toHours()
	c.finish(set, st.rows, idle, st.podAlloc, shareIdle, st.idleEnergyJ)
	c.fleetTotals(set, st)
	c.energyTotals(set, st)
	set.TokensPerJoule = st.tokensPerJoule()
	if rows := st.tokenRows(); len(rows) > 0 {
		set.TokenCost = &TokenCosts{Rows: rows}
	}
	return set, nil
}

// firstPartial finds where the data begin when they begin inside the
// window, between two grid points: the points before have no data, so the
// covered part of the step before the first point with data would be lost
// and the bill would depend on the step. The first point with data is
// weighted by the part it covers (firstSample).
func (c *Calculator) firstPartial(ctx context.Context, q Querier, g *grid, d *data) error {
	k0 := -1
	for _, s := range d.alloc {
		if i := slices.IndexFunc(s.v, func(v float64) bool { return !math.IsNaN(v) }); i >= 0 && (k0 < 0 || i < k0) {
			k0 = i
		}
	}
	if k0 <= 0 {
		return nil
	}
	to := g.at(k0)
	first, err := c.firstSample(ctx, q, g.at(k0-1), to, g.step)
	if err != nil {
		return err
	}
	if first.Before(to) {
		g.head, g.extra = k0, float64(to.Sub(first))/float64(g.step)
	}
	return nil
}

// firstSample is the first time in [from, to] at which the nodes report
// allocatable GPUs, to a second: read at a sixtieth of step, then at a
// sixtieth of that around the first sample found; to when none does.
func (c *Calculator) firstSample(ctx context.Context, q Querier, from, to time.Time, step time.Duration) (time.Time, error) {
	for fine := max(step/60, time.Second); ; fine = max(fine/60, time.Second) {
		first, err := c.firstAt(ctx, q, from, to, fine)
		if err != nil || fine == time.Second || !first.Before(to) {
			return first, err
		}
		from, to = first.Add(-fine), first
	}
}

// firstAt is the first evaluation time in [from, to] at the given step
// at which the nodes report allocatable GPUs; to when none does.
func (c *Calculator) firstAt(ctx context.Context, q Querier, from, to time.Time, step time.Duration) (time.Time, error) {
	res, err := q.QueryRange(ctx, c.q.alloc, query.Range{Start: from, End: to, Step: step})
	if err != nil {
		return to, fmt.Errorf("cost query %q: %w", c.q.alloc, err)
	}
	m, ok := res.Value.(model.Matrix)
	if !ok {
		return to, fmt.Errorf("cost query %q: got %s, want a matrix", c.q.alloc, res.Value.Type())
	}
	first := to
	for _, ss := range m {
		if len(ss.Values) > 0 {
			if t := ss.Values[0].Timestamp.Time(); t.Before(first) {
				first = t
			}
		}
	}
	return first, nil
}

// mostCommon returns the most frequent value (ties: the smallest).
func mostCommon(n map[string]int) string {
	best := ""
	for v, c := range n {
		if c > n[best] || (c == n[best] && v < best) {
			best = v
		}
	}
	return best
}

// finish turns accumulators into priced allocations.
func (c *Calculator) finish(set *Set, rows map[string]*acc, idle, podAlloc map[bucket]float64, shareIdle bool, idleEnergyJ float64) {
	names := make([]string, 0, len(rows))
	for k := range rows {
		names = append(names, k)
	}
	sort.Strings(names)
	unpricedAll := map[string]bool{}
	price := func(hours map[bucket]float64, a *Allocation) Micros {
		var m Micros
		for _, b := range sortedBuckets(hours) {
			p, ok := c.opts.Prices.Lookup(b.flavor, b.model)
			if !ok {
				if hours[b] > 0 {
					a.UnpricedGPUHours += hours[b]
					if !slices.Contains(a.Unpriced, b.name()) {
						a.Unpriced = append(a.Unpriced, b.name())
					}
					unpricedAll[b.name()] = true
				}
				continue
			}
			m += p.times(hours[b])
		}
		return m
	}
	tot := &set.Totals
	tot.Name = "__total__"
	for _, name := range names {
		r := rows[name]
		a := Allocation{Name: name, ReservedGPUHours: sum(r.reserved), PodGPUHours: sum(r.pod), UsedGPUHours: sum(r.used)}
		charged := r.pod
		if r.hasKueue {
			a.KueueGPUHours = sum(r.kueue)
			a.DifferenceGPUHours = a.KueueGPUHours - a.PodGPUHours
			charged = r.kueue
		}
		a.AllocatedGPUHours = sum(charged)
		if a.AllocatedGPUHours > 0 {
			a.Efficiency = a.UsedGPUHours / a.AllocatedGPUHours
		}
		a.Cost = price(charged, &a)
		a.ReservedCost = price(r.reserved, &Allocation{})
		a.UsedCost = price(r.used, &Allocation{})
		a.UnusedCost = a.Cost - a.UsedCost
		if shareIdle {
			share := map[bucket]float64{}
			for b, ih := range idle {
				if podAlloc[b] > 0 {
					share[b] = ih * r.pod[b] / podAlloc[b]
				}
			}
			a.IdleGPUHours = sum(share)
			a.IdleCost = price(share, &Allocation{})
		}
		a.TotalCost = a.Cost + a.IdleCost
		a.BorrowedGPUHours, a.LentGPUHours = sum(r.borrowed), sum(r.lent)
		a.BorrowedCost, a.LentCredit = price(r.borrowed, &Allocation{}), price(r.lent, &Allocation{})
		if r.hasQuotaUse {
			qi := sum(r.quotaIdle)
			a.QuotaIdleGPUHours = &qi
			a.QuotaIdleCost = price(r.quotaIdle, &Allocation{})
		}
		c.setEnergy(&a, r.energyJ)
		if a.ReservedGPUHours == 0 && a.AllocatedGPUHours == 0 && a.PodGPUHours == 0 && a.UsedGPUHours == 0 && a.EnergyKWh == 0 {
			continue
		}
		set.Allocations = append(set.Allocations, a)
		addTo(tot, a)
	}
	idleA := Allocation{Name: IdleName, IdleGPUHours: sum(idle)}
	idleA.IdleCost = price(idle, &idleA)
	idleA.TotalCost = idleA.IdleCost
	c.setEnergy(&idleA, idleEnergyJ)
	tot.IdleGPUHours = idleA.IdleGPUHours
	tot.EnergyKWh += idleA.EnergyKWh
	tot.EmissionsKgCO2e += idleA.EmissionsKgCO2e
	if !shareIdle {
		set.Idle = &idleA
		tot.IdleCost += idleA.IdleCost
		tot.TotalCost += idleA.IdleCost
	} else {
		// Idle hours of models no pod allocated cannot be shared.
		unshared := map[bucket]float64{}
		for b, ih := range idle {
			if podAlloc[b] == 0 && ih > 0 {
				unshared[b] = ih
			}
		}
		if len(unshared) > 0 {
			u := Allocation{Name: IdleName, IdleGPUHours: sum(unshared)}
			u.IdleCost = price(unshared, &u)
			u.TotalCost = u.IdleCost
			// The GPUs no pod held used the idle energy.
			c.setEnergy(&u, idleEnergyJ)
			set.Idle = &u
			tot.IdleCost += u.IdleCost
			tot.TotalCost += u.IdleCost
		}
	}
	if tot.AllocatedGPUHours > 0 {
		tot.Efficiency = tot.UsedGPUHours / tot.AllocatedGPUHours
	}
	keys := make([]string, 0, len(unpricedAll))
	for k := range unpricedAll {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	if len(keys) > 0 {
		set.Warnings = append(set.Warnings, "no price for "+strings.Join(keys, "; ")+": hours reported, cost unpriced")
	}
}

func addTo(t *Allocation, a Allocation) {
	t.ReservedGPUHours += a.ReservedGPUHours
	t.AllocatedGPUHours += a.AllocatedGPUHours
	t.PodGPUHours += a.PodGPUHours
	t.KueueGPUHours += a.KueueGPUHours
	t.DifferenceGPUHours += a.DifferenceGPUHours
	t.UsedGPUHours += a.UsedGPUHours
	t.Cost += a.Cost
	t.ReservedCost += a.ReservedCost
	t.UsedCost += a.UsedCost
	t.UnusedCost += a.UnusedCost
	t.IdleCost += a.IdleCost
	t.TotalCost += a.TotalCost
	t.UnpricedGPUHours += a.UnpricedGPUHours
	t.EnergyKWh += a.EnergyKWh
	t.EmissionsKgCO2e += a.EmissionsKgCO2e
	t.BorrowedGPUHours += a.BorrowedGPUHours
	t.LentGPUHours += a.LentGPUHours
	t.BorrowedCost += a.BorrowedCost
	t.LentCredit += a.LentCredit
	for _, u := range a.Unpriced {
		if !slices.Contains(t.Unpriced, u) {
			t.Unpriced = append(t.Unpriced, u)
		}
	}
}

// fleetTotals sets the set's fleet capacity: the GPUs at the last point
// with data and the allocatable GPU-hours and their cost.
func (c *Calculator) fleetTotals(set *Set, st *state) {
	f := &set.Fleet
	f.AllocatableGPUHours = sum(st.capacities)
	for _, b := range sortedBuckets(st.capacities) {
		if p, ok := c.opts.Prices.Lookup(b.flavor, b.model); ok {
			f.AllocatableCost += p.times(st.capacities[b])
		}
	}
	for i := len(st.physical) - 1; i >= 0; i-- {
		p := st.physical[i]
		if p.byModel == nil {
			continue
		}
		f.ModelGPUs = p.total
		for _, m := range p.byModel {
			f.ByModel = append(f.ByModel, *m)
		}
		sort.Slice(f.ByModel, func(a, b int) bool { return f.ByModel[a].Model < f.ByModel[b].Model })
		break
	}
}
