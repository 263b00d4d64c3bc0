// Package cost attributes GPU-hours and their cost to teams (or namespaces,
// queues, GPU models) over a window: reserved (Kueue nominal quota),
// allocated (Kueue LocalQueue or ClusterQueue usage, and the GPU requests of
// Running pods from kube-state-metrics, reconciled), used (allocated ×
// dcgm-exporter busy) and idle (allocatable minus allocated), priced from a
// price book keyed by Kueue flavor or GPU model, MIG slices weighted by
// their profile.
//
// It reads only through a Querier (range queries at explicit evaluation
// times; the caller passes the window, nothing reads the wall clock) and
// never imports the simulator, the store or the PromQL engine. GPU-hours are
// integrated over the evaluation times of range queries (each point stands
// for one step of time), so missed scrapes and changed scrape intervals do
// not skew the bill; money is held as integer Micros.
package cost

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"time"

	"github.com/servescope/servescope/internal/analyze/cluster"
	"github.com/servescope/servescope/internal/analyze/query"
	"github.com/servescope/servescope/internal/schema"
)

// Querier is what cost reads through; query.Querier satisfies it.
type Querier interface {
	QueryRange(ctx context.Context, q string, r query.Range) (query.Result, error)
	// LabelValues lists the clusters (cluster.Names).
	cluster.LabelValuer
}

// Aggregate is what allocations are grouped by.
type Aggregate string

// Aggregations.
const (
	ByTeam      Aggregate = "team"
	ByNamespace Aggregate = "namespace"
	ByQueue     Aggregate = "queue"
	ByModel     Aggregate = "model"
	// ByCluster is one allocation per cluster (the cluster label's value;
	// NoCluster for series without it).
	ByCluster Aggregate = "cluster"
)

// ParseAggregate checks an aggregate name; empty means team.
func ParseAggregate(s string) (Aggregate, error) {
	switch a := Aggregate(s); a {
	case "":
		return ByTeam, nil
	case ByTeam, ByNamespace, ByQueue, ByModel, ByCluster:
		return a, nil
	}
	return "", fmt.Errorf("aggregate %q: want team, namespace, queue, model or cluster", s)
}

// Names of synthetic allocations.
const (
	// Unattributed holds GPUs whose team is unknown: never dropped.
	Unattributed = "unattributed"
	// IdleName is the allocation of idle GPU-hours when they are not shared.
	IdleName = "__idle__"
)

// Options configure a Calculator.
type Options struct {
	// Catalog supplies the namespace → team query; it must be built with
	// the same TeamLabel.
	Catalog *schema.Catalog
	// Prices is the price book; nil reports every hour as unpriced.
	Prices *PriceBook
	// TeamLabel is the pod and namespace label key naming the team, as
	// allowlisted in kube-state-metrics. Default "team".
	TeamLabel string
	// QueueTeams maps ClusterQueue names to teams, for pods and Kueue
	// series that no pod or namespace label attributes.
	QueueTeams map[string]string
	// UnallocatedPod matches the pod label of the GPU exporter's own pod;
	// default ".*dcgm-exporter.*".
	UnallocatedPod string
	// ClusterLabel is the external label naming each series' cluster when
	// many clusters send to one backend; default "cluster". Each cluster is
	// computed on its own and the results added.
	ClusterLabel string
	// LentQuotaIsIdle counts the nominal quota a team lent to its cohort
	// as its idle quota (QuotaIdleGPUHours) all the same; false (the
	// default) takes the lent hours out: the borrower used and pays them.
	LentQuotaIsIdle bool
	// CarbonIntensity, if positive, is the grid's g CO2e per kWh: the
	// allocations' energy is shown with its emissions.
	CarbonIntensity float64
	// ReferencePrices are the configured reference prices per million
	// input and output tokens, by served model name; a model's cost per
	// million tokens is shown beside its reference.
	ReferencePrices map[string]ReferencePrice
	// Logger receives debug output; nil discards it.
	Logger *slog.Logger
}

// Calculator computes cost reports. It is safe for concurrent use.
type Calculator struct {
	q      *queries
	opts   Options
	unpod  *regexp.Regexp
	logger *slog.Logger
	// chunk is the longest span one range query covers (defaultChunk).
	chunk time.Duration
}

// New compiles the queries.
func New(opts Options) (*Calculator, error) {
	if opts.Catalog == nil {
		return nil, errors.New("cost: a catalog is required")
	}
	if opts.TeamLabel == "" {
		opts.TeamLabel = "team"
	}
	if opts.UnallocatedPod == "" {
		opts.UnallocatedPod = ".*dcgm-exporter.*"
	}
	if opts.ClusterLabel == "" {
		opts.ClusterLabel = cluster.DefaultLabel
	}
	re, err := regexp.Compile("^(?:" + opts.UnallocatedPod + ")$")
	if err != nil {
		return nil, fmt.Errorf("cost: unallocated pod pattern %q: %w", opts.UnallocatedPod, err)
	}
	q, err := buildQueries(opts.Catalog, opts.TeamLabel)
	if err != nil {
		return nil, err
	}
	logger := opts.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Calculator{q: q, opts: opts, unpod: re, logger: logger.With("component", "cost"), chunk: defaultChunk}, nil
}

// ClusterLabel is the external label naming each series' cluster.
func (c *Calculator) ClusterLabel() string { return c.opts.ClusterLabel }

// Request is one report's window and shape.
type Request struct {
	Start, End time.Time
	// Step is the evaluation step; zero picks window/1440 clamped to
	// [1m, 1h].
	Step time.Duration
	// By groups the allocations; empty means team.
	By Aggregate
	// ShareIdle spreads idle GPU-hours and cost over the allocations in
	// proportion to their allocated hours per GPU model, as OpenCost's
	// shareIdle does; otherwise they are reported as __idle__.
	ShareIdle bool
	// Split, if positive, cuts the window into consecutive sub-windows of
	// this length (24h: one set per day, aligned to UTC midnight).
	Split time.Duration
	// Cluster, if set, computes that cluster only (the value of the
	// cluster label); otherwise every cluster in the window, added.
	Cluster string
}

// DefaultStep is the evaluation step used when a request sets none.
func DefaultStep(window time.Duration) time.Duration {
	s := (window / 1440).Truncate(time.Minute)
	return min(max(s, time.Minute), time.Hour)
}

// Report is the answer to one Request.
type Report struct {
	Currency  string        `json:"currency"`
	By        Aggregate     `json:"aggregate"`
	ShareIdle bool          `json:"shareIdle"`
	Step      time.Duration `json:"-"`
	StepText  string        `json:"step"`
	Sets      []Set         `json:"sets"`
}

// Set is the allocations of one (sub-)window.
type Set struct {
	// Start and End are the requested window.
	Start time.Time `json:"start"`
	End   time.Time `json:"end"`
	// CoveredStart and CoveredEnd are the span that had data: a window
	// reaching before the oldest data is reported over what is covered,
	// with a warning naming the span. A window without any GPU data has
	// no covered span (both zero, left out of JSON), no allocations and a
	// warning saying so; it is not an error.
	CoveredStart time.Time `json:"coveredStart,omitzero"`
	CoveredEnd   time.Time `json:"coveredEnd,omitzero"`
	// AllocationSource says where allocated hours come from: kueue-local-queue,
	// kueue-cluster-queue or pod-requests ("" without data).
	AllocationSource string       `json:"allocationSource,omitempty"`
	Allocations      []Allocation `json:"allocations"`
	// Idle is the unshared idle allocation (nil with shareIdle).
	Idle   *Allocation `json:"idle,omitempty"`
	Totals Allocation  `json:"totals"`
	// Fleet is the whole fleet's capacity over the window: physical
	// GPUs and allocatable GPU-hours (docs/glossary.md).
	Fleet FleetTotals `json:"fleet"`
	// Warnings say what could not be attributed or priced.
	Warnings []string `json:"warnings,omitempty"`
	// Clusters are the clusters computed and added (the cluster label's
	// values); empty when the series carry none.
	Clusters []string `json:"clusters,omitempty"`
	// EnergySource says where the energy figures come from: the energy
	// counter, or the power gauge integrated over time where it is absent.
	EnergySource string `json:"energySource,omitempty"`
	// GPUEnergy and PodEnergy are the energy per GPU and per pod.
	GPUEnergy []GPUEnergy `json:"gpuEnergy,omitempty"`
	PodEnergy []PodEnergy `json:"podEnergy,omitempty"`
	// TokensPerJoule is, per served model and GPU model, the tokens its
	// pods processed per joule their GPUs drew.
	TokensPerJoule []ModelEnergy `json:"tokensPerJoule,omitempty"`
	// TokenCost is the cost per million tokens per served model, team,
	// namespace, GPU model and cluster (tokens.go).
	TokenCost *TokenCosts `json:"tokenCost,omitempty"`
}

// FleetTotals are the fleet's GPUs at the end of a set's window and its
// allocatable GPU-hours over it, in the glossary's words.
type FleetTotals struct {
	ModelGPUs
	// ByModel splits the GPUs per GPU model.
	ByModel []ModelGPUs `json:"byModel"`
	// AllocatableGPUHours is the nodes' GPU capacity over the window, a
	// MIG-split card counted whole: allocated + idle.
	AllocatableGPUHours float64 `json:"allocatableGpuHours"`
	AllocatableCost     Micros  `json:"allocatableCost"`
	// EnergyKWh is every GPU's energy over the window.
	EnergyKWh float64 `json:"energyKwh"`
}

// ModelGPUs counts GPUs at one time: physical GPUs (cards, a MIG-split
// card once), how many of them are split into MIG slices, the slices, and
// the GPU-equivalents the pods can request (whole GPUs plus slices at n/7).
type ModelGPUs struct {
	Model          string  `json:"model,omitempty"`
	PhysicalGPUs   int     `json:"physicalGpus"`
	MIGGPUs        int     `json:"migGpus"`
	MIGSlices      int     `json:"migSlices"`
	GPUEquivalents float64 `json:"gpuEquivalents"`
}

// Allocation is one group's GPU-hours and cost over a Set's window.
type Allocation struct {
	Name              string  `json:"name"`
	ReservedGPUHours  float64 `json:"reservedGpuHours"`
	AllocatedGPUHours float64 `json:"allocatedGpuHours"`
	// PodGPUHours are the GPU requests of Running pods (kube-state-metrics).
	PodGPUHours float64 `json:"podGpuHours"`
	// KueueGPUHours are the Kueue usage hours (LocalQueue, else ClusterQueue).
	KueueGPUHours float64 `json:"kueueGpuHours"`
	// DifferenceGPUHours is KueueGPUHours − PodGPUHours when both exist.
	DifferenceGPUHours float64 `json:"differenceGpuHours"`
	UsedGPUHours       float64 `json:"usedGpuHours"`
	// IdleGPUHours is the share of idle hours given to this allocation
	// (shareIdle), or the fleet's idle hours for __idle__ and totals.
	IdleGPUHours float64 `json:"idleGpuHours"`
	// Efficiency is used / allocated (0 with nothing allocated).
	Efficiency float64 `json:"efficiency"`
	// Cost is the allocated hours priced; IdleCost the shared idle hours;
	// ReservedCost and UsedCost the reserved and used hours priced, and
	// UnusedCost the allocated hours not used (Cost − UsedCost).
	Cost         Micros `json:"cost"`
	ReservedCost Micros `json:"reservedCost"`
	UsedCost     Micros `json:"usedCost"`
	UnusedCost   Micros `json:"unusedCost"`
	IdleCost     Micros `json:"idleCost"`
	TotalCost    Micros `json:"totalCost"`
	// Unpriced lists the flavors or models without a price; their hours
	// are reported but cost nothing.
	Unpriced         []string `json:"unpriced,omitempty"`
	UnpricedGPUHours float64  `json:"unpricedGpuHours"`
	// EnergyKWh is the energy of the GPUs the allocation's pods held while
	// they held them (for __idle__: of the GPUs no pod held).
	EnergyKWh float64 `json:"energyKwh"`
	// EmissionsKgCO2e is EnergyKWh × the configured carbon intensity
	// (absent without one).
	EmissionsKgCO2e float64 `json:"emissionsKgCo2e,omitempty"`
	// BorrowedGPUHours are GPU-hours the allocation's ClusterQueues
	// reserved above their nominal quota, borrowed from their cohort;
	// BorrowedCost is their price, charged to it (and already in Cost).
	// LentGPUHours are its unused nominal quota its cohort borrowed (its
	// share of the cohort's unused quota times the cohort's borrowing);
	// LentCredit is their price, credited to it.
	BorrowedGPUHours float64 `json:"borrowedGpuHours,omitempty"`
	LentGPUHours     float64 `json:"lentGpuHours,omitempty"`
	BorrowedCost     Micros  `json:"borrowedCost,omitempty"`
	LentCredit       Micros  `json:"lentCredit,omitempty"`
	// QuotaIdleGPUHours is the nominal quota its ClusterQueues did not
	// reserve, less what they lent unless Options.LentQuotaIsIdle; nil
	// when Kueue reports no reservation (enableClusterQueueResources
	// off). QuotaIdleCost is its price.
	QuotaIdleGPUHours *float64 `json:"quotaIdleGpuHours,omitempty"`
	QuotaIdleCost     Micros   `json:"quotaIdleCost,omitempty"`
}

// Compute runs a request over q.
func (c *Calculator) Compute(ctx context.Context, q Querier, req Request) (*Report, error) {
	if !req.End.After(req.Start) {
		return nil, badRequest(fmt.Errorf("cost window [%s, %s]: end must be after start", req.Start.Format(time.RFC3339), req.End.Format(time.RFC3339)))
	}
	by, err := ParseAggregate(string(req.By))
	if err != nil {
		return nil, badRequest(err)
	}
	step := req.Step
	if step <= 0 {
		step = DefaultStep(req.End.Sub(req.Start))
	}
	if req.End.Sub(req.Start) < step {
		return nil, badRequest(fmt.Errorf("cost window [%s, %s]: shorter than one step (%s)", req.Start.Format(time.RFC3339), req.End.Format(time.RFC3339), step))
	}
	rep := &Report{By: by, ShareIdle: req.ShareIdle, Step: step, StepText: step.String(), Currency: ""}
	if c.opts.Prices != nil {
		rep.Currency = c.opts.Prices.Currency
	}
	names, err := c.clusterNames(ctx, q, req)
	if err != nil {
		return nil, err
	}
	for _, w := range splitWindow(req.Start, req.End, req.Split) {
		set, err := c.computeClusters(ctx, q, names, req.Cluster != "", w[0], w[1], step, by, req.ShareIdle)
		if err != nil {
			return nil, err
		}
		groupTokens(set.TokenCost)
		rep.Sets = append(rep.Sets, *set)
	}
	return rep, nil
}

// badRequest marks an error of the request itself, so an API answers 400.
func badRequest(err error) error { return &query.Error{Type: query.ErrBadData, Err: err} }

// splitWindow cuts [start, end] at multiples of split (UTC-aligned).
func splitWindow(start, end time.Time, split time.Duration) [][2]time.Time {
	if split <= 0 {
		return [][2]time.Time{{start, end}}
	}
	var out [][2]time.Time
	for s := start; s.Before(end); {
		e := s.Truncate(split).Add(split)
		if e.After(end) {
			e = end
		}
		out = append(out, [2]time.Time{s, e})
		s = e
	}
	return out
}
