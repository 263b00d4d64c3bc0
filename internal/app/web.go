package app

import (
	"context"
	"fmt"
	"log/slog"
	"strconv"
	"time"

	"github.com/servescope/servescope/internal/analyze/cost"
	"github.com/servescope/servescope/internal/analyze/diagnose"
	"github.com/servescope/servescope/internal/analyze/query"
	"github.com/servescope/servescope/internal/present/api"
	"github.com/servescope/servescope/internal/present/web"
	"github.com/servescope/servescope/internal/schema"
)

// mountWeb serves the dashboard at / on the API's mux, reading through q
// with the catalog's queries. The findings come from the diagnosis (with
// thresholds th, also marked on the GPU quadrant); the cost panels
// from calc, and say "not available" when it is nil (NewCostCalculator
// builds one).
func mountWeb(a *api.API, q query.Querier, cat *schema.Catalog, th diagnose.Thresholds, calc *cost.Calculator, logger *slog.Logger) error {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	d, err := diagnose.New(diagnose.Options{Querier: q, Catalog: cat, Thresholds: th, Logger: logger})
	if err != nil {
		return fmt.Errorf("mount dashboard: %w", err)
	}
	opts := web.Options{
		Querier: q, Catalog: cat, Logger: logger, Findings: diagnosisFindings{d},
		Regions: web.Regions{IdleBusy: th.IdleBusy, BoundBusy: th.MemoryBoundBusy, BoundDRAM: th.MemoryBoundDRAM},
	}
	if calc != nil {
		opts.Costs = teamCosts{calc: calc, q: q}
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
			w.Evidence = append(w.Evidence, web.Evidence{Signal: e.Signal,
				Value: strconv.FormatFloat(e.Value, 'g', 4, 64) + " (" + e.Stat + ")", Query: e.Query})
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
