package app

import (
	"context"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"github.com/servescope/servescope/internal/analyze/cluster"
	"github.com/servescope/servescope/internal/analyze/cost"
	"github.com/servescope/servescope/internal/analyze/diagnose"
	"github.com/servescope/servescope/internal/analyze/fleet"
	"github.com/servescope/servescope/internal/analyze/health"
	"github.com/servescope/servescope/internal/analyze/query"
	"github.com/servescope/servescope/internal/present/web"
	"github.com/servescope/servescope/internal/schema"
)

// fleetView runs the diagnosis with its fleet model once per (time,
// window) and serves the dashboard's and the report's findings, fleet
// summary and team costs from that one evaluation, so they cannot
// disagree.
type fleetView struct {
	d *diagnose.Diagnoser
	// fc and q give the fleet model per cluster (nil fc: none).
	fc *fleet.Calculator
	q  query.Querier

	mu     sync.Mutex
	now    time.Time
	window time.Duration
	rep    *diagnose.Report
	err    error
}

// newFleet builds the fleet calculator over the cost calculator, judging
// unusable GPUs at the diagnosis thresholds' th (zero: the defaults); nil
// calc gives nil (no fleet model: the panels say "not available").
func newFleet(cat *schema.Catalog, calc *cost.Calculator, recorded bool, th health.Thresholds) (*fleet.Calculator, error) {
	if calc == nil {
		return nil, nil
	}
	return fleet.New(fleet.Options{Cost: calc, Catalog: cat, Recorded: recorded, Health: th})
}

func newFleetView(q query.Querier, cat *schema.Catalog, calc *cost.Calculator, th diagnose.Thresholds, recorded bool, logger *slog.Logger) (*fleetView, error) {
	fc, err := newFleet(cat, calc, recorded, th.Health)
	if err != nil {
		return nil, err
	}
	d, err := diagnose.New(diagnose.Options{Querier: q, Catalog: cat, Recorded: recorded, Thresholds: th, Fleet: fc, ClusterLabel: cat.ClusterLabel(), Logger: logger})
	if err != nil {
		return nil, err
	}
	return &fleetView{d: d, fc: fc, q: q}, nil
}

func (v *fleetView) diagnose(ctx context.Context, now time.Time, window time.Duration) (*diagnose.Report, error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if (v.rep != nil || v.err != nil) && v.now.Equal(now) && v.window == window {
		return v.rep, v.err
	}
	v.now, v.window = now, window
	v.rep, v.err = v.d.Diagnose(ctx, now, window)
	return v.rep, v.err
}

// Findings implements web.Findings.
func (v *fleetView) Findings(ctx context.Context, now time.Time, window time.Duration) ([]web.Finding, error) {
	rep, err := v.diagnose(ctx, now, window)
	if err != nil {
		return nil, err
	}
	return webFindings(rep), nil
}

// Fleet implements web.Fleet.
func (v *fleetView) Fleet(ctx context.Context, now time.Time, window time.Duration) (*web.FleetSummary, error) {
	rep, err := v.diagnose(ctx, now, window)
	if err != nil {
		return nil, err
	}
	u := rep.Utilisation
	f := &web.FleetSummary{Model: u.Fleet, MeanBusy: u.MeanBusy, LowBusy: u.Bands[0], HighBusy: u.Bands[1],
		BelowLow: u.BelowLowMean, AboveHigh: u.AboveHighMean, Unusable: rep.Unusable}
	if v.fc != nil {
		if f.Clusters, err = v.fc.PerCluster(ctx, v.q, now.Add(-window), now, 0); err != nil {
			return nil, err
		}
	}
	many := len(rep.Clusters()) > 1
	for _, c := range rep.Capacity {
		name := c.Model
		if many {
			name = clusterName(c.Cluster) + ":" + name
		}
		f.Capacity = append(f.Capacity, web.Capacity{Model: name, GPU: c.Kind(), Held: c.Held, PeakDemand: c.PeakDemand, MeanBusy: c.MeanBusy,
			Needed: c.Needed, Saturated: c.Saturated, Advice: c.Advice})
	}
	return f, nil
}

// TeamCosts implements web.Costs from the fleet model's teams: one row
// per team, then the unshared idle hours as __idle__; they add up to the
// fleet's allocatable GPU-hours.
func (v *fleetView) TeamCosts(ctx context.Context, now time.Time, window time.Duration) ([]web.TeamCost, error) {
	rep, err := v.diagnose(ctx, now, window)
	if err != nil {
		return nil, err
	}
	m := rep.Utilisation.Fleet
	if m == nil {
		return nil, fmt.Errorf("cost attribution: %w", errNoFleet)
	}
	return teamRows(m.Currency, m.Teams, m.Idle), nil
}

// teamRows are allocations as the dashboard's team rows.
func teamRows(currency string, as []cost.Allocation, idle *cost.Allocation) []web.TeamCost {
	if idle != nil {
		as = append(as[:len(as):len(as)], *idle)
	}
	var out []web.TeamCost
	for _, a := range as {
		tc := web.TeamCost{Team: a.Name, Reserved: a.ReservedGPUHours, Allocated: a.AllocatedGPUHours,
			Used: a.UsedGPUHours, Unused: max(0, a.AllocatedGPUHours-a.UsedGPUHours), Idle: a.IdleGPUHours,
			EnergyKWh: a.EnergyKWh, EmissionsKgCO2e: a.EmissionsKgCO2e}
		if currency != "" && (len(a.Unpriced) == 0 || a.Cost != 0 || a.IdleCost != 0) {
			tc.Cost, tc.UnusedCost, tc.IdleCost = a.Cost.Format(currency), a.UnusedCost.Format(currency), a.IdleCost.Format(currency)
		}
		out = append(out, tc)
	}
	return out
}

// webFindings converts a diagnosis' findings for the dashboard: by impact,
// identical findings on the pods of one deployment grouped into one line,
// healthy ones left out (web.Finding.Healthy counts them on the first).
func webFindings(r *diagnose.Report) []web.Finding {
	groups, healthy := diagnose.Visible(r.Findings)
	out := make([]web.Finding, 0, len(groups))
	many := len(r.Clusters()) > 1
	for _, g := range groups {
		x := g.Finding
		subject := g.Subject
		if many {
			subject = clusterName(x.Subject.Cluster) + ":" + subject
		}
		if g.Count > 1 {
			subject += " (" + strconv.Itoa(g.Count) + " pods)"
		}
		w := web.Finding{Subject: subject, State: string(x.State), Severity: string(x.Severity),
			Confidence: x.Confidence, Since: x.Since, Summary: x.Summary, Action: x.Action, Count: g.Count, GPUHours: g.GPUHours}
		for _, e := range x.Evidence {
			w.Evidence = append(w.Evidence, web.Evidence{Signal: e.Signal, Value: e.Text(), Query: e.Query})
		}
		out = append(out, w)
	}
	if len(out) == 0 && healthy == 0 {
		return out
	}
	return append(out, web.Finding{State: "healthy", Severity: "info", Count: healthy,
		Subject: strconv.Itoa(healthy) + " healthy subjects hidden"})
}

// clusterName names a subject's cluster where several show: its cluster
// label, or cluster.Unnamed for series without one.
func clusterName(c string) string {
	if c == "" {
		return cluster.Unnamed
	}
	return c
}
