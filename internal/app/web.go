package app

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/servescope/servescope/internal/analyze/cost"
	"github.com/servescope/servescope/internal/analyze/diagnose"
	"github.com/servescope/servescope/internal/analyze/query"
	"github.com/servescope/servescope/internal/present/api"
	"github.com/servescope/servescope/internal/present/web"
	"github.com/servescope/servescope/internal/schema"
)

// webOptions are what the dashboard reads and how.
type webOptions struct {
	Querier query.Querier
	Catalog *schema.Catalog
	// Thresholds drive the findings and mark the GPU quadrant.
	Thresholds diagnose.Thresholds
	// Calc attributes cost; nil makes the cost panels say "not available"
	// (NewCostCalculator builds one).
	Calc *cost.Calculator
	// Recorded reads the catalog's recorded series (servescope:*) instead
	// of the full queries over raw series: true where the backend
	// evaluates the catalog's rules, as the embedded rule manager and the
	// backfill do.
	Recorded bool
	Logger   *slog.Logger
}

// mountWeb serves the dashboard at / on the API's mux, with the findings
// of the diagnosis and the cost panels.
func mountWeb(a *api.API, o webOptions) error {
	logger := o.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	th := o.Thresholds
	d, err := diagnose.New(diagnose.Options{Querier: o.Querier, Catalog: o.Catalog, Thresholds: th, Recorded: o.Recorded, Logger: logger})
	if err != nil {
		return fmt.Errorf("mount dashboard: %w", err)
	}
	opts := web.Options{
		Querier: o.Querier, Catalog: o.Catalog, Recorded: o.Recorded, Logger: logger, Findings: diagnosisFindings{d},
		Regions: web.Regions{IdleBusy: th.IdleBusy, BoundBusy: th.MemoryBoundBusy, BoundDRAM: th.MemoryBoundDRAM},
	}
	if o.Calc != nil {
		opts.Costs = teamCosts{calc: o.Calc, q: o.Querier}
	}
	h, err := web.New(opts)
	if err != nil {
		return fmt.Errorf("mount dashboard: %w", err)
	}
	a.Handle("/", h)
	return nil
}

// diagnosisFindings adapts the diagnosis to the dashboard's Findings.
type diagnosisFindings struct{ d *diagnose.Diagnoser }

func (f diagnosisFindings) Findings(ctx context.Context, now time.Time, window time.Duration) ([]web.Finding, error) {
	r, err := f.d.Diagnose(ctx, now, window)
	if err != nil {
		return nil, err
	}
	return webFindings(r), nil
}

// webFindings converts a diagnosis' findings for the dashboard.
func webFindings(r *diagnose.Report) []web.Finding {
	out := make([]web.Finding, 0, len(r.Findings))
	for _, x := range r.Findings {
		subject := x.Subject.String()
		if subject == "" {
			subject = string(x.Subject.Level)
		}
		w := web.Finding{Subject: subject, State: string(x.State), Severity: string(x.Severity),
			Confidence: x.Confidence, Since: x.Since, Summary: x.Summary, Action: x.Action}
		for _, e := range x.Evidence {
			w.Evidence = append(w.Evidence, web.Evidence{Signal: e.Signal, Value: e.Text(), Query: e.Query})
		}
		out = append(out, w)
	}
	return out
}

// teamCosts adapts cost attribution to the dashboard's Costs: one row per
// team, then the fleet's unshared idle hours as __idle__.
type teamCosts struct {
	calc *cost.Calculator
	q    query.Querier
}

func (c teamCosts) TeamCosts(ctx context.Context, now time.Time, window time.Duration) ([]web.TeamCost, error) {
	r, err := c.calc.Compute(ctx, c.q, cost.Request{Start: now.Add(-window), End: now})
	if err != nil {
		return nil, err
	}
	var out []web.TeamCost
	for _, set := range r.Sets {
		as := set.Allocations
		if set.Idle != nil {
			as = append(as, *set.Idle)
		}
		for _, a := range as {
			tc := web.TeamCost{Team: a.Name, Reserved: a.ReservedGPUHours, Allocated: a.AllocatedGPUHours,
				Used: a.UsedGPUHours, Idle: a.IdleGPUHours}
			if len(a.Unpriced) == 0 || a.Cost != 0 {
				tc.Cost = a.Cost.Cents() + " " + r.Currency
				tc.IdleCost = a.IdleCost.Cents() + " " + r.Currency
			}
			out = append(out, tc)
		}
	}
	return out, nil
}
