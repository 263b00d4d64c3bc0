package cost

import (
	"context"
	"maps"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/servescope/servescope/internal/analyze/cluster"
)

// NoCluster names, among named clusters, the one whose series carry no
// cluster label (selecting it reads those series).
const NoCluster = cluster.Unnamed

// computeClusters computes one window cluster by cluster, each through a
// Querier scoped to its series, and adds the sets: a pod, node or queue of
// the same name in two clusters is two, and a team present in both is one
// allocation summing them. Grouped by cluster, each cluster is one
// allocation. Unless one cluster is selected, series without the label
// are one more cluster (NoCluster) when they hold data. A fleet without
// the label is one cluster, computed as it always was.
func (c *Calculator) computeClusters(ctx context.Context, q Querier, names []string, selected bool, start, end time.Time, step time.Duration, by Aggregate, shareIdle bool) (*Set, error) {
	inner := by
	if by == ByCluster {
		inner = ByTeam
	}
	sets := make([]*Set, 0, len(names))
	for _, name := range names {
		set, err := c.computeSet(ctx, cluster.ScopeRange(q, c.opts.ClusterLabel, name), start, end, step, inner, shareIdle)
		if err != nil {
			return nil, err
		}
		if by == ByCluster {
			collapse(set, name)
		}
		setTokenCluster(set, name)
		sets = append(sets, set)
	}
	if !selected && names[0] != "" {
		// Among named clusters, series without the label are one more
		// cluster, added when it has data.
		set, err := c.computeSet(ctx, cluster.ScopeRange(q, c.opts.ClusterLabel, NoCluster), start, end, step, inner, shareIdle)
		if err != nil {
			return nil, err
		}
		if !set.CoveredEnd.IsZero() {
			if by == ByCluster {
				collapse(set, NoCluster)
			}
			setTokenCluster(set, NoCluster)
			sets = append(sets, set)
			names = append(slices.Clone(names), NoCluster)
		}
	}
	if len(sets) == 1 {
		if names[0] != "" {
			sets[0].Clusters = names
		}
		return sets[0], nil
	}
	out := mergeSets(sets)
	out.Clusters = names
	out.Warnings = clusterWarnings(sets, names)
	return out, nil
}

// clusterWarnings are the clusters' warnings, each once, saying which
// clusters it is about ("clusters a, b: no price for …").
func clusterWarnings(sets []*Set, names []string) []string {
	var order []string
	about := map[string][]string{}
	for i, s := range sets {
		for _, w := range s.Warnings {
			if about[w] == nil {
				order = append(order, w)
			}
			about[w] = append(about[w], names[i])
		}
	}
	out := make([]string, 0, len(order))
	for _, w := range order {
		noun := "cluster "
		if len(about[w]) > 1 {
			noun = "clusters "
		}
		out = append(out, noun+strings.Join(about[w], ", ")+": "+w)
	}
	return out
}

// clusterNames are the clusters a request computes: the one it selects,
// else those holding series in the window, else the unnamed one.
func (c *Calculator) clusterNames(ctx context.Context, q Querier, req Request) ([]string, error) {
	var names []string
	if req.Cluster == "" {
		var err error
		if names, err = cluster.Names(ctx, q, c.opts.ClusterLabel, req.Start, req.End); err != nil {
			return nil, err
		}
	}
	return cluster.Select(names, req.Cluster), nil
}

// collapse turns a cluster's allocations into one named after the cluster.
func collapse(set *Set, name string) {
	if name == "" {
		name = NoCluster
	}
	if len(set.Allocations) == 0 {
		return
	}
	a := Allocation{Name: name}
	for _, x := range set.Allocations {
		merge(&a, x)
	}
	efficiency(&a)
	set.Allocations = []Allocation{a}
}

// merge adds a's hours and money to t.
func merge(t *Allocation, a Allocation) {
	addTo(t, a)
	t.IdleGPUHours += a.IdleGPUHours
	sort.Strings(t.Unpriced)
}

func efficiency(a *Allocation) {
	a.Efficiency = 0
	if a.AllocatedGPUHours > 0 {
		a.Efficiency = a.UsedGPUHours / a.AllocatedGPUHours
	}
}

// mergeSets adds the sets of several clusters over one window.
func mergeSets(sets []*Set) *Set {
	out := &Set{Start: sets[0].Start, End: sets[0].End, Allocations: []Allocation{}}
	out.Totals.Name = "__total__"
	rows := map[string]*Allocation{}
	models := map[string]*ModelGPUs{}
	var sources, energySources []string
	for _, s := range sets {
		if !s.CoveredStart.IsZero() && (out.CoveredStart.IsZero() || s.CoveredStart.Before(out.CoveredStart)) {
			out.CoveredStart = s.CoveredStart
		}
		if s.CoveredEnd.After(out.CoveredEnd) {
			out.CoveredEnd = s.CoveredEnd
		}
		if s.AllocationSource != "" && !slices.Contains(sources, s.AllocationSource) {
			sources = append(sources, s.AllocationSource)
		}
		for _, a := range s.Allocations {
			r := rows[a.Name]
			if r == nil {
				r = &Allocation{Name: a.Name}
				rows[a.Name] = r
			}
			merge(r, a)
		}
		if s.Idle != nil {
			if out.Idle == nil {
				out.Idle = &Allocation{Name: s.Idle.Name}
			}
			merge(out.Idle, *s.Idle)
		}
		merge(&out.Totals, s.Totals)
		f := &out.Fleet
		addGPUs(&f.ModelGPUs, s.Fleet.ModelGPUs)
		f.AllocatableGPUHours += s.Fleet.AllocatableGPUHours
		f.AllocatableCost += s.Fleet.AllocatableCost
		f.EnergyKWh += s.Fleet.EnergyKWh
		out.GPUEnergy = append(out.GPUEnergy, s.GPUEnergy...)
		out.PodEnergy = append(out.PodEnergy, s.PodEnergy...)
		out.TokensPerJoule = append(out.TokensPerJoule, s.TokensPerJoule...)
		if s.TokenCost != nil {
			if out.TokenCost == nil {
				out.TokenCost = &TokenCosts{}
			}
			out.TokenCost.Rows = append(out.TokenCost.Rows, s.TokenCost.Rows...)
		}
		if s.EnergySource != "" && !slices.Contains(energySources, s.EnergySource) {
			energySources = append(energySources, s.EnergySource)
		}
		for _, m := range s.Fleet.ByModel {
			if models[m.Model] == nil {
				models[m.Model] = &ModelGPUs{Model: m.Model}
			}
			addGPUs(models[m.Model], m)
		}
	}
	sort.Strings(sources)
	out.AllocationSource = strings.Join(sources, "+")
	out.EnergySource = strings.Join(energySources, "; ")
	for _, name := range slices.Sorted(maps.Keys(rows)) {
		efficiency(rows[name])
		out.Allocations = append(out.Allocations, *rows[name])
	}
	efficiency(&out.Totals)
	for _, m := range slices.Sorted(maps.Keys(models)) {
		out.Fleet.ByModel = append(out.Fleet.ByModel, *models[m])
	}
	return out
}

func addGPUs(t *ModelGPUs, m ModelGPUs) {
	t.PhysicalGPUs += m.PhysicalGPUs
	t.MIGGPUs += m.MIGGPUs
	t.MIGSlices += m.MIGSlices
	t.GPUEquivalents += m.GPUEquivalents
}

// setTokenCluster names the cluster of a set's token rows.
func setTokenCluster(set *Set, name string) {
	if set.TokenCost == nil {
		return
	}
	for i := range set.TokenCost.Rows {
		set.TokenCost.Rows[i].Cluster = name
	}
}
