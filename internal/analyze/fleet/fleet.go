// Package fleet is the fleet model: the quantities a person acts on,
// computed once per window and read by every surface (summary, top,
// diagnose, the utilisation and fleet reports, the dashboard, cost and the
// API), so that none computes its own GPU count or money.
//
// The GPU counts and GPU-hours come from the cost package's integration
// (the one grid, the one MIG weighting, the one price book); the serving
// totals from the catalog's signals, summed over every engine the catalog
// knows. Each quantity is named by one word of the glossary (Glossary,
// docs/glossary.md). It reads only through a Querier and never imports the
// simulator.
package fleet

import (
	"context"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/promql/parser"

	"github.com/servescope/servescope/internal/analyze/cluster"
	"github.com/servescope/servescope/internal/analyze/cost"
	"github.com/servescope/servescope/internal/analyze/health"
	"github.com/servescope/servescope/internal/analyze/query"
	"github.com/servescope/servescope/internal/schema"
)

// Querier is what the fleet model reads through; query.Querier satisfies it.
type Querier interface {
	cost.Querier
	Query(ctx context.Context, q string, ts time.Time) (query.Result, error)
}

// Options configure a Calculator.
type Options struct {
	// Cost integrates the GPU-hours and prices them; required.
	Cost *cost.Calculator
	// Catalog gives the serving signals' queries; required.
	Catalog *schema.Catalog
	// Recorded reads servescope's recorded series instead of the full
	// catalog queries.
	Recorded bool
	// Health are the unusable-GPU judgement's thresholds (the diagnosis
	// thresholds' Health); the zero value means the defaults.
	Health health.Thresholds
}

// Calculator computes fleet models. It is safe for concurrent use.
type Calculator struct {
	opts     Options
	servingQ []servingQuery
	health   *health.Reader
}

// servingQuery is one fleet-wide serving total: Σ of a catalog signal.
type servingQuery struct {
	signal string
	query  string
	dst    func(*Serving) *float64
}

// New compiles the serving totals' queries from the catalog.
func New(o Options) (*Calculator, error) {
	if o.Cost == nil || o.Catalog == nil {
		return nil, errors.New("fleet: a cost calculator and a catalog are required")
	}
	if o.Health == (health.Thresholds{}) {
		o.Health = health.DefaultThresholds()
	}
	if err := o.Health.Validate(); err != nil {
		return nil, fmt.Errorf("fleet: %w", err)
	}
	c := &Calculator{opts: o}
	var err error
	if c.health, err = health.NewReader(o.Catalog, o.Recorded, o.Cost.ClusterLabel()); err != nil {
		return nil, fmt.Errorf("fleet: %w", err)
	}
	p := parser.NewParser(parser.Options{})
	for _, s := range []struct {
		signal string
		dst    func(*Serving) *float64
	}{
		{"generation_tokens_per_second", func(s *Serving) *float64 { return &s.GenerationTokensPerSecond }},
		{"prompt_tokens_per_second", func(s *Serving) *float64 { return &s.PromptTokensPerSecond }},
		{"requests_running", func(s *Serving) *float64 { return &s.RequestsRunning }},
		{"requests_waiting", func(s *Serving) *float64 { return &s.RequestsWaiting }},
	} {
		q, err := o.Catalog.Select(s.signal, o.Recorded)
		if err != nil {
			return nil, fmt.Errorf("fleet: signal %s: %w", s.signal, err)
		}
		e, err := p.ParseExpr(q)
		if err != nil {
			return nil, fmt.Errorf("fleet: signal %s: parse %q: %w", s.signal, q, err)
		}
		c.servingQ = append(c.servingQ, servingQuery{signal: s.signal, query: (&parser.AggregateExpr{Op: parser.SUM, Expr: e}).String(), dst: s.dst})
	}
	return c, nil
}

// Model is the fleet over one window, in the glossary's words.
type Model struct {
	// Cluster is the one cluster this model covers (PerCluster); empty
	// for every cluster together.
	Cluster string `json:"cluster,omitempty"`
	// Clusters are the clusters added up (the cluster label's values);
	// empty when the series carry none.
	Clusters []string  `json:"clusters,omitempty"`
	Start    time.Time `json:"start"`
	End      time.Time `json:"end"`
	// CoveredStart and CoveredEnd are the span with data (zero without).
	CoveredStart time.Time `json:"coveredStart,omitzero"`
	CoveredEnd   time.Time `json:"coveredEnd,omitzero"`
	Currency     string    `json:"currency"`
	// GPUs at the end of the window: physical GPUs, how many are split
	// into MIG slices, the slices and the GPU-equivalents; per GPU model.
	GPUs    cost.ModelGPUs   `json:"gpus"`
	ByModel []cost.ModelGPUs `json:"byModel"`
	// GPU-hours over the window (see Glossary).
	Hours Quantities `json:"gpuHours"`
	// Money of those hours at the price book.
	Money MoneyQuantities `json:"money"`
	// Busy is used ÷ allocated over the window.
	Busy float64 `json:"busy"`
	// SavingsPer10Points is what 10 more points of busy would save: the
	// same work on fewer allocated GPU-hours, allocated money × (1 −
	// busy ÷ (busy + 0.1)).
	SavingsPer10Points cost.Micros `json:"savingsPer10Points"`
	// UnpricedGPUHours are allocated hours of GPUs without a price.
	UnpricedGPUHours float64  `json:"unpricedGpuHours"`
	Unpriced         []string `json:"unpriced,omitempty"`
	// Teams are the allocations per team and Idle the unshared idle
	// hours: Σ allocated over the teams + idle = allocatable.
	Teams []cost.Allocation `json:"teams"`
	Idle  *cost.Allocation  `json:"idle,omitempty"`
	// AllocationSource says where allocated hours come from.
	AllocationSource string `json:"allocationSource,omitempty"`
	// Energy is the GPUs' energy over the window (Σ teams + idle), with
	// its emissions when a carbon intensity is configured, and Source the
	// note saying whether it comes from the energy counter or the power
	// gauge.
	Energy Energy `json:"energy"`
	// TokenCost is the cost per million tokens per served model, GPU
	// model, team, namespace and cluster (cost.TokenCosts); nil without
	// serving pods.
	TokenCost *cost.TokenCosts `json:"tokenCost,omitempty"`
	// Serving totals at the end of the window, over every engine.
	Serving Serving `json:"serving"`
	// UnusableGPUs counts, and Unusable lists, the GPUs judged unusable at
	// the end of the window (health.Judge: row remapping failed, DCGM's
	// health check fails, uncorrectable rows rising, repeated XIDs), with
	// their XID codes: they are not free capacity.
	UnusableGPUs int               `json:"unusableGpus"`
	Unusable     []health.Unusable `json:"unusable"`
	// Warnings say what could not be attributed or priced.
	Warnings []string `json:"warnings,omitempty"`
}

// Energy is the fleet's GPU energy over a window (see Glossary).
type Energy struct {
	KWh             float64 `json:"kwh"`
	IdleKWh         float64 `json:"idleKwh"`
	EmissionsKgCO2e float64 `json:"emissionsKgCo2e,omitempty"`
	Source          string  `json:"source,omitempty"`
}

// Quantities are GPU-hours by glossary word.
type Quantities struct {
	Allocatable float64 `json:"allocatable"`
	Reserved    float64 `json:"reserved"`
	Allocated   float64 `json:"allocated"`
	Used        float64 `json:"used"`
	Idle        float64 `json:"idle"`
	Unused      float64 `json:"unused"`
}

// MoneyQuantities are the money of the Quantities.
type MoneyQuantities struct {
	Allocatable cost.Micros `json:"allocatable"`
	Reserved    cost.Micros `json:"reserved"`
	Allocated   cost.Micros `json:"allocated"`
	Used        cost.Micros `json:"used"`
	Idle        cost.Micros `json:"idle"`
	Unused      cost.Micros `json:"unused"`
}

// Serving is the fleet's serving totals at one time, summed over every
// engine kind the catalog knows (NaN-free: absent signals are 0).
type Serving struct {
	GenerationTokensPerSecond float64 `json:"generationTokensPerSecond"`
	PromptTokensPerSecond     float64 `json:"promptTokensPerSecond"`
	RequestsRunning           float64 `json:"requestsRunning"`
	RequestsWaiting           float64 `json:"requestsWaiting"`
	// Queries are the queries behind the totals, by signal.
	Queries map[string]string `json:"queries,omitempty"`
}

// Compute builds the fleet model over [start, end]; step zero picks the
// cost package's default for the window.
func (c *Calculator) Compute(ctx context.Context, q Querier, start, end time.Time, step time.Duration) (*Model, error) {
	return c.ComputeCluster(ctx, q, "", start, end, step)
}

// PerCluster builds one fleet model per cluster over [start, end], in the
// clusters' order, then the series without a cluster label as
// cluster.Unnamed when they hold data; nil when there are not two. Their
// figures add up to Compute's.
func (c *Calculator) PerCluster(ctx context.Context, q Querier, start, end time.Time, step time.Duration) ([]*Model, error) {
	names, err := cluster.Names(ctx, q, c.opts.Cost.ClusterLabel(), start, end)
	if err != nil || len(names) == 0 {
		return nil, err
	}
	out := make([]*Model, 0, len(names)+1)
	for _, name := range append(names, cluster.Unnamed) {
		m, err := c.ComputeCluster(ctx, q, name, start, end, step)
		if err != nil {
			return nil, err
		}
		if name != cluster.Unnamed || !m.CoveredEnd.IsZero() {
			out = append(out, m)
		}
	}
	if len(out) < 2 {
		return nil, nil
	}
	return out, nil
}

// ComputeCluster builds the fleet model of one cluster over [start,
// end], every cluster's with name "".
func (c *Calculator) ComputeCluster(ctx context.Context, q Querier, name string, start, end time.Time, step time.Duration) (*Model, error) {
	// The serving totals at the end read their own queries: they are read
	// beside the cost integration, not after it.
	at := c.atEnd(ctx, q, name, end)
	rep, err := c.opts.Cost.Compute(ctx, q, cost.Request{Start: start, End: end, Step: step, By: cost.ByTeam, Cluster: name})
	if err != nil {
		at.stop()
		return nil, fmt.Errorf("fleet model: %w", err)
	}
	set := rep.Sets[0]
	m := &Model{Start: start, End: end, CoveredStart: set.CoveredStart, CoveredEnd: set.CoveredEnd, Currency: rep.Currency,
		GPUs: set.Fleet.ModelGPUs, ByModel: set.Fleet.ByModel, Teams: set.Allocations, Idle: set.Idle,
		AllocationSource: set.AllocationSource, Warnings: set.Warnings, Cluster: name, Clusters: set.Clusters}
	m.GPUs.Model = ""
	t := set.Totals
	m.Hours = Quantities{Allocatable: set.Fleet.AllocatableGPUHours, Reserved: t.ReservedGPUHours, Allocated: t.AllocatedGPUHours,
		Used: t.UsedGPUHours, Idle: t.IdleGPUHours, Unused: math.Max(0, t.AllocatedGPUHours-t.UsedGPUHours)}
	m.Money = MoneyQuantities{Allocatable: set.Fleet.AllocatableCost, Reserved: t.ReservedCost, Allocated: t.Cost,
		Used: t.UsedCost, Idle: t.IdleCost, Unused: t.UnusedCost}
	m.UnpricedGPUHours, m.Unpriced = t.UnpricedGPUHours, t.Unpriced
	m.TokenCost = set.TokenCost
	m.Energy = Energy{KWh: t.EnergyKWh, EmissionsKgCO2e: t.EmissionsKgCO2e, Source: set.EnergySource}
	if set.Idle != nil {
		m.Energy.IdleKWh = set.Idle.EnergyKWh
	}
	if t.AllocatedGPUHours > 0 {
		m.Busy = t.UsedGPUHours / t.AllocatedGPUHours
		if m.Busy > 0 {
			m.SavingsPer10Points = cost.Micros(math.Round(float64(t.Cost) * (1 - m.Busy/min(1, m.Busy+0.1))))
		}
	}
	at.wait()
	if m.Serving, err = at.serving, at.servingErr; err != nil {
		return nil, err
	}
	if m.Unusable, err = c.Unusable(ctx, q, name, end); err != nil {
		return nil, fmt.Errorf("fleet model: %w", err)
	}
	m.UnusableGPUs = len(m.Unusable)
	return m, nil
}

// Unusable lists the GPUs of one cluster (every one with name "")
// unusable at t: health.Judge over the lookback ending at t. Never nil.
func (c *Calculator) Unusable(ctx context.Context, q Querier, name string, t time.Time) ([]health.Unusable, error) {
	us, err := c.health.Unusables(ctx, q, name, t, c.opts.Health)
	if us == nil {
		us = []health.Unusable{}
	}
	return us, err
}

// Serving reads the serving totals at t.
func (c *Calculator) Serving(ctx context.Context, q Querier, t time.Time) (Serving, error) {
	return c.serving1(ctx, q, "", t)
}

// serving1 reads the serving totals of one cluster, or of all with name "".
func (c *Calculator) serving1(ctx context.Context, q Querier, name string, t time.Time) (Serving, error) {
	s := Serving{Queries: map[string]string{}}
	for _, sq := range c.servingQ {
		text := sq.query
		if name != "" {
			var err error
			if text, err = cluster.Inject(text, c.opts.Cost.ClusterLabel(), name); err != nil {
				return s, fmt.Errorf("fleet model: %s: %w", sq.signal, err)
			}
		}
		s.Queries[sq.signal] = text
		res, err := q.Query(ctx, text, t)
		if err != nil {
			return s, fmt.Errorf("fleet model: %s: %w", sq.signal, err)
		}
		if v, ok := res.Value.(model.Vector); ok && len(v) > 0 && !math.IsNaN(float64(v[0].Value)) {
			*sq.dst(&s) = float64(v[0].Value)
		}
	}
	return s, nil
}

// GPUsText states a GPU count as a person reads it: physical GPUs, and
// the MIG split where there is one ("64 GPUs, of which 8 split into 16
// MIG slices").
func GPUsText(g cost.ModelGPUs) string {
	s := fmt.Sprintf("%d GPUs", g.PhysicalGPUs)
	if g.PhysicalGPUs == 1 {
		s = "1 GPU"
	}
	if g.MIGGPUs > 0 {
		s += fmt.Sprintf(", of which %d split into %d MIG slices", g.MIGGPUs, g.MIGSlices)
	}
	return s
}
